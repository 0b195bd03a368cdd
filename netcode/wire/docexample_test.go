package wire

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/tickstream/tickstream/game"
)

// TestProtocolDocExample: the example snap frame of docs/protocol.md
// ("Entity rows") is what the encoder writes, byte for byte.
func TestProtocolDocExample(t *testing.T) {
	base := []Row{{ID: 3, F: [NumFields]int32{1, 100, 100, 0, 100, 0, 0}}, {ID: 1 << 24, F: [NumFields]int32{2, 5, 5, 0, 0, 0, 0}}}
	cur := []Row{{ID: 3, F: [NumFields]int32{1, 120, 97, 0, 100, 0, 0}}}
	b := AppendSnapPrefix(nil, 7)
	b = AppendSnapBody(b, SnapHead{Tick: 105, Base: 104, Time: 1700000000000, State: game.StateRunning, Left: 30000}, base, cur, nil)
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	// The example's hex: the first column of the lines of its code block.
	text := string(doc)
	i := strings.Index(text, "82 a1 74 a4 73 6e 61 70 a1 64 99      {")
	if i < 0 {
		t.Fatal("the example is not in docs/protocol.md")
	}
	var hexes []string
	for _, line := range strings.Split(text[i:], "\n") {
		if strings.HasPrefix(line, "```") {
			break
		}
		col := strings.TrimSpace(line)
		if j := strings.Index(col, "   "); j >= 0 { // the comment column
			col = col[:j]
		}
		hexes = append(hexes, strings.ReplaceAll(col, " ", ""))
	}
	want := strings.Join(hexes, "")
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoder writes\n%s\nthe document shows\n%s", got, want)
	}
}
