package sqlite

import (
	"testing"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

func openTest(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := OpenOptions(t.Context(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, t.TempDir(), Options{})
	}, storetest.Options{})
}

// TestConformanceTwoHandles runs the suite with every call alternating
// between two Stores opened on the same file, as two processes would.
func TestConformanceTwoHandles(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		dir := t.TempDir()
		return storetest.Alternate(openTest(t, dir, Options{}), openTest(t, dir, Options{}))
	}, storetest.Options{})
}
