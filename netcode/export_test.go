package netcode

// IOURingAvailable is ioURingAvailable, for the external tests.
var IOURingAvailable = ioURingAvailable
