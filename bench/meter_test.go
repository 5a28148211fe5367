package bench

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/sqlite"
)

// TestMeterCountsWrites: on the real SQLite store, calls that write are
// counted and timed, reads are not, and a refused write still counts.
func TestMeterCountsWrites(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := &meteredStore{Store: st}
	_, c, err := server.CreateClient(ctx, m, rand.Reader, time.Now(), "meter", server.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	if w, busy := m.stats(); w != 1 || busy <= 0 {
		t.Fatalf("after one write: %d writes, busy %v", w, busy)
	}
	if _, err := m.ClientByPrefix(ctx, c.KeyPrefix); err != nil {
		t.Fatal(err)
	}
	if err := m.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if w, _ := m.stats(); w != 1 {
		t.Fatalf("reads counted: %d writes", w)
	}
	if err := m.CreateClient(ctx, c); err == nil {
		t.Fatal("second CreateClient of the same client succeeded")
	}
	if w, _ := m.stats(); w != 2 {
		t.Fatalf("a refused write is not counted: %d writes", w)
	}
}

// slowStore is a Store whose CreateRecord takes a fixed time; its other
// methods are not called.
type slowStore struct {
	store.Store
	d time.Duration
}

func (s slowStore) CreateRecord(context.Context, *store.Record) error {
	time.Sleep(s.d)
	return nil
}

// TestMeterBusyIsUnion: overlapping writes count once in the busy time, so
// that it is the share of time the write path is taken, never above the
// wall time.
func TestMeterBusyIsUnion(t *testing.T) {
	const d = 100 * time.Millisecond
	m := &meteredStore{Store: slowStore{d: d}}
	t0 := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = m.CreateRecord(context.Background(), nil) })
	}
	wg.Wait()
	wall := time.Since(t0)
	w, busy := m.stats()
	if w != 4 {
		t.Errorf("%d writes, want 4", w)
	}
	if busy < d || busy > wall {
		t.Errorf("busy %v for 4 overlapping writes of %v in %v of wall time", busy, d, wall)
	}
}
