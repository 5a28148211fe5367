package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
)

// gate holds the writer before the COMMIT of its first batch until
// released, so that a test can queue calls that the writer then runs as
// one batch, and fails the commit of batch number failAt (from 1) if set.
type gate struct {
	batches atomic.Int64
	held    chan struct{}
	release chan struct{}
	failAt  int64
	fail    error
}

func holdWriter(t *testing.T, s *Store, failAt int64, fail error) *gate {
	g := &gate{held: make(chan struct{}), release: make(chan struct{}), failAt: failAt, fail: fail}
	s.beforeCommit = func() error {
		n := g.batches.Add(1)
		if n == 1 {
			close(g.held)
			<-g.release
		}
		if n == g.failAt {
			return g.fail
		}
		return nil
	}
	return g
}

// queueBehind starts the first call (which the writer holds before its
// commit), then the others, waits until all of them are queued behind it,
// runs beforeRelease (if not nil), and returns the results in order once
// the writer is released.
func (g *gate) queueBehind(t *testing.T, s *Store, beforeRelease func(), first func() error, rest ...func() error) []error {
	t.Helper()
	errs := make([]error, 1+len(rest))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = first() })
	<-g.held
	for i, f := range rest {
		wg.Go(func() { errs[1+i] = f() })
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.queue) < len(rest) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls queued", len(s.queue), len(rest))
		}
		time.Sleep(time.Millisecond)
	}
	if beforeRelease != nil {
		beforeRelease()
	}
	close(g.release)
	wg.Wait()
	return errs
}

func create(s *Store, r *store.Record) func() error {
	return func() error { return s.CreateRecord(context.Background(), r) }
}

// TestBatchMemberFails: of the calls that one commit carries, the one that
// loses (a duplicate id) fails alone with ErrConflict; the others' changes
// are committed, and the batch is one commit.
func TestBatchMemberFails(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	g := holdWriter(t, s, 0, nil)
	first := newRecord(t)
	var recs []*store.Record
	var calls []func() error
	for range 8 {
		r := newRecord(t)
		recs = append(recs, r)
		calls = append(calls, create(s, r))
	}
	dup := *first
	calls = append(calls[:4], append([]func() error{create(s, &dup)}, calls[4:]...)...)
	errs := g.queueBehind(t, s, nil, create(s, first), calls...)
	for i, err := range errs {
		if i == 5 { // the duplicate
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("duplicate in the batch: err = %v, want ErrConflict", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	for _, r := range append(recs, first) {
		if _, err := s.GetRecord(t.Context(), r.ID); err != nil {
			t.Errorf("record of the batch: %v", err)
		}
	}
	if n := g.batches.Load(); n != 2 {
		t.Errorf("%d commits for a held call and one batch behind it", n)
	}
}

// TestBatchCommitFails: when the commit of a batch fails, every member
// gets the error and none of their changes is visible; the store works on.
func TestBatchCommitFails(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	errDown := fmt.Errorf("%w: injected commit failure", store.ErrUnavailable)
	g := holdWriter(t, s, 2, errDown)
	first := newRecord(t)
	var recs []*store.Record
	var calls []func() error
	for range 6 {
		r := newRecord(t)
		recs = append(recs, r)
		calls = append(calls, create(s, r))
	}
	// A member that would fail on its own sees the commit's error too.
	calls = append(calls, func() error { return s.EndRecord(context.Background(), first.ID, store.RecordRejected, t0) })
	errs := g.queueBehind(t, s, nil, create(s, first), calls...)
	if errs[0] != nil {
		t.Fatalf("held call: %v", errs[0])
	}
	for i, err := range errs[1:] {
		if !errors.Is(err, errDown) {
			t.Errorf("member %d: err = %v, want the commit's error", i, err)
		}
	}
	for _, r := range recs {
		if _, err := s.GetRecord(t.Context(), r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record of the failed batch: err = %v, want ErrNotFound", err)
		}
	}
	if r, err := s.GetRecord(t.Context(), first.ID); err != nil || r.State != store.RecordAwaitingUpload {
		t.Errorf("record ended by the failed batch: %v, %v", r, err)
	}
	if err := s.CreateRecord(t.Context(), recs[0]); err != nil {
		t.Errorf("after the failed commit: %v", err)
	}
}

// TestBatchCancel: a caller cancelled after the writer ran its change
// still waits for the commit and gets its true outcome (success, the
// change durable); a caller cancelled while still queued is withdrawn
// with the context's error and changes nothing.
func TestBatchCancel(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	g := holdWriter(t, s, 0, nil)
	ran, queued := newRecord(t), newRecord(t)
	ranCtx, cancelRan := context.WithCancel(t.Context())
	queuedCtx, cancelQueued := context.WithCancel(t.Context())
	errs := g.queueBehind(t, s, func() { cancelRan(); cancelQueued() },
		func() error { return s.CreateRecord(ranCtx, ran) },
		func() error { return s.CreateRecord(queuedCtx, queued) })
	if errs[0] != nil {
		t.Errorf("cancelled after its change ran: err = %v, want success", errs[0])
	}
	if _, err := s.GetRecord(t.Context(), ran.ID); err != nil {
		t.Errorf("the change of the cancelled caller: %v", err)
	}
	if !errors.Is(errs[1], context.Canceled) {
		t.Errorf("cancelled while queued: err = %v, want context.Canceled", errs[1])
	}
	if _, err := s.GetRecord(t.Context(), queued.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the withdrawn call's record: err = %v, want ErrNotFound", err)
	}
}

// TestBatchesShareCommits: many concurrent writers need far fewer commits
// than calls, and the queue bound holds them back without losing any.
func TestBatchesShareCommits(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{QueueSize: 4, BatchSize: 16})
	var commits atomic.Int64
	s.beforeCommit = func() error { commits.Add(1); return nil }
	const calls = 400
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 40 {
		wg.Go(func() {
			for range calls / 40 {
				if err := s.CreateRecord(t.Context(), newRecord(t)); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
	t.Logf("%d calls, %d commits", calls, commits.Load())
	if commits.Load() >= calls {
		t.Errorf("%d commits for %d concurrent calls: no call shared a commit", commits.Load(), calls)
	}
}

// TestLoneCallFails: a call alone in its batch runs without a savepoint;
// when it fails after one of its statements took effect, the batch is
// rolled back, nothing of the call is visible, no commit is counted, and
// the next call (alone too) commits.
func TestLoneCallFails(t *testing.T) {
	s := openTest(t, t.TempDir(), Options{})
	r := newRecord(t)
	lost := errors.New("lost the race")
	commits := s.Commits()
	err := s.write(t.Context(), "test", func(ctx context.Context, c *wconn) error {
		if err := insertRecord(ctx, c, r); err != nil {
			return err
		}
		return fmt.Errorf("%w: %w", store.ErrConflict, lost)
	})
	if !errors.Is(err, store.ErrConflict) || !errors.Is(err, lost) {
		t.Fatalf("lone failing call: %v", err)
	}
	if _, err := s.GetRecord(t.Context(), r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed call's insert is visible: %v", err)
	}
	if s.Commits() != commits {
		t.Errorf("a batch that changed nothing counted as a commit")
	}
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRecord(t.Context(), r.ID); err != nil {
		t.Fatal(err)
	}
	if s.Commits() != commits+1 {
		t.Errorf("commits %d, want %d", s.Commits(), commits+1)
	}
}
