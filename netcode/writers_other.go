//go:build !linux

package netcode

import "time"

// Without Linux, the writer pool makes one write per session.

type sendBatch struct{}

func ioURingAvailable() bool { return false }

func newSendBatch() *sendBatch { return nil }

func (*sendBatch) run([]*session, time.Time) {}
