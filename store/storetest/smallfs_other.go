//go:build !linux

package storetest

import "testing"

// SmallFS skips the test: mounting a small filesystem is done on Linux only.
func SmallFS(t testing.TB, size int) string {
	t.Helper()
	t.Skip("a small filesystem to fill up is mounted on Linux only")
	return ""
}

// Fill is not used where SmallFS skips.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	t.Skip("a small filesystem to fill up is mounted on Linux only")
	return ""
}
