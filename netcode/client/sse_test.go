package client

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestSSEReaderFollowsTheStandard(t *testing.T) {
	stream := "\xef\xbb\xbfretry: 2000\r\n" +
		": comment\n" +
		"id: 1\nevent: keyframe\ndata: {\"a\":1}\n\n" +
		"data: line one\rdata: line two\r\n\r\n" + // CR and CRLF endings, two data lines
		"id: 3\nevent: delta\ndata:no-space\n\n" +
		"event: ignored\n\n" + // no data: not dispatched
		"id: bad\x00id\ndata: keeps the last id\n\n" +
		"retry: 1x\nunknown: field\ndata\n\n" + // a field without a colon: empty value
		"data: unterminated"
	r := NewSSEReader(strings.NewReader(stream))
	want := []SSEEvent{
		{ID: "1", Event: "keyframe", Data: `{"a":1}`},
		{ID: "1", Event: "message", Data: "line one\nline two"},
		{ID: "3", Event: "delta", Data: "no-space"},
		{ID: "3", Event: "message", Data: "keeps the last id"},
		{ID: "3", Event: "message", Data: ""},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got != w {
			t.Fatalf("event %d = %+v, want %+v", i, got, w)
		}
	}
	if _, err := r.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("after the last event: %v, want ErrUnexpectedEOF (an unterminated event is dropped)", err)
	}
	if r.Retry != 2*time.Second || r.Comments != 1 || r.LastEventID() != "3" {
		t.Fatalf("retry %v, comments %d, last id %q", r.Retry, r.Comments, r.LastEventID())
	}
}
