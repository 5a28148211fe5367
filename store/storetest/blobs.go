package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
)

// RunBlobs runs the BlobStore conformance suite. open must return a new,
// empty blob store for each call and register its clean-up with t.Cleanup.
func RunBlobs(t *testing.T, open func(t *testing.T) store.BlobStore, opts Options) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, b store.BlobStore)
	}{
		{"RoundTrip", testBlobRoundTrip},
		{"NotVisibleUntilCommitted", testBlobNotVisible},
		{"Abort", testBlobAbort},
		{"Conflicts", testBlobConflicts},
		{"Delete", testBlobDelete},
		{"StagedBefore", testBlobStagedBefore},
		{"BadNames", testBlobBadNames},
		{"Context", testBlobContext},
		{"StreamingMemory", testBlobMemory},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
	t.Run("Races", func(t *testing.T) {
		if opts.SkipRaces != "" {
			t.Skip(opts.SkipRaces)
		}
		testBlobRaces(t, open(t), opts)
	})
}

// putBlob stages data in writes of odd sizes and closes it, without
// committing.
func putBlob(t *testing.T, b store.BlobStore, name string, data []byte) {
	t.Helper()
	w, err := b.Stage(ctxOf(t), name)
	want(t, err, nil, "Stage %s", name)
	for rest, step := data, 1; len(rest) > 0; step = (step*3 + 1) % 70001 {
		n := min(step+1, len(rest))
		m, err := w.Write(rest[:n])
		if err != nil || m != n {
			t.Fatalf("Write %s: %d, %v; want %d", name, m, err, n)
		}
		rest = rest[n:]
	}
	want(t, w.Close(), nil, "Close %s", name)
}

func commitBlob(t *testing.T, b store.BlobStore, name string, data []byte) {
	t.Helper()
	putBlob(t, b, name, data)
	want(t, b.Commit(ctxOf(t), name), nil, "Commit %s", name)
}

func readBlob(t *testing.T, b store.BlobStore, name string) []byte {
	t.Helper()
	r, err := b.Open(ctxOf(t), name)
	want(t, err, nil, "Open %s", name)
	defer r.Close()
	data, err := io.ReadAll(r)
	want(t, err, nil, "reading %s", name)
	if r.Size() != int64(len(data)) {
		t.Fatalf("%s: Size() = %d, read %d bytes", name, r.Size(), len(data))
	}
	return data
}

func testBlobRoundTrip(t *testing.T, b store.BlobStore) {
	for _, size := range []int{0, 1, 65535, 65536, 65537, 1<<20 + 7} {
		name := fmt.Sprintf("0190a0b0-c0d0-7e0f-8a0b-%012d", size)
		data := random(size)
		commitBlob(t, b, name, data)
		if got := readBlob(t, b, name); !bytes.Equal(got, data) {
			t.Fatalf("blob of %d bytes read back as %d bytes that differ", size, len(got))
		}
	}
	// Reading a blob twice at once gives the same bytes to both readers.
	data := random(200000)
	commitBlob(t, b, "twice", data)
	r1, err := b.Open(ctxOf(t), "twice")
	want(t, err, nil, "Open")
	defer r1.Close()
	r2, err := b.Open(ctxOf(t), "twice")
	want(t, err, nil, "Open")
	defer r2.Close()
	half := make([]byte, 100000)
	if _, err := io.ReadFull(r1, half); err != nil || !bytes.Equal(half, data[:100000]) {
		t.Fatalf("first reader: %v", err)
	}
	if got, err := io.ReadAll(r2); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("second reader: %v", err)
	}
}

func testBlobNotVisible(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	w, err := b.Stage(ctx, "partial")
	want(t, err, nil, "Stage")
	if _, err := w.Write(random(100000)); err != nil {
		t.Fatal(err)
	}
	_, err = b.Open(ctx, "partial")
	want(t, err, store.ErrNotFound, "Open of a blob being written")
	want(t, w.Close(), nil, "Close")
	_, err = b.Open(ctx, "partial")
	want(t, err, store.ErrNotFound, "Open of a staged, uncommitted blob")
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	want(t, b.Commit(ctx, "partial"), nil, "Commit")
	if n := len(readBlob(t, b, "partial")); n != 100000 {
		t.Fatalf("committed blob has %d bytes", n)
	}
	list, err := b.StagedBefore(ctx, time.Now().Add(time.Hour))
	want(t, err, nil, "StagedBefore")
	if slices.Contains(list, "partial") {
		t.Fatal("a committed blob is still listed as staged")
	}
}

func testBlobAbort(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	w, err := b.Stage(ctx, "aborted")
	want(t, err, nil, "Stage")
	if _, err := w.Write(random(5000)); err != nil {
		t.Fatal(err)
	}
	want(t, w.Abort(), nil, "Abort")
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	want(t, b.Commit(ctx, "aborted"), store.ErrNotFound, "Commit after Abort")
	_, err = b.Open(ctx, "aborted")
	want(t, err, store.ErrNotFound, "Open after Abort")
	want(t, b.Delete(ctx, "aborted"), store.ErrNotFound, "Delete after Abort")
	// The name is free again.
	commitBlob(t, b, "aborted", []byte("second try"))
	if got := readBlob(t, b, "aborted"); string(got) != "second try" {
		t.Fatalf("blob after a second try: %q", got)
	}

}

func testBlobConflicts(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	w, err := b.Stage(ctx, "x")
	want(t, err, nil, "Stage")
	_, err = b.Stage(ctx, "x")
	want(t, err, store.ErrConflict, "Stage of a name being written")
	if _, err := w.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	want(t, w.Close(), nil, "Close")
	_, err = b.Stage(ctx, "x")
	want(t, err, store.ErrConflict, "Stage of a staged name")
	want(t, b.Commit(ctx, "x"), nil, "Commit")
	want(t, b.Commit(ctx, "x"), store.ErrConflict, "Commit a second time")
	_, err = b.Stage(ctx, "x")
	want(t, err, store.ErrConflict, "Stage of a committed name")
	if got := readBlob(t, b, "x"); string(got) != "first" {
		t.Fatalf("committed blob changed: %q", got)
	}
	want(t, b.Commit(ctx, "never-staged"), store.ErrNotFound, "Commit of an unknown name")
	_, err = b.Open(ctx, "never-staged")
	want(t, err, store.ErrNotFound, "Open of an unknown name")
}

func testBlobDelete(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	commitBlob(t, b, "c", []byte("committed"))
	want(t, b.Delete(ctx, "c"), nil, "Delete of a committed blob")
	_, err := b.Open(ctx, "c")
	want(t, err, store.ErrNotFound, "Open after Delete")
	want(t, b.Delete(ctx, "c"), store.ErrNotFound, "Delete a second time")
	putBlob(t, b, "s", []byte("staged"))
	want(t, b.Delete(ctx, "s"), nil, "Delete of a staged blob")
	want(t, b.Commit(ctx, "s"), store.ErrNotFound, "Commit after Delete")
	want(t, b.Delete(ctx, "unknown"), store.ErrNotFound, "Delete of an unknown name")
	// A deleted name may be used again.
	commitBlob(t, b, "c", []byte("again"))
	if got := readBlob(t, b, "c"); string(got) != "again" {
		t.Fatalf("blob after reuse: %q", got)
	}
}

func testBlobStagedBefore(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	putBlob(t, b, "old-a", []byte("a"))
	putBlob(t, b, "old-b", []byte("b"))
	commitBlob(t, b, "committed", []byte("c"))
	putBlob(t, b, "deleted", []byte("d"))
	want(t, b.Delete(ctx, "deleted"), nil, "Delete")
	list, err := b.StagedBefore(ctx, time.Now().Add(time.Minute))
	want(t, err, nil, "StagedBefore")
	slices.Sort(list)
	same(t, list, []string{"old-a", "old-b"}, "StagedBefore a minute from now")
	list, err = b.StagedBefore(ctx, time.Now().Add(-time.Hour))
	want(t, err, nil, "StagedBefore")
	same(t, list, []string{}, "StagedBefore an hour ago")
	// Clean-up as the sweeper does it.
	for _, name := range []string{"old-a", "old-b"} {
		want(t, b.Delete(ctx, name), nil, "Delete %s", name)
	}
	list, err = b.StagedBefore(ctx, time.Now().Add(time.Minute))
	want(t, err, nil, "StagedBefore")
	same(t, list, []string{}, "StagedBefore after clean-up")
	if got := readBlob(t, b, "committed"); string(got) != "c" {
		t.Fatalf("committed blob after clean-up: %q", got)
	}
}

func testBlobBadNames(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	commitBlob(t, b, "victim", []byte("v"))
	for _, name := range []string{"", ".", "..", "../victim", "blobs/victim", "staged/x", "/etc/passwd", `..\x`, "a/../victim",
		"a\x00b", "spaced name", "é", strings.Repeat("n", store.MaxBlobName+1)} {
		_, err := b.Stage(ctx, name)
		want(t, err, store.ErrInvalid, "Stage(%q)", name)
		want(t, b.Commit(ctx, name), store.ErrInvalid, "Commit(%q)", name)
		_, err = b.Open(ctx, name)
		want(t, err, store.ErrInvalid, "Open(%q)", name)
		want(t, b.Delete(ctx, name), store.ErrInvalid, "Delete(%q)", name)
	}
	if got := readBlob(t, b, "victim"); string(got) != "v" {
		t.Fatalf("blob after bad names: %q", got)
	}
	long := strings.Repeat("n", store.MaxBlobName)
	commitBlob(t, b, long, []byte("l"))
	want(t, b.Delete(ctx, long), nil, "Delete of a name of MaxBlobName bytes")
}

func testBlobContext(t *testing.T, b store.BlobStore) {
	ctx, cancel := context.WithCancel(ctxOf(t))
	cancel()
	if _, err := b.Stage(ctx, "cancelled"); err == nil {
		t.Fatal("Stage with a cancelled context succeeded")
	}
	_, err := b.Open(ctxOf(t), "cancelled")
	want(t, err, store.ErrNotFound, "Open after a cancelled Stage")
	want(t, b.Commit(ctxOf(t), "cancelled"), store.ErrNotFound, "Commit after a cancelled Stage")
}

// streamBytes is the size of the blob the memory test streams; a store that
// buffers a whole blob would need more than the bound below.
const (
	streamBytes   = 32 << 20
	streamHeapCap = 16 << 20
)

// testBlobMemory streams a 32 MiB blob in and out in 64 KiB steps and checks
// that the heap never holds more than 16 MiB meanwhile: memory is bounded
// by the chunk, not the blob. The heap is sampled after every step.
func testBlobMemory(t *testing.T, b store.BlobStore) {
	ctx := ctxOf(t)
	chunk := make([]byte, 64<<10)
	runtime.GC()
	var ms runtime.MemStats
	peak := uint64(0)
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	sample()
	base := peak
	w, err := b.Stage(ctx, "stream")
	want(t, err, nil, "Stage")
	h := sha256.New()
	for i := 0; i < streamBytes; i += len(chunk) {
		chunk[0], chunk[len(chunk)-1] = byte(i>>16), byte(i>>24)
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
		sample()
	}
	want(t, w.Close(), nil, "Close")
	want(t, b.Commit(ctx, "stream"), nil, "Commit")
	wantSum := h.Sum(nil)
	r, err := b.Open(ctx, "stream")
	want(t, err, nil, "Open")
	defer r.Close()
	h.Reset()
	for {
		n, err := r.Read(chunk)
		h.Write(chunk[:n])
		sample()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(h.Sum(nil), wantSum) {
		t.Fatal("streamed blob read back differs")
	}
	if r.Size() != streamBytes {
		t.Fatalf("Size() = %d", r.Size())
	}
	if grown := peak - min(base, peak); grown > streamHeapCap {
		t.Fatalf("heap grew by %d MiB while streaming a %d MiB blob", grown>>20, streamBytes>>20)
	}
}

func testBlobRaces(t *testing.T, b store.BlobStore, o Options) {
	for trial := range o.trials() {
		name := fmt.Sprintf("race-%d", trial)
		// Stage: one racer gets the name.
		var mu sync.Mutex
		var winner store.StagedBlob
		stageErrs := raceAll(o.racers(), func(int) error {
			w, err := b.Stage(ctxOf(t), name)
			if err == nil {
				mu.Lock()
				winner = w
				mu.Unlock()
			}
			return err
		})
		checkWinners(t, "Stage", trial, stageErrs, 1)
		if _, err := winner.Write([]byte(name)); err != nil {
			t.Fatal(err)
		}
		want(t, winner.Close(), nil, "Close")
		// Commit: one racer makes it visible.
		checkWinners(t, "Commit", trial, raceAll(o.racers(), func(int) error { return b.Commit(ctxOf(t), name) }), 1)
		if got := readBlob(t, b, name); string(got) != name {
			t.Fatalf("trial %d: committed blob %q", trial, got)
		}
	}
}
