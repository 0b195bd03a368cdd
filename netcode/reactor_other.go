//go:build !linux

package netcode

import (
	"errors"
	"syscall"
)

// Without Linux's epoll, every player connection keeps coder/websocket's
// goroutine reader.

type reactor struct{}

func rawPathAvailable() bool { return false }

func attachReactor(*session) bool { return false }

func detachReactor(*session) {}

// tryWriteLocked is never called without the raw path.
func (w *wsRaw) tryWriteLocked([]byte) (bool, error) { panic("netcode: no raw path") }

// writeOnce is never called without the raw path.
func (w *wsRaw) writeOnce([]byte) (int, error) { panic("netcode: no raw path") }

// keepRest is never called without the raw path.
func (w *wsRaw) keepRest([]byte, int) bool { panic("netcode: no raw path") }

// dupFD is never called without the raw path.
func dupFD(syscall.RawConn) (int, error) { return -1, errors.New("netcode: no raw path") }

// closeFD is never called without the raw path.
func closeFD(int) error { return nil }
