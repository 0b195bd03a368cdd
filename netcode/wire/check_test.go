package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// hx parses space-separated hex, e.g. hx("81 a1 6b 01").
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// pitfalls are hostile byte strings measured against msgpack/v5 v5.4.x
// (e.g. 81 a1 6b dd ff ff ff ff: a map whose field claims 4 billion
// elements): each makes an
// unguarded msgpack decoder allocate from a declared length it cannot have.
var pitfalls = map[string][]byte{
	"map{k: array32(4G)}": hx("81 a1 6b dd ff ff ff ff"),
	"array32(4G)":         hx("dd ff ff ff ff"),
	"map32(4G)":           hx("df ff ff ff ff"),
}

type checkCase struct {
	name  string
	b     []byte
	depth int   // 0 means MaxDepth
	want  error // nil: accepted
}

func checkCases() []checkCase {
	s255 := strings.Repeat("x", 255)
	s300 := strings.Repeat("y", 300)
	arr20 := []byte{0xdc, 0x00, 20}
	for i := 0; i < 20; i++ {
		arr20 = append(arr20, byte(i))
	}
	map17 := []byte{0xde, 0x00, 17}
	for i := 0; i < 17; i++ {
		map17 = append(map17, 0xa1, 'a'+byte(i), byte(i))
	}
	deep := func(n int, open byte) []byte { // n nested one-element containers around nil
		b := bytes.Repeat([]byte{open}, n)
		if open&0xf0 == 0x80 { // a fixmap needs a key before each value
			b = nil
			for i := 0; i < n; i++ {
				b = append(b, 0x81, 0xa1, 'k')
			}
		}
		return append(b, 0xc0)
	}

	cs := []checkCase{
		// Scalars of every format.
		{name: "positive fixint 0", b: hx("00")},
		{name: "positive fixint 127", b: hx("7f")},
		{name: "negative fixint -32", b: hx("e0")},
		{name: "negative fixint -1", b: hx("ff")},
		{name: "nil", b: hx("c0")},
		{name: "false", b: hx("c2")},
		{name: "true", b: hx("c3")},
		{name: "uint8", b: hx("cc ff")},
		{name: "uint16", b: hx("cd ff ff")},
		{name: "uint32", b: hx("ce ff ff ff ff")},
		{name: "uint64", b: hx("cf ff ff ff ff ff ff ff ff")},
		{name: "int8", b: hx("d0 80")},
		{name: "int16", b: hx("d1 80 00")},
		{name: "int32", b: hx("d2 80 00 00 00")},
		{name: "int64", b: hx("d3 80 00 00 00 00 00 00 00")},
		{name: "float32", b: hx("ca 40 49 0f db")},
		{name: "float64", b: hx("cb 40 09 21 fb 54 44 2d 18")},
		{name: "float64 NaN", b: hx("cb 7f f8 00 00 00 00 00 01")},
		// Strings and binaries.
		{name: "fixstr empty", b: hx("a0")},
		{name: "fixstr 3", b: cat(hx("a3"), []byte("abc"))},
		{name: "fixstr 31", b: cat(hx("bf"), bytes.Repeat([]byte("z"), 31))},
		{name: "str8 empty", b: hx("d9 00")},
		{name: "str8 3", b: cat(hx("d9 03"), []byte("abc"))},
		{name: "str8 255", b: cat(hx("d9 ff"), []byte(s255))},
		{name: "str16 3", b: cat(hx("da 00 03"), []byte("abc"))},
		{name: "str16 300", b: cat(hx("da 01 2c"), []byte(s300))},
		{name: "str32 3", b: cat(hx("db 00 00 00 03"), []byte("abc"))},
		{name: "str32 empty", b: hx("db 00 00 00 00")},
		{name: "bin8 empty", b: hx("c4 00")},
		{name: "bin8 3", b: hx("c4 03 01 02 03")},
		{name: "bin16 3", b: hx("c5 00 03 01 02 03")},
		{name: "bin32 3", b: hx("c6 00 00 00 03 01 02 03")},
		// Containers.
		{name: "fixarray empty", b: hx("90")},
		{name: "fixarray 3", b: hx("93 01 02 03")},
		{name: "fixarray 15", b: cat(hx("9f"), bytes.Repeat([]byte{0xc0}, 15))},
		{name: "array16 empty", b: hx("dc 00 00")},
		{name: "array16 2", b: hx("dc 00 02 01 02")},
		{name: "array16 20", b: arr20},
		{name: "array32 2", b: hx("dd 00 00 00 02 01 02")},
		{name: "array32 empty", b: hx("dd 00 00 00 00")},
		{name: "fixmap empty", b: hx("80")},
		{name: "fixmap 1", b: hx("81 a1 6b 01")},
		{name: "fixmap 15", b: cat(hx("8f"), bytes.Repeat(hx("c0 c0"), 15))},
		{name: "map16 1", b: hx("de 00 01 a1 6b 01")},
		{name: "map16 17", b: map17},
		{name: "map16 empty", b: hx("de 00 00")},
		{name: "map32 1", b: hx("df 00 00 00 01 a1 6b 01")},
		{name: "map32 empty", b: hx("df 00 00 00 00")},
		{name: "map with every scalar", b: cat(hx("86 a1 61 c0 a1 62 c3 a1 63 cb 3f f0 00 00 00 00 00 00"),
			hx("a1 64 ca 3f 80 00 00 a1 65 d3 ff ff ff ff ff ff ff ff a1 66 c4 01 00"))},
		{name: "nested depth 4 arrays", b: deep(4, 0x91)},
		{name: "nested depth 4 maps", b: deep(4, 0x81)},
		{name: "nested depth 1 with limit 1", b: hx("91 01"), depth: 1},
		{name: "scalar with limit -1", b: hx("01"), depth: -1},

		// Truncated headers and bodies.
		{name: "empty", b: nil, want: errTruncated},
		{name: "uint8 truncated", b: hx("cc"), want: errTruncated},
		{name: "uint16 truncated", b: hx("cd 01"), want: errTruncated},
		{name: "uint32 truncated", b: hx("ce 00 00 00"), want: errTruncated},
		{name: "uint64 truncated", b: hx("cf 00 00 00 00 00 00 00"), want: errTruncated},
		{name: "int8 truncated", b: hx("d0"), want: errTruncated},
		{name: "int16 truncated", b: hx("d1 00"), want: errTruncated},
		{name: "int32 truncated", b: hx("d2 00 00"), want: errTruncated},
		{name: "int64 truncated", b: hx("d3"), want: errTruncated},
		{name: "float32 truncated", b: hx("ca 00 00 00"), want: errTruncated},
		{name: "float64 truncated", b: hx("cb 00 00 00 00 00 00 00"), want: errTruncated},
		{name: "str8 header truncated", b: hx("d9"), want: errTruncated},
		{name: "str16 header truncated", b: hx("da 00"), want: errTruncated},
		{name: "str32 header truncated", b: hx("db 00 00 00"), want: errTruncated},
		{name: "bin8 header truncated", b: hx("c4"), want: errTruncated},
		{name: "bin16 header truncated", b: hx("c5 00"), want: errTruncated},
		{name: "bin32 header truncated", b: hx("c6 00 00 00"), want: errTruncated},
		{name: "array16 header truncated", b: hx("dc 00"), want: errTruncated},
		{name: "array32 header truncated", b: hx("dd 00 00 00"), want: errTruncated},
		{name: "map16 header truncated", b: hx("de 00"), want: errTruncated},
		{name: "map32 header truncated", b: hx("df 00 00 00"), want: errTruncated},
		{name: "map value missing", b: hx("81 a1 6b"), want: errTruncated},
		{name: "map key truncated", b: hx("81 a3 6b"), want: errTruncated},
		{name: "array element header truncated", b: hx("92 01 cd 00"), want: errTruncated},

		// Declared lengths larger than the bytes left.
		{name: "fixstr 5 of 3", b: cat(hx("a5"), []byte("abc")), want: errTruncated},
		{name: "str8 4 of 3", b: cat(hx("d9 04"), []byte("abc")), want: errTruncated},
		{name: "str8 255 of 0", b: hx("d9 ff"), want: errTruncated},
		{name: "str16 4 of 3", b: cat(hx("da 00 04"), []byte("abc")), want: errTruncated},
		{name: "str16 65535 of 0", b: hx("da ff ff"), want: errTruncated},
		{name: "str32 4 of 3", b: cat(hx("db 00 00 00 04"), []byte("abc")), want: errTruncated},
		{name: "str32 4G", b: hx("db ff ff ff ff"), want: errTruncated},
		{name: "str32 2G", b: hx("db 80 00 00 00 61"), want: errTruncated},
		{name: "str32 2G in array", b: hx("92 db 80 00 00 00 01 02 03 04 05"), want: errTruncated},
		{name: "bin8 4 of 3", b: hx("c4 04 01 02 03"), want: errTruncated},
		{name: "bin16 4 of 3", b: hx("c5 00 04 01 02 03"), want: errTruncated},
		{name: "bin16 65535 of 0", b: hx("c5 ff ff"), want: errTruncated},
		{name: "bin32 4 of 3", b: hx("c6 00 00 00 04 01 02 03"), want: errTruncated},
		{name: "bin32 4G", b: hx("c6 ff ff ff ff"), want: errTruncated},
		{name: "bin32 2G", b: hx("c6 80 00 00 00 00"), want: errTruncated},
		{name: "fixarray 3 of 2", b: hx("93 01 02"), want: errTruncated},
		{name: "array16 3 of 2", b: hx("dc 00 03 01 02"), want: errTruncated},
		{name: "array16 65535", b: hx("dc ff ff"), want: errTruncated},
		{name: "array32 3 of 2", b: hx("dd 00 00 00 03 01 02"), want: errTruncated},
		{name: "array32 4G", b: pitfalls["array32(4G)"], want: errTruncated},
		{name: "array32 4G with bytes", b: cat(hx("dd ff ff ff ff"), bytes.Repeat([]byte{0xc0}, 64)), want: errTruncated},
		{name: "fixmap 2 of 1", b: hx("82 a1 6b 01"), want: errTruncated},
		{name: "map16 2 of 1", b: hx("de 00 02 a1 6b 01"), want: errTruncated},
		{name: "map16 3 pairs in 4 bytes", b: hx("de 00 03 c0 c0 c0 c0"), want: errTruncated},
		{name: "map16 65535", b: hx("de ff ff"), want: errTruncated},
		{name: "map32 2 of 1", b: hx("df 00 00 00 02 a1 6b 01"), want: errTruncated},
		{name: "map32 4G", b: pitfalls["map32(4G)"], want: errTruncated},
		{name: "map32 2G pairs", b: cat(hx("df 80 00 00 00"), bytes.Repeat([]byte{0xc0}, 16)), want: errTruncated},
		{name: "map with array32 4G value", b: pitfalls["map{k: array32(4G)}"], want: errTruncated},
		{name: "map with map32 4G value", b: hx("81 a1 6b df ff ff ff ff"), want: errTruncated},
		{name: "map with str32 4G value", b: hx("81 a1 6b db ff ff ff ff"), want: errTruncated},
		{name: "map with bin32 4G value", b: hx("81 a1 6b c6 ff ff ff ff"), want: errTruncated},
		{name: "map with str32 4G key", b: hx("81 db ff ff ff ff 01"), want: errTruncated},

		// Nesting deeper than the limit.
		{name: "depth 5 arrays", b: deep(5, 0x91), want: errTooDeep},
		{name: "depth 5 maps", b: deep(5, 0x81), want: errTooDeep},
		{name: "depth 5 empty innermost", b: hx("91 91 91 91 90"), want: errTooDeep},
		{name: "depth 5 array16", b: hx("dc 00 01 dc 00 01 dc 00 01 dc 00 01 dc 00 00"), want: errTooDeep},
		{name: "depth 5 map32", b: cat(bytes.Repeat(hx("df 00 00 00 01 a0"), 5), hx("c0")), want: errTooDeep},
		{name: "depth 1000", b: deep(1000, 0x91), want: errTooDeep},
		{name: "depth 100000", b: deep(100000, 0x91), want: errTooDeep},
		{name: "depth 2 with limit 1", b: hx("91 91 01"), depth: 1, want: errTooDeep},
		{name: "container with limit -1", b: hx("90"), depth: -1, want: errTooDeep},
		{name: "too deep inside valid map", b: cat(hx("82 a1 74 a4"), []byte("join"), hx("a1 78"), deep(4, 0x91)), want: errTooDeep},

		// Ext types.
		{name: "fixext1", b: hx("d4 01 00"), want: errExt},
		{name: "fixext2", b: hx("d5 01 00 00"), want: errExt},
		{name: "fixext4", b: hx("d6 ff 00 00 00 00"), want: errExt}, // also the msgpack timestamp
		{name: "fixext8", b: cat(hx("d7 01"), make([]byte, 8)), want: errExt},
		{name: "fixext16", b: cat(hx("d8 01"), make([]byte, 16)), want: errExt},
		{name: "ext8", b: hx("c7 01 01 00"), want: errExt},
		{name: "ext16", b: hx("c8 00 01 01 00"), want: errExt},
		{name: "ext32", b: hx("c9 00 00 00 01 01 00"), want: errExt},
		{name: "ext32 4G", b: hx("c9 ff ff ff ff 01"), want: errExt},
		{name: "ext in map", b: hx("81 a1 6b d4 01 00"), want: errExt},
		{name: "ext in array", b: hx("92 01 c7 00 05"), want: errExt},

		// 0xc1 is never used.
		{name: "c1", b: hx("c1"), want: errBadCode},
		{name: "c1 in map value", b: hx("81 a1 6b c1"), want: errBadCode},
		{name: "c1 as map key", b: hx("81 c1 01"), want: errBadCode},
		{name: "c1 in array", b: hx("92 01 c1"), want: errBadCode},

		// Trailing bytes.
		{name: "two fixints", b: hx("01 01"), want: errTrailing},
		{name: "map then byte", b: hx("80 00"), want: errTrailing},
		{name: "nil nil", b: hx("c0 c0"), want: errTrailing},
		{name: "str then byte", b: hx("a1 6b 00"), want: errTrailing},
		{name: "fixmap 0 with a pair", b: hx("80 a1 6b 01"), want: errTrailing},
		{name: "text", b: []byte(`{"t":"join"}`), want: errTrailing},
	}
	return cs
}

func TestCheck(t *testing.T) {
	for _, c := range checkCases() {
		t.Run(c.name, func(t *testing.T) {
			depth := c.depth
			if depth == 0 {
				depth = MaxDepth
			}
			err := Check(c.b, depth)
			if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Fatalf("Check(% x) = %v, want %v", head(c.b), err, c.want)
			}
			if c.want == nil {
				// msgpack agrees: exactly one object, all of b.
				dec := msgpack.NewDecoder(bytes.NewReader(c.b))
				if err := dec.Skip(); err != nil {
					t.Fatalf("msgpack cannot skip what Check accepted: %v", err)
				}
				if _, err := dec.PeekCode(); err == nil {
					t.Fatalf("msgpack sees more than one object in what Check accepted")
				}
			}
		})
	}
}

// head shortens a byte string for a failure message.
func head(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}

func TestCheckPitfalls(t *testing.T) {
	for name, b := range pitfalls {
		if err := Check(b, MaxDepth); !errors.Is(err, errTruncated) {
			t.Errorf("%s (% x): Check = %v, want %v", name, b, err, errTruncated)
		}
	}
}

// TestCheckAcceptsEncoderOutput: whatever this package and msgpack encode
// for the protocol is accepted.
func TestCheckAcceptsEncoderOutput(t *testing.T) {
	values := []any{
		nil, true, false, 0, -1, -33, 200, -200, 70000, -70000, int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64),
		float32(1.5), 1.5, math.Inf(-1), "", "héllo", strings.Repeat("é", 200), strings.Repeat("a", 70000),
		[]byte{}, []byte("bin"), make([]byte, 300), make([]byte, 70000),
		[]int{}, make([]int, 16), make([]int, 70000), map[string]any{}, map[string]int{"a": 1, "b": 2},
		map[string]any{"t": "join", "name": "bob", "x": []any{1, "two", 3.0, map[string]any{"k": nil}}},
		[][]any{{1, 2}, {3, []int{4}}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(b, MaxDepth); err != nil {
			t.Errorf("Check(msgpack.Marshal(%.40v)) = %v", v, err)
		}
	}
	for _, b := range [][]byte{
		EncodeJoin("bob", ""), EncodeJoin(strings.Repeat("ü", 24), "k3v9q2xa"),
		AppendInput(nil, InputMsg{Seq: math.MaxUint32, MX: -1, MY: 1, Aim: math.Pi, Buttons: 1}),
		AppendInput(nil, InputMsg{MX: math.NaN()}),
	} {
		if err := Check(b, MaxDepth); err != nil {
			t.Errorf("Check(% x) = %v", b, err)
		}
	}
}

// TestCheckEveryPrefix: every proper prefix of a valid object is refused
// as truncated, never accepted and never a panic.
func TestCheckEveryPrefix(t *testing.T) {
	for _, c := range checkCases() {
		if c.want != nil || c.depth != 0 {
			continue
		}
		for i := 0; i < len(c.b); i++ {
			if err := Check(c.b[:i], MaxDepth); !errors.Is(err, errTruncated) {
				t.Errorf("%s: Check(prefix %d of % x) = %v, want %v", c.name, i, head(c.b), err, errTruncated)
			}
		}
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	cs := checkCases()
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range cs {
			depth := c.depth
			if depth == 0 {
				depth = MaxDepth
			}
			_ = Check(c.b, depth)
		}
	})
	if allocs != 0 {
		t.Fatalf("Check allocates %v times per run of %d cases, want 0", allocs, len(cs))
	}
}
