package sqlite

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

// The storage failures of the issue: every one gives an error wrapping
// ErrUnavailable, changes nothing, and the store works again once the cause
// is gone.

func wantUnavailable(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: err = %v, want ErrUnavailable", what, err)
	}
}

// checkDown checks that reads, writes and Ping fail with ErrUnavailable and
// returns a record whose creation was refused.
func checkDown(t *testing.T, s *Store, existing string) *store.Record {
	t.Helper()
	_, err := s.GetRecord(t.Context(), existing)
	wantUnavailable(t, err, "GetRecord")
	refused := newRecord(t)
	wantUnavailable(t, s.CreateRecord(t.Context(), refused), "CreateRecord")
	wantUnavailable(t, s.EndRecord(t.Context(), existing, store.RecordRejected, t0), "EndRecord")
	wantUnavailable(t, s.Ping(t.Context()), "Ping")
	return refused
}

// checkUp checks that the store works and that neither the refused record
// nor the refused transition happened.
func checkUp(t *testing.T, s *Store, existing string, refused *store.Record) {
	t.Helper()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping once the cause is gone: %v", err)
	}
	r, err := s.GetRecord(t.Context(), existing)
	if err != nil || r.State != store.RecordAwaitingUpload {
		t.Fatalf("record once the cause is gone: %v, %v", r, err)
	}
	if _, err := s.GetRecord(t.Context(), refused.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record refused meanwhile: err = %v, want ErrNotFound", err)
	}
	if err := s.CreateRecord(t.Context(), newRecord(t)); err != nil {
		t.Fatalf("CreateRecord once the cause is gone: %v", err)
	}
}

func withRecord(t *testing.T, opts Options) (dir string, s *Store, id string) {
	t.Helper()
	dir = t.TempDir()
	s = openTest(t, dir, opts)
	r := newRecord(t)
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return dir, s, r.ID
}

func TestFileMovedAway(t *testing.T) {
	dir, s, id := withRecord(t, Options{})
	path := filepath.Join(dir, FileName)
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	refused := checkDown(t, s, id)
	if err := os.Rename(path+".away", path); err != nil {
		t.Fatal(err)
	}
	checkUp(t, s, id, refused)
}

// TestFileDeleted removes the file for good: SQLite would go on writing to
// the unlinked file and lose it all at close; the store refuses instead.
func TestFileDeleted(t *testing.T) {
	dir, s, id := withRecord(t, Options{})
	if err := os.Remove(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	checkDown(t, s, id)
	// A new process must not silently start an empty database next to the
	// old WAL either: Open makes a new file, which has no records.
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the store recreated the file: %v", err)
	}
}

func TestFileReplaced(t *testing.T) {
	dir, s, id := withRecord(t, Options{})
	path := filepath.Join(dir, FileName)
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	checkDown(t, s, id)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".old", path); err != nil {
		t.Fatal(err)
	}
	checkUp(t, s, id, newRecord(t))
}

// immutable sets or clears the immutable attribute (chattr), which makes a
// file read-only even for root and even through open descriptors on ext4.
func immutable(t *testing.T, on bool, paths ...string) {
	t.Helper()
	flag := "-i"
	if on {
		flag = "+i"
	}
	for _, p := range paths {
		if out, err := exec.Command("chattr", flag, p).CombinedOutput(); err != nil {
			if on {
				t.Skipf("cannot make %s read-only with chattr (%v: %s): needs root and a filesystem with the immutable attribute", p, err, out)
			}
			t.Errorf("chattr -i %s: %v: %s", p, err, out)
		}
	}
}

// probeImmutable skips the test unless writes through an open descriptor
// fail once its file is made immutable (ext4 does; not every filesystem).
func probeImmutable(t *testing.T, dir string) {
	t.Helper()
	probe := filepath.Join(dir, "probe")
	f, err := os.OpenFile(probe, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	defer f.Close()
	immutable(t, true, probe)
	_, err = f.Write([]byte("x"))
	immutable(t, false, probe)
	if err == nil {
		t.Skip("this filesystem lets open files write past the immutable attribute: cannot make the database read-only under a running store")
	}
}

func TestReadOnlyFile(t *testing.T) {
	dir, s, id := withRecord(t, Options{})
	probeImmutable(t, dir)
	files := []string{filepath.Join(dir, FileName), filepath.Join(dir, FileName+"-wal")}
	immutable(t, true, files...)
	t.Cleanup(func() { immutable(t, false, files...) })

	refused := newRecord(t)
	wantUnavailable(t, s.CreateRecord(t.Context(), refused), "CreateRecord on a read-only file")
	wantUnavailable(t, s.EndRecord(t.Context(), id, store.RecordRejected, t0), "EndRecord on a read-only file")
	if _, err := s.GetRecord(t.Context(), id); err != nil {
		t.Fatalf("GetRecord on a read-only file: %v", err)
	}
	// A new process cannot open it for writing either.
	if _, err := Open(t.Context(), dir); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of a read-only file: err = %v", err)
	}
	immutable(t, false, files...)
	checkUp(t, s, id, refused)
}

func TestDiskFull(t *testing.T) {
	fs := storetest.SmallFS(t, 1<<20)
	s := openTest(t, filepath.Join(fs, "data"), Options{})
	kept := newRecord(t)
	if err := s.CreateRecord(t.Context(), kept); err != nil {
		t.Fatal(err)
	}
	filler := storetest.Fill(t, fs)
	var refused *store.Record
	for range 2000 {
		r := newRecord(t)
		r.Title = string(make([]byte, store.MaxTextLen))
		err := s.CreateRecord(t.Context(), r)
		if err == nil {
			continue // WAL pages free from an earlier checkpoint
		}
		wantUnavailable(t, err, "CreateRecord on a full disk")
		refused = r
		break
	}
	if refused == nil {
		t.Fatal("2000 records written on a full disk")
	}
	if _, err := s.GetRecord(t.Context(), kept.ID); err != nil {
		t.Fatalf("GetRecord on a full disk: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	checkUp(t, s, kept.ID, refused)
}

// TestBusy holds the write lock from another connection (another process):
// a write waits for the busy timeout, then fails with ErrUnavailable; reads
// go on meanwhile.
func TestBusy(t *testing.T) {
	dir, s, id := withRecord(t, Options{BusyTimeout: 100 * time.Millisecond})
	conn, err := rawDB(t, dir).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	refused := newRecord(t)
	wantUnavailable(t, s.CreateRecord(t.Context(), refused), "CreateRecord while another holds the write lock")
	if _, err := s.GetRecord(t.Context(), id); err != nil {
		t.Fatalf("GetRecord while another holds the write lock: %v", err)
	}
	if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	checkUp(t, s, id, refused)
}
