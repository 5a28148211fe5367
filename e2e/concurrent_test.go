package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/assent-dev/assent/store"
)

// 50 concurrent creations approved by one device: all sealed, each exactly
// once, each with its own content's digest.
func TestConcurrentCreations(t *testing.T) {
	t.Parallel()
	const n = 50
	e := newEnv(t, envOptions{})
	type created struct {
		rid string
		sum [32]byte
		err error
	}
	results := make([]created, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			data := content(uint64(100+i), 1024+i)
			res := &results[i]
			res.sum = sha256.Sum256(data)
			res.rid, res.err = e.clinic.CreateRecord(e.ctx, e.user.UserID, fmt.Sprintf("Record %d", i), "text/plain", "storage")
			if res.err == nil {
				_, res.err = e.clinic.Upload(e.ctx, res.rid, bytes.NewReader(data), int64(len(data)))
			}
		})
	}
	wg.Wait()
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("creation %d failed: %v", i, res.err)
		}
	}
	for i, res := range results {
		r := e.awaitRecord(e.clinic, res.rid, store.RecordSealed)
		if !bytes.Equal(r.ContentSHA256, res.sum[:]) {
			t.Fatalf("record %d sealed with digest %x, want %x", i, r.ContentSHA256, res.sum)
		}
	}
	audit := e.audit()
	sealed := countEvents(audit, store.EventRecordSealed)
	if len(sealed) != n {
		t.Fatalf("%d records sealed, want %d", len(sealed), n)
	}
	for _, res := range results {
		if sealed[res.rid] != 1 {
			t.Fatalf("record %s sealed %d times, want once", res.rid, sealed[res.rid])
		}
	}
	for _, ev := range []string{store.EventApproved, store.EventApprovalRequested} {
		byRequest := countEvents(audit, ev)
		if len(byRequest) != n {
			t.Fatalf("%s for %d requests, want %d", ev, len(byRequest), n)
		}
		for req, k := range byRequest {
			if k != 1 {
				t.Fatalf("%s %d times for request %s, want once", ev, k, req)
			}
		}
	}
	for _, ev := range []string{store.EventDenied, store.EventRecordExpired, store.EventRecordRejected} {
		if got := len(countEvents(audit, ev)); got != 0 {
			t.Fatalf("%d %s events, want none", got, ev)
		}
	}
}
