package threshold

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// testRand returns a deterministic stream for tests that need repeatable
// randomness: ChaCha8 keyed by the label.
func testRand(label string) *rand.ChaCha8 {
	var seed [32]byte
	copy(seed[:], label)
	return rand.NewChaCha8(seed)
}

// unhex decodes hex written with optional spaces, for readable expected
// byte layouts.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// failingReader fails every read, as a broken entropy source would.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errTestRand }

var errTestRand = &testError{"test: randomness unavailable"}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }
