package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/assent-dev/assent/store"
)

// testMasterKeyID: the first id pinned stays; later pins return it.
func testMasterKeyID(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	for _, bad := range []string{"", strings.Repeat("a", store.MaxKeyIDLen+1), "\xff"} {
		_, err := s.PinMasterKeyID(ctx, bad)
		want(t, err, store.ErrInvalid, "PinMasterKeyID(%q)", bad)
	}
	first := keyID()
	got, err := s.PinMasterKeyID(ctx, first)
	want(t, err, nil, "PinMasterKeyID on a new store")
	if got != first {
		t.Fatalf("PinMasterKeyID on a new store returned %q, want %q", got, first)
	}
	for _, again := range []string{first, keyID()} {
		got, err := s.PinMasterKeyID(ctx, again)
		want(t, err, nil, "PinMasterKeyID a second time")
		if got != first {
			t.Fatalf("PinMasterKeyID(%q) returned %q, want the first id %q", again, got, first)
		}
	}
}

// raceMasterKeyID: of racers pinning different ids on a new store, all
// return the same one, which is one of theirs.
func raceMasterKeyID(t *testing.T, s store.Store, o Options) {
	ctx := ctxOf(t)
	n := o.racers()
	tried := make([]string, n)
	got := make([]string, n)
	errs := make([]error, n)
	for i := range tried {
		tried[i] = keyID()
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.PinMasterKeyID(ctx, tried[i])
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		want(t, errs[i], nil, "racer %d's PinMasterKeyID", i)
		if got[i] != got[0] {
			t.Fatalf("racers were told different pinned ids: %q and %q", got[0], got[i])
		}
	}
	found := false
	for _, id := range tried {
		found = found || id == got[0]
	}
	if !found {
		t.Fatalf("pinned id %q is none of the racers'", got[0])
	}
}
