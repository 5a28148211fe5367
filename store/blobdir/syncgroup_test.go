package blobdir

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
)

// TestCommitsShareDirSync: concurrent commits share fsyncs of the blobs
// directory (fewer fsyncs than commits), and every one of them is committed
// and readable; no commit returns before an fsync that began after the
// commit was called has finished.
func TestCommitsShareDirSync(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "blobs"))
	var syncs atomic.Int64
	var mu sync.Mutex
	covered := map[string]bool{} // names whose Commit an fsync began after
	pending := map[string]bool{}
	inner := s.sync.f
	s.sync.f = func() error {
		mu.Lock()
		now := pending
		pending = map[string]bool{}
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // a slow disk: let commits pile up
		err := inner()
		mu.Lock()
		for n := range now {
			covered[n] = true
		}
		mu.Unlock()
		syncs.Add(1)
		return err
	}
	const n = 64
	stageNames(t, s, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("rec_%04d", i)
			mu.Lock()
			pending[name] = true
			mu.Unlock()
			errs[i] = s.Commit(t.Context(), name)
			mu.Lock()
			ok := covered[name]
			mu.Unlock()
			if errs[i] == nil && !ok {
				t.Errorf("%s: Commit returned before an fsync covering it finished", name)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		b, err := s.Open(t.Context(), fmt.Sprintf("rec_%04d", i))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(b)
		b.Close()
		if string(got) != fmt.Sprintf("rec_%04d", i) {
			t.Fatalf("blob %d reads %q", i, got)
		}
	}
	t.Logf("%d commits, %d directory fsyncs", n, syncs.Load())
	if syncs.Load() >= n {
		t.Errorf("%d fsyncs for %d concurrent commits: none shared", syncs.Load(), n)
	}
}

// TestDirSyncFails: when the directory's fsync fails, every commit it was
// to cover fails with ErrUnavailable and takes its final name back (the blob
// is not committed and may be committed again); the next commits succeed.
func TestDirSyncFails(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "blobs"))
	errDisk := errors.New("disk on fire")
	var fail atomic.Bool
	fail.Store(true)
	inner := s.sync.f
	s.sync.f = func() error {
		time.Sleep(time.Millisecond)
		if fail.Load() {
			return errDisk
		}
		return inner()
	}
	const n = 16
	names := stageNames(t, s, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, name := range names {
		wg.Go(func() { errs[i] = s.Commit(t.Context(), name) })
	}
	wg.Wait()
	for i, err := range errs {
		name := fmt.Sprintf("rec_%04d", i)
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, errDisk) {
			t.Fatalf("commit %d: %v, want ErrUnavailable wrapping the fsync's error", i, err)
		}
		if _, err := s.Open(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s committed although its fsync failed: %v", name, err)
		}
	}
	fail.Store(false)
	for i := range n {
		if err := s.Commit(t.Context(), fmt.Sprintf("rec_%04d", i)); err != nil {
			t.Fatalf("retried commit %d: %v", i, err)
		}
	}
}

// stageNames stages n blobs rec_0000, rec_0001, ..., each holding its name.
func stageNames(t *testing.T, s *Store, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("rec_%04d", i)
		put(t, s, names[i], []byte(names[i]))
	}
	return names
}
