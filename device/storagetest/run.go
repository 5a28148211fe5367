//go:build !js

// Run is for Go tests, which never run in js/wasm; there, package testing
// (with flag and its own runtime hooks) would grow the approval app's
// WebAssembly for nothing, since the app runs Check itself.

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
