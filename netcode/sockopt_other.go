//go:build !linux

package netcode

import "net"

func setNotSentLowat(*net.TCPConn, int) error { return nil }
