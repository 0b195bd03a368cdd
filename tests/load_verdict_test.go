//go:build load

package tests

import (
	"os"
	"testing"
)

// loadCheck reports a load figure against its threshold. The load tests
// measure what a busy machine can change (rates, percentiles, disconnects
// under overload), so by default a miss is reported, not failed: `make
// test` asserts behaviour only, and `make load` prints the figures. With
// LOAD_STRICT=1 (`make load LOAD_STRICT=1`, on a quiet machine) a miss
// fails the test.
func loadCheck(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("LOAD_STRICT") != "" {
		t.Fatalf(format, args...)
	}
	t.Logf("LOAD THRESHOLD MISSED (not enforced; LOAD_STRICT=1 enforces): "+format, args...)
}
