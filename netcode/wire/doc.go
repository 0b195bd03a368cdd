// Package wire is the Tickstream wire protocol, version 1: message types,
// close codes, limits, the guarded decoder for client frames and the
// encoders of server frames. docs/protocol.md is its human-readable
// contract; the two change together.
//
// Decoding bytes from the network goes through Check first: msgpack headers
// declare lengths up front and vmihailenco/msgpack pre-allocates from them,
// so a 9-byte frame can ask for gigabytes (v5.4.0 and v5.4.1: measured, the
// process died under a 6 GB limit on 81 a1 6b dd ff ff ff ff). Check
// walks the headers and refuses any length that does not fit the bytes
// present, any nesting deeper than MaxDepth and any ext type, before a
// decoder sees the frame.
//
// Everything in this package is safe for concurrent use unless a type says
// otherwise.
package wire
