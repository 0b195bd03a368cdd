package fleet

import (
	"reflect"
	"testing"
)

// -url takes one entry node or a comma-separated list; each must be a
// ws:// or wss:// URL with a host (paths are dropped: /play is added).
func TestParseEntries(t *testing.T) {
	got, err := parseEntries("ws://127.0.0.1:8080/, wss://b.example:443,")
	if want := []string{"ws://127.0.0.1:8080", "wss://b.example:443"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", ",", "http://a:1", "ws://a:1,b:2", "ws://"} {
		if _, err := parseEntries(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
