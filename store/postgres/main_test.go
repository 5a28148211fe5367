package postgres

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/store/postgres/pgtest"
)

// openTest opens a store on a fresh schema of the test server (pgtest).
func openTest(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	url := pgtest.Schema(t)
	return openURL(t, url, opts), url
}

// openURL opens a store on url, closed when t ends.
func openURL(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// t0 is the tests' "now", in whole seconds as the server makes times.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
