package storagetest

import (
	"context"
	"testing"
)

// Run is Check as a Go test: it fails t with Check's error, which names
// every failed case.
func Run(t testing.TB, open Open) {
	t.Helper()
	if err := Check(context.Background(), open); err != nil {
		t.Fatalf("storage conformance:\n%v", err)
	}
}
