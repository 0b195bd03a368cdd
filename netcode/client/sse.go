package client

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// SSEEvent is one dispatched Server-Sent Event.
type SSEEvent struct {
	ID    string // the last event ID when this event was dispatched
	Event string // "message" when the stream named none
	Data  string // data lines joined with "\n"
}

// SSEReader parses a text/event-stream as the HTML standard's
// event-stream interpretation does: lines end in CRLF, LF or CR; a leading
// BOM is dropped; comments start with ':'; "field: value" with one optional
// space; data lines accumulate; an empty line dispatches; an event with no
// data is not dispatched; id with a NUL is ignored; retry takes digits only.
type SSEReader struct {
	r     *bufio.Reader
	first bool

	lastID   string
	Retry    time.Duration // the latest retry: field (0 if none)
	Comments int           // comment lines seen (keep-alives)

	event string
	data  strings.Builder
	has   bool // data buffer non-empty (at least one data line)
}

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, 64<<10), first: true}
}

// LastEventID is the id a reconnection sends as Last-Event-ID.
func (s *SSEReader) LastEventID() string { return s.lastID }

// readLine returns one line without its terminator (CRLF, LF or CR).
func (s *SSEReader) readLine() ([]byte, error) {
	var line []byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return nil, io.ErrUnexpectedEOF // an unterminated last line is not dispatched
			}
			return nil, err
		}
		switch b {
		case '\n':
			return line, nil
		case '\r':
			if nb, err := s.r.Peek(1); err == nil && nb[0] == '\n' {
				s.r.ReadByte()
			}
			return line, nil
		}
		line = append(line, b)
	}
}

// Next returns the next dispatched event.
func (s *SSEReader) Next() (SSEEvent, error) {
	for {
		line, err := s.readLine()
		if err != nil {
			return SSEEvent{}, err
		}
		if s.first {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			s.first = false
		}
		if len(line) == 0 {
			if !s.has {
				s.event = ""
				continue
			}
			ev := SSEEvent{ID: s.lastID, Event: s.event, Data: s.data.String()}
			if ev.Event == "" {
				ev.Event = "message"
			}
			s.event, s.has = "", false
			s.data.Reset()
			return ev, nil
		}
		if line[0] == ':' {
			s.Comments++
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			s.event = string(value)
		case "data":
			if s.has {
				s.data.WriteByte('\n')
			}
			s.data.Write(value)
			s.has = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 63); err == nil && isDigits(value) {
				s.Retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
