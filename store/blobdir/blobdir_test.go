package blobdir

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunBlobs(t, func(t *testing.T) store.BlobStore { return openTest(t, t.TempDir()) }, storetest.Options{})
}

// TestConformanceTwoHandles runs the suite with calls alternating between
// two Stores on one directory, as two processes would share it.
func TestConformanceTwoHandles(t *testing.T) {
	storetest.RunBlobs(t, func(t *testing.T) store.BlobStore {
		dir := t.TempDir()
		return storetest.AlternateBlobs(openTest(t, dir), openTest(t, dir))
	}, storetest.Options{})
}

func put(t *testing.T, s *Store, name string, data []byte) store.StagedBlob {
	t.Helper()
	w, err := s.Stage(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "blobs-root")
	s := openTest(t, dir)
	put(t, s, "staged", []byte("s"))
	put(t, s, "committed", []byte("c"))
	if err := s.Commit(t.Context(), "committed"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		dir:                                       0o700 | os.ModeDir,
		filepath.Join(dir, StagedDir):             0o700 | os.ModeDir,
		filepath.Join(dir, BlobsDir):              0o700 | os.ModeDir,
		filepath.Join(dir, StagedDir, "staged"):   0o600,
		filepath.Join(dir, BlobsDir, "committed"): 0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
}

// TestSymlinksStayInside plants symbolic links pointing out of the
// directory: the store neither reads nor writes through them.
func TestSymlinksStayInside(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir)
	if err := os.Symlink(secret, filepath.Join(dir, BlobsDir, "link")); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Open(t.Context(), "link"); err == nil {
		data, _ := io.ReadAll(r)
		r.Close()
		t.Fatalf("Open followed a link out of the directory and read %q", data)
	}
	if err := os.Symlink(filepath.Join(outside, "planted"), filepath.Join(dir, StagedDir, "planted")); err != nil {
		t.Fatal(err)
	}
	if w, err := s.Stage(t.Context(), "planted"); err == nil {
		w.Write([]byte("x"))
		w.Close()
		t.Fatal("Stage wrote through a planted link")
	}
	// The whole blobs directory replaced by a link out.
	if err := os.Rename(filepath.Join(dir, BlobsDir), filepath.Join(dir, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, BlobsDir)); err != nil {
		t.Fatal(err)
	}
	put(t, s, "escape", []byte("x"))
	if err := s.Commit(t.Context(), "escape"); err == nil {
		t.Fatal("Commit linked into a directory outside")
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("files appeared outside: %v", entries)
	}
}

// TestFailedWriteNeverCommits fills the disk under a staged blob: the write
// fails with ErrUnavailable, Close removes the short file instead of keeping
// it, nothing is visible, and once space is freed the store works again.
func TestFailedWriteNeverCommits(t *testing.T) {
	dir := storetest.SmallFS(t, 4<<20)
	s := openTest(t, filepath.Join(dir, "blobs"))
	ctx := t.Context()
	put(t, s, "before", []byte("kept"))
	if err := s.Commit(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	w, err := s.Stage(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var werr error
	for range 200 { // 12.5 MiB into 4 MiB
		if _, werr = w.Write(chunk); werr != nil {
			break
		}
	}
	if !errors.Is(werr, store.ErrUnavailable) {
		t.Fatalf("writing past a full disk: err = %v, want ErrUnavailable", werr)
	}
	if _, err := w.Write(chunk); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write after a failed write: err = %v", err)
	}
	if err := w.Close(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Close after a failed write: err = %v, want the write's ErrUnavailable", err)
	}
	if err := s.Commit(ctx, "big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Commit of a failed blob: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Open(ctx, "big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of a failed blob: err = %v", err)
	}
	// Full for real now: even a small blob fails, with a clear error.
	filler := storetest.Fill(t, dir)
	w, err = s.Stage(ctx, "small")
	if err == nil {
		_, err = w.Write(chunk)
		if err == nil {
			err = w.Close()
		} else {
			w.Abort()
		}
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("staging on a full disk: err = %v, want ErrUnavailable", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	put(t, s, "after", chunk)
	if err := s.Commit(ctx, "after"); err != nil {
		t.Fatalf("Commit once space is free: %v", err)
	}
	r, err := s.Open(ctx, "before")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, err := io.ReadAll(r); err != nil || string(data) != "kept" {
		t.Fatalf("earlier blob: %q, %v", data, err)
	}
}

func TestAbortAfterClose(t *testing.T) {
	s := openTest(t, t.TempDir())
	w := put(t, s, "x", []byte("data"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context(), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Commit after Close and Abort: err = %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Close after Abort: err = %v", err)
	}
}

// TestCommitWhileWriting refuses to commit a blob this Store is still
// writing: its content is not complete nor synced yet.
func TestCommitWhileWriting(t *testing.T) {
	s := openTest(t, t.TempDir())
	w, err := s.Stage(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half"))
	if err := s.Commit(t.Context(), "x"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit while writing: err = %v, want ErrConflict", err)
	}
	if list, _ := s.StagedBefore(t.Context(), time.Now().Add(time.Hour)); slices.Contains(list, "x") {
		t.Fatal("StagedBefore lists a blob this Store is writing")
	}
	// Deleting it under the writer makes the writer fail, not write on.
	if err := s.Delete(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("more")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Delete: err = %v, want ErrClosed", err)
	}
}

// TestCrashLeftover simulates a crash between the commit's link and the
// removal of the staged name: StagedBefore removes the leftover without
// listing it, so a clean-up cannot delete the committed blob.
func TestCrashLeftover(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	put(t, s, "x", []byte("committed"))
	if err := s.Commit(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, BlobsDir, "x"), filepath.Join(dir, StagedDir, "x")); err != nil {
		t.Fatal(err)
	}
	list, err := s.StagedBefore(t.Context(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("StagedBefore lists %v", list)
	}
	if _, err := os.Lstat(filepath.Join(dir, StagedDir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover staged name: %v", err)
	}
	r, err := s.Open(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, _ := io.ReadAll(r); string(data) != "committed" {
		t.Fatalf("committed blob: %q", data)
	}
	// Files that are not blob names are neither listed nor touched.
	stray := filepath.Join(dir, StagedDir, "not a blob")
	if err := os.WriteFile(stray, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.StagedBefore(t.Context(), time.Now().Add(time.Hour)); len(list) != 0 {
		t.Fatalf("StagedBefore lists %v", list)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Fatal(err)
	}
}

// TestStreamingAllocations checks the O(chunk) bound strictly for this
// store: writing and reading 64 MiB in 64 KiB steps allocates almost
// nothing, whatever the blob size.
func TestStreamingAllocations(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	chunk := bytes.Repeat([]byte{7}, 64<<10)
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, err := s.Stage(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < size; i += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	n := int64(0)
	for {
		m, err := r.Read(chunk)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	runtime.ReadMemStats(&after)
	if n != size {
		t.Fatalf("read %d bytes", n)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
		t.Fatalf("streaming 64 MiB in and out allocated %d KiB", got>>10)
	}
}

func TestOpenFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open on a file: err = %v", err)
	}
	if _, err := Open(filepath.Join(file, "sub")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open under a file: err = %v", err)
	}
}
