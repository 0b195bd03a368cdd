package wire

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
)

// mp encodes v with msgpack as another-language client would.
func mp(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// inputFrame is a valid input message with some fields replaced.
func inputFrame(over map[string]any) []byte {
	m := map[string]any{"t": "input", "seq": 1, "mx": 0.0, "my": 0.0, "aim": 0.0, "buttons": 0}
	for k, v := range over {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return mp(m)
}

// joinWith is a join map for "bob" with one more key whose value is raw.
func joinWith(key string, raw []byte) []byte {
	b := []byte{0x83}
	b = appendStr(b, "t")
	b = appendStr(b, TypeJoin)
	b = appendStr(b, "name")
	b = appendStr(b, "bob")
	b = appendStr(b, key)
	return append(b, raw...)
}

// refusal asserts that err is an *Error with code and a reason that fits a
// close frame.
func refusal(t *testing.T, err error, code CloseCode) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error with code %d", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %d (%q), want %d", e.Code, e.Reason, code)
	}
	checkReason(t, e)
}

// checkReason: a close frame carries at most 123 bytes of valid UTF-8.
func checkReason(t *testing.T, e *Error) {
	t.Helper()
	if len(e.Reason) > 123 || len(e.Reason) == 0 || !utf8.ValidString(e.Reason) {
		t.Errorf("reason %q (%d bytes): want 1…123 bytes of valid UTF-8", e.Reason, len(e.Reason))
	}
}

func TestDecodeValid(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		want  ClientMsg
	}{
		{"EncodeJoin auto", EncodeJoin("bob", ""), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"EncodeJoin match", EncodeJoin("Zoë 🎮", "k3v9q2xa"), ClientMsg{T: TypeJoin, Name: "Zoë 🎮", Match: "k3v9q2xa"}},
		{"EncodeJoin str8 name", EncodeJoin(strings.Repeat("n", 40), ""), ClientMsg{T: TypeJoin, Name: strings.Repeat("n", 40)}},
		{"join map", mp(map[string]any{"t": "join", "name": "bob", "match": "m1"}),
			ClientMsg{T: TypeJoin, Name: "bob", Match: "m1"}},
		{"join without match", mp(map[string]any{"t": "join", "name": "bob"}), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"join with nil match", mp(map[string]any{"t": "join", "name": "bob", "match": nil}), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"join name as bin", mp(map[string]any{"t": "join", "name": []byte("bob")}), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"join with unknown keys", mp(map[string]any{
			"t": "join", "name": "bob", "v": 2, "client": "rust/0.1", "opts": map[string]any{"x": []any{1, 2.5, "z", nil}},
			"blob": []byte{1, 2, 3}, "flag": true, "neg": -70000,
		}), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"join map16", cat(hx("de 00 02"), mp("t"), mp("join"), mp("name"), mp("bob")), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"join map32", cat(hx("df 00 00 00 02"), mp("t"), mp("join"), mp("name"), mp("bob")), ClientMsg{T: TypeJoin, Name: "bob"}},
		{"join str32 key and value", cat(hx("82 a1 74 a4"), []byte("join"), hx("db 00 00 00 04"), []byte("name"),
			hx("db 00 00 00 03"), []byte("bob")), ClientMsg{T: TypeJoin, Name: "bob"}},

		{"AppendInput", AppendInput(nil, InputMsg{Seq: 7, MX: 0.25, MY: -1, Aim: 1.5, Buttons: 1}),
			ClientMsg{T: TypeInput, Seq: 7, MX: 0.25, MY: -1, Aim: 1.5, Buttons: 1}},
		{"AppendInput max seq", AppendInput(nil, InputMsg{Seq: math.MaxUint32, MX: 1, MY: 1, Aim: -math.Pi}),
			ClientMsg{T: TypeInput, Seq: math.MaxUint32, MX: 1, MY: 1, Aim: -math.Pi}},
		{"input with integers for floats", mp(map[string]any{"t": "input", "seq": 3, "mx": 1, "my": -1, "aim": 0, "buttons": 1}),
			ClientMsg{T: TypeInput, Seq: 3, MX: 1, MY: -1, Buttons: 1}},
		{"input with float32 values", mp(map[string]any{"t": "input", "seq": uint32(9), "mx": float32(0.5), "my": float32(-0.75),
			"aim": float32(math.Pi), "buttons": uint8(1)}),
			ClientMsg{T: TypeInput, Seq: 9, MX: 0.5, MY: -0.75, Aim: Number(float32(math.Pi)), Buttons: 1}},
		{"input with int64 and uint64 encodings", cat(hx("84 a1 74 a5"), []byte("input"), hx("a3"), []byte("seq"),
			hx("cf 00 00 00 00 00 00 00 05"), hx("a2"), []byte("mx"), hx("d3 ff ff ff ff ff ff ff ff"),
			hx("a7"), []byte("buttons"), hx("d0 01")),
			ClientMsg{T: TypeInput, Seq: 5, MX: -1, Buttons: 1}},
		{"input with unknown keys", mp(map[string]any{"t": "input", "seq": 2, "mx": 0.5, "ts": 123456789, "dbg": []any{"a", 1}}),
			ClientMsg{T: TypeInput, Seq: 2, MX: 0.5}},
		{"input missing keys take zero", mp(map[string]any{"t": "input"}), ClientMsg{T: TypeInput}},
	}
	d := NewDecoder()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ClientMsg{Name: "stale", Seq: 99, MX: 0.9} // Decode resets it
			if err := d.Decode(c.frame, &m); err != nil {
				t.Fatalf("Decode(% x) = %v", head(c.frame), err)
			}
			if m != c.want {
				t.Fatalf("Decode = %+v, want %+v", m, c.want)
			}
		})
	}
}

func TestDecodeRefused(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		code  CloseCode
	}{
		// Malformed.
		{"empty", nil, CloseBadMessage},
		{"c1", hx("c1"), CloseBadMessage},
		{"c1 in join", joinWith("x", hx("c1")), CloseBadMessage},
		{"truncated join", func() []byte { b := EncodeJoin("bob", ""); return b[:len(b)-1] }(), CloseBadMessage},
		{"truncated input", func() []byte { b := AppendInput(nil, InputMsg{Seq: 1}); return b[:len(b)-3] }(), CloseBadMessage},
		{"trailing byte", append(EncodeJoin("bob", ""), 0), CloseBadMessage},
		{"two messages", cat(EncodeJoin("bob", ""), EncodeJoin("bob", "")), CloseBadMessage},
		{"JSON text", []byte(`{"t":"join","name":"bob"}`), CloseBadMessage},
		{"plain text", []byte("hello, server"), CloseBadMessage},
		{"ext", joinWith("x", hx("d4 01 00")), CloseBadMessage},
		{"too deep", joinWith("x", hx("91 91 91 91 c0")), CloseBadMessage},
		// Not a map.
		{"array", mp([]any{"join", "bob"}), CloseBadMessage},
		{"array as struct", mp([]any{"join", "bob", ""}), CloseBadMessage},
		{"int", hx("01"), CloseBadMessage},
		{"string", mp("join"), CloseBadMessage},
		{"nil", hx("c0"), CloseBadMessage},
		{"bin", mp([]byte("join")), CloseBadMessage},
		// Type mismatches.
		{"t as int", mp(map[string]any{"t": 1}), CloseBadMessage},
		{"t as array", mp(map[string]any{"t": []string{"join"}}), CloseBadMessage},
		{"name as int", mp(map[string]any{"t": "join", "name": 5}), CloseBadMessage},
		{"name as map", mp(map[string]any{"t": "join", "name": map[string]any{"first": "bob"}}), CloseBadMessage},
		{"match as bool", mp(map[string]any{"t": "join", "name": "bob", "match": true}), CloseBadMessage},
		{"seq as string", inputFrame(map[string]any{"seq": "1"}), CloseBadMessage},
		{"seq as float", inputFrame(map[string]any{"seq": 1.0}), CloseBadMessage},
		{"mx as string", inputFrame(map[string]any{"mx": "0.5"}), CloseBadMessage},
		{"aim as bool", inputFrame(map[string]any{"aim": false}), CloseBadMessage},
		{"buttons as float", inputFrame(map[string]any{"buttons": 1.0}), CloseBadMessage},
		{"buttons as array", inputFrame(map[string]any{"buttons": []int{1}}), CloseBadMessage},
		{"int key", hx("81 01 02"), CloseBadMessage},
		{"map key", hx("81 80 02"), CloseBadMessage},
		// Unknown types.
		{"dance", mp(map[string]any{"t": "dance"}), CloseUnknownType},
		{"JOIN", mp(map[string]any{"t": "JOIN", "name": "bob"}), CloseUnknownType},
		{"no t", mp(map[string]any{"name": "bob"}), CloseUnknownType},
		{"t nil", mp(map[string]any{"t": nil, "name": "bob"}), CloseUnknownType},
		{"empty map", hx("80"), CloseUnknownType},
		{"server type", mp(map[string]any{"t": "snap"}), CloseUnknownType},
		{"long control type", mp(map[string]any{"t": strings.Repeat("\x00", 200)}), CloseUnknownType},
		{"long format-char type", mp(map[string]any{"t": strings.Repeat("\u200b", 100)}), CloseUnknownType},
		{"long invalid UTF-8 type", mp(map[string]any{"t": strings.Repeat("\xff", 300)}), CloseUnknownType},
		{"long multibyte type", mp(map[string]any{"t": strings.Repeat("日本", 100)}), CloseUnknownType},
	}
	for name, b := range pitfalls {
		cases = append(cases, struct {
			name  string
			frame []byte
			code  CloseCode
		}{"pitfall " + name, b, CloseBadMessage})
	}
	d := NewDecoder()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m ClientMsg
			refusal(t, d.Decode(c.frame, &m), c.code)
		})
	}
	// The decoder still works after every kind of refusal.
	var m ClientMsg
	if err := d.Decode(EncodeJoin("bob", ""), &m); err != nil || m.Name != "bob" {
		t.Fatalf("Decode after refusals = %+v, %v", m, err)
	}
}

func TestInput(t *testing.T) {
	const p = game.PlayerID(3)
	accepted := []struct {
		name  string
		frame []byte
		want  game.Input
	}{
		{"zero", inputFrame(nil), game.Input{Player: p, Seq: 1}},
		{"max seq", inputFrame(map[string]any{"seq": uint32(math.MaxUint32)}), game.Input{Player: p, Seq: math.MaxUint32}},
		{"corners as ints", inputFrame(map[string]any{"mx": 1, "my": -1}), game.Input{Player: p, Seq: 1, MoveX: 1, MoveY: -1}},
		{"corners as floats", inputFrame(map[string]any{"mx": -1.0, "my": 1.0}), game.Input{Player: p, Seq: 1, MoveX: -1, MoveY: 1}},
		{"float32 move", inputFrame(map[string]any{"mx": float32(0.1), "my": float32(-0.3)}),
			game.Input{Player: p, Seq: 1, MoveX: float64(float32(0.1)), MoveY: float64(float32(-0.3))}},
		{"aim pi", inputFrame(map[string]any{"aim": math.Pi}), game.Input{Player: p, Seq: 1, Aim: math.Pi}},
		{"aim -pi", inputFrame(map[string]any{"aim": -math.Pi}), game.Input{Player: p, Seq: 1, Aim: -math.Pi}},
		{"aim float32 pi clamped", inputFrame(map[string]any{"aim": float32(math.Pi)}), game.Input{Player: p, Seq: 1, Aim: math.Pi}},
		{"aim float32 -pi clamped", inputFrame(map[string]any{"aim": float32(-math.Pi)}), game.Input{Player: p, Seq: 1, Aim: -math.Pi}},
		{"aim in tolerance clamped", inputFrame(map[string]any{"aim": math.Pi + 0.0009}), game.Input{Player: p, Seq: 1, Aim: math.Pi}},
		{"aim as int", inputFrame(map[string]any{"aim": -3}), game.Input{Player: p, Seq: 1, Aim: -3}},
		{"fire", inputFrame(map[string]any{"buttons": 1}), game.Input{Player: p, Seq: 1, Buttons: game.ButtonFire}},
		{"negative zero", inputFrame(map[string]any{"mx": math.Copysign(0, -1)}), game.Input{Player: p, Seq: 1}},
	}
	d := NewDecoder()
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			var m ClientMsg
			if err := d.Decode(c.frame, &m); err != nil {
				t.Fatal(err)
			}
			in, err := m.Input(p)
			if err != nil {
				t.Fatalf("Input() = %v", err)
			}
			if in != c.want {
				t.Fatalf("Input() = %+v, want %+v", in, c.want)
			}
		})
	}

	nan, inf := math.NaN(), math.Inf(1)
	refused := []struct {
		name string
		over map[string]any
	}{
		{"seq 0", map[string]any{"seq": 0}},
		{"seq missing", map[string]any{"seq": nil}},
		{"seq 2^32", map[string]any{"seq": int64(1) << 32}},
		{"seq -1", map[string]any{"seq": -1}},
		{"seq min int64", map[string]any{"seq": int64(math.MinInt64)}},
		{"seq max uint64", map[string]any{"seq": uint64(math.MaxUint64)}},
		{"seq 2^63", map[string]any{"seq": uint64(1) << 63}},
		{"mx 1.5", map[string]any{"mx": 1.5}},
		{"mx 2", map[string]any{"mx": 2}},
		{"mx just over 1", map[string]any{"mx": math.Nextafter(1, 2)}},
		{"my -1.01", map[string]any{"my": -1.01}},
		{"my float32 -1.01", map[string]any{"my": float32(-1.01)}},
		{"my -2 int", map[string]any{"my": -2}},
		{"aim 3.2", map[string]any{"aim": 3.2}},
		{"aim -3.2", map[string]any{"aim": -3.2}},
		{"aim pi+0.0011", map[string]any{"aim": math.Pi + 0.0011}},
		{"aim 4 int", map[string]any{"aim": 4}},
		{"aim huge", map[string]any{"aim": 1e300}},
		{"buttons 2", map[string]any{"buttons": 2}},
		{"buttons 3", map[string]any{"buttons": 3}},
		{"buttons 256", map[string]any{"buttons": 256}},
		{"buttons -1", map[string]any{"buttons": -1}},
		{"buttons max uint64", map[string]any{"buttons": uint64(math.MaxUint64)}},
	}
	for _, f := range []string{"mx", "my", "aim"} {
		refused = append(refused,
			struct {
				name string
				over map[string]any
			}{f + " NaN", map[string]any{f: nan}},
			struct {
				name string
				over map[string]any
			}{f + " float32 NaN", map[string]any{f: float32(nan)}},
			struct {
				name string
				over map[string]any
			}{f + " +Inf", map[string]any{f: inf}},
			struct {
				name string
				over map[string]any
			}{f + " -Inf", map[string]any{f: -inf}},
			struct {
				name string
				over map[string]any
			}{f + " float32 -Inf", map[string]any{f: float32(-inf)}},
		)
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			var m ClientMsg
			if err := d.Decode(inputFrame(c.over), &m); err != nil {
				t.Fatalf("Decode = %v, want a decoded message", err)
			}
			in, err := m.Input(p)
			refusal(t, err, CloseBadInput)
			if in != (game.Input{}) {
				t.Errorf("refused Input() returned %+v", in)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	cases := []struct {
		in, want string // want "" means refused with CloseBadName
	}{
		{"bob", "bob"},
		{"  bob  ", "bob"},
		{"\t bob\n", "bob"},
		{"b o b", "b o b"},
		{"Zoë", "Zoë"},
		{"a", "a"},
		{strings.Repeat("x", 24), strings.Repeat("x", 24)},
		{strings.Repeat("日", 24), strings.Repeat("日", 24)}, // 72 bytes, 24 runes
		{strings.Repeat("🎮", 24), strings.Repeat("🎮", 24)}, // 96 bytes, 24 runes
		{"  " + strings.Repeat("é", 24) + "  ", strings.Repeat("é", 24)},
		{"", ""},
		{"   ", ""},
		{"\u3000", ""}, // ideographic space only
		{strings.Repeat("x", 25), ""},
		{strings.Repeat("日", 25), ""},
		{"\x00ab", ""},
		{"a\tb", ""},
		{"a\nb", ""},
		{"a\x7fb", ""},
		{"a\u0085b", ""}, // C1 control
		{"a\u200bb", ""}, // zero width space, a format character
		{"a\u202eb", ""}, // right-to-left override
		{"a\ufeffb", ""}, // byte order mark
		{"\xff", ""},
		{"bob\xff", ""},
		{"\xc3", ""},         // truncated sequence
		{"\xed\xa0\x80", ""}, // surrogate
	}
	for _, c := range cases {
		got, err := ValidName(c.in)
		if c.want == "" {
			if got != "" {
				t.Errorf("ValidName(%q) = %q, want refused", c.in, got)
			}
			refusal(t, err, CloseBadName)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ValidName(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
}

// TestRefusalReasonsFit collects the reasons of many refusals, including
// the longest the code can produce, and checks each fits a close frame.
func TestRefusalReasonsFit(t *testing.T) {
	frames := [][]byte{
		mp(map[string]any{"t": strings.Repeat("\x01", 500)}),
		mp(map[string]any{"t": strings.Repeat("\u200b", 170)}),
		mp(map[string]any{"t": strings.Repeat("é", 250)}),
		mp(map[string]any{"t": strings.Repeat("\xc3", 500)}),
		mp(map[string]any{"t": strings.Repeat("a", 500)}),
		mp(map[string]any{"t": "join", "name": map[string]any{strings.Repeat("k", 200): 1}}),
		mp(map[string]any{strings.Repeat("\x00", 300): "x", "t": 7}),
		joinWith(strings.Repeat("\xff", 200), hx("c1")),
		hx("c1"), nil, hx("dd ff ff ff ff"), hx("91 91 91 91 91 c0"), hx("d4 00 00"), hx("01 02"),
	}
	d := NewDecoder()
	var m ClientMsg
	n := 0
	for _, f := range frames {
		err := d.Decode(f, &m)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode(% x) = %v, want *Error", head(f), err)
		}
		checkReason(t, e)
		n++
	}
	for _, s := range []string{"", strings.Repeat("w", 1000), "\xff\xfe", "a\x00b"} {
		_, err := ValidName(s)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("ValidName(%q) = %v", s, err)
		}
		checkReason(t, e)
		n++
	}
	for _, m := range []ClientMsg{{}, {Seq: 1, MX: Number(math.NaN())}, {Seq: 1, Aim: 9}, {Seq: 1, Buttons: -8}} {
		_, err := m.Input(1)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Input(%+v) = %v", m, err)
		}
		checkReason(t, e)
		n++
	}
	if n == 0 {
		t.Fatal("no refusals checked")
	}
}

// hostileFrames are hostile msgpack headers and variants: map32, array32,
// str32 and bin32 headers claiming 0xffffffff, alone and inside a valid
// join map, with and without bytes after them.
func hostileFrames() map[string][]byte {
	fs := map[string][]byte{}
	for name, b := range pitfalls {
		fs[name] = b
		fs[name+" in join"] = joinWith("k", b)
	}
	claims := map[string][]byte{
		"map32":   hx("df ff ff ff ff"),
		"array32": hx("dd ff ff ff ff"),
		"str32":   hx("db ff ff ff ff"),
		"bin32":   hx("c6 ff ff ff ff"),
		"map16":   hx("de ff ff"),
		"array16": hx("dc ff ff"),
		"str16":   hx("da ff ff"),
		"bin16":   hx("c5 ff ff"),
	}
	pad := make([]byte, MaxClientFrame-40)
	for name, c := range claims {
		fs[name+" alone"] = c
		fs[name+" as extra value"] = joinWith("x", c)
		fs[name+" as extra value, padded"] = joinWith("x", cat(c, pad))
		fs[name+" as name"] = cat(hx("82 a1 74 a4"), []byte("join"), hx("a4"), []byte("name"), c)
		fs[name+" as t"] = cat(hx("81 a1 74"), c)
		fs[name+" as key"] = cat(hx("82 a1 74 a4"), []byte("join"), c, hx("01"))
		fs[name+" in array in join"] = joinWith("x", cat(hx("92 01"), c))
		fs[name+" in map in join"] = joinWith("x", cat(hx("81 a1 6b"), c))
	}
	fs["fixmap claims 15 pairs"] = cat(hx("8f a1 74 a4"), []byte("join"))
	fs["map32 claims 4G pairs of a join"] = cat(hx("df ff ff ff ff a1 74 a4"), []byte("join"))
	return fs
}

// TestDecodeMemoryBound: the hostile frames (pitfalls), which make an
// unguarded decoder allocate gigabytes, are refused cheaply.
func TestDecodeMemoryBound(t *testing.T) {
	const (
		iterations = 200
		limit      = 64 << 10 // bytes per decode
	)
	d := NewDecoder()
	var m ClientMsg
	for name, f := range hostileFrames() {
		// One decode first: a refusal, not a panic.
		refusal(t, d.Decode(f, &m), CloseBadMessage)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < iterations; i++ {
			if err := d.Decode(f, &m); err == nil {
				t.Fatalf("%s: accepted", name)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / iterations; per > limit {
			t.Errorf("%s (% x): %d bytes allocated per decode, limit %d", name, head(f), per, limit)
		}
		if allocs := testing.AllocsPerRun(20, func() { _ = d.Decode(f, &m) }); allocs > 10 {
			t.Errorf("%s: %v allocations per decode", name, allocs)
		}
	}
}

// A uint64 of 2^63 or more must not wrap into an accepted negative value.
func TestHugeUintFloatRefused(t *testing.T) {
	d := NewDecoder()
	var m ClientMsg
	frame := mp(map[string]any{"t": "input", "seq": 1, "mx": uint64(math.MaxUint64), "my": 0, "aim": 0, "buttons": 0})
	if err := d.Decode(frame, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Input(1); err == nil {
		t.Fatalf("mx = 2^64-1 decoded as %v and accepted", m.MX)
	}
}
