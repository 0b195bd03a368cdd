package wire

import (
	"reflect"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
)

// DecodeSnapHead reads what a full decode reads, for the head fields.
func TestDecodeSnapHeadMatchesFullDecode(t *testing.T) {
	var enc SnapEncoder
	for _, s := range []*game.Snapshot{
		{Tick: 1, Time: time.UnixMilli(1_700_000_000_123), State: game.StateWaiting},
		{Tick: 1 << 40, Time: time.UnixMilli(-5), State: game.StateRunning, Left: 299_966 * time.Millisecond,
			Entities: []game.Entity{{ID: 1, Kind: 1, X: 3, Y: 4, HP: -2}, {ID: 1 << 30, Kind: 2}}, Events: []game.Event{{Kind: 3, A: 1, B: 2}}},
		{Tick: 300, State: game.StateEnded, Left: -1},
	} {
		for _, ack := range []uint32{0, 127, 128, 1 << 31} {
			frame := append(AppendSnapHeader(nil, ack), enc.Encode(s)...)
			var full, head Snap
			if err := NewMessageDecoder().Decode(frame, &full); err != nil {
				t.Fatal(err)
			}
			if err := DecodeSnapHead(frame, &head); err != nil {
				t.Fatal(err)
			}
			full.Ents, full.Ev = nil, nil
			if !reflect.DeepEqual(full, head) {
				t.Fatalf("head %+v, full %+v", head, full)
			}
		}
	}
	if err := DecodeSnapHead([]byte{0x81, 0xa3, 'a', 'c', 'k', 0xc0}, &Snap{}); err == nil {
		t.Fatal("nil ack accepted")
	}
	if err := DecodeSnapHead([]byte{0x92, 1, 2}, &Snap{}); err == nil {
		t.Fatal("array accepted")
	}
}

func BenchmarkDecodeSnapHead(b *testing.B) {
	var enc SnapEncoder
	s := &game.Snapshot{Tick: 99, State: game.StateRunning, Entities: make([]game.Entity, 70)}
	frame := append(AppendSnapHeader(nil, 5), enc.Encode(s)...)
	var head Snap
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := DecodeSnapHead(frame, &head); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSnapFull(b *testing.B) {
	var enc SnapEncoder
	s := &game.Snapshot{Tick: 99, State: game.StateRunning, Entities: make([]game.Entity, 70)}
	frame := append(AppendSnapHeader(nil, 5), enc.Encode(s)...)
	d := NewMessageDecoder()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var full Snap
		if err := d.Decode(frame, &full); err != nil {
			b.Fatal(err)
		}
	}
}

// Truncated or damaged frames are refused, never a panic.
func TestDecodeSnapHeadDamaged(t *testing.T) {
	var enc SnapEncoder
	s := &game.Snapshot{Tick: 7, State: game.StateRunning, Entities: make([]game.Entity, 5), Events: make([]game.Event, 2)}
	frame := append(AppendSnapHeader(nil, 9), enc.Encode(s)...)
	for i := 0; i < len(frame); i++ {
		if err := DecodeSnapHead(frame[:i], &Snap{}); err == nil {
			t.Fatalf("prefix of %d bytes accepted", i)
		}
		bad := append([]byte(nil), frame...)
		bad[i] ^= 0xff
		_ = DecodeSnapHead(bad, &Snap{}) // must not panic
	}
}
