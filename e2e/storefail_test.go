package e2e

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assent-dev/assent/store"
)

// chmodReadOnly drops or restores the owner's write permission of path.
func chmodReadOnly(path string, readOnly bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	mode := fi.Mode().Perm()
	if readOnly {
		mode &^= 0o222
	} else {
		mode |= 0o200
	}
	return os.Chmod(path, mode)
}

// makeReadOnly makes the data directory and everything in it read-only
// for the server, as a disk remounted read-only or a revoked permission
// would: the directory, the database and its write-ahead log, the blob
// directories and blobs, the master key. Only SQLite's shared-memory index
// (-shm), which it maps into memory, stays writable, as on a read-only
// mount SQLite would keep it in memory. It returns the function that makes
// everything writable again, also called when the test ends.
func makeReadOnly(t *testing.T, dir string) (restore func()) {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !strings.HasSuffix(path, "-shm") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		for _, p := range slices.Backward(paths) {
			if err := setReadOnly(p, false); err != nil {
				t.Errorf("making %s writable again: %v", p, err)
			}
		}
	}
	t.Cleanup(restore)
	for _, p := range paths {
		if err := setReadOnly(p, true); err != nil {
			t.Fatalf("making the data directory read-only: %v", err)
		}
	}
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o600); err == nil {
		os.Remove(probe)
		t.Fatalf("the data directory %s is still writable after making it read-only", dir)
	}
	return restore
}

// wantUnavailable checks a 503 with DESIGN.md's error body and a message
// that says what is wrong.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	ae := wantAPIError(t, err, http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(ae.Message, "unavailable") || !strings.Contains(ae.Message, "try again") {
		t.Fatalf("%s: 503 message %q does not say the storage is unavailable and to try again", what, ae.Message)
	}
}

// The store failing (the data directory made read-only): writes answer
// 503 with a clear error, sealed records stay readable and intact, and
// service resumes by itself once the directory is writable again: the
// upload refused during the outage goes through, and the record sealed
// before opens with its content.
func TestStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	before := content(30, recordSize)
	sealed := e.seal("Sealed before the outage", before)
	waiting, err := e.clinic.CreateRecord(e.ctx, e.user.UserID, "Uploaded after the outage", "text/plain", "storage")
	if err != nil {
		t.Fatal(err)
	}
	later := content(31, recordSize)

	restore := makeReadOnly(t, e.cfg.DataDir)

	_, err = e.clinic.CreateRecord(e.ctx, e.user.UserID, "During the outage", "text/plain", "storage")
	wantUnavailable(t, "creating a record", err)
	_, err = e.clinic.Upload(e.ctx, waiting, bytes.NewReader(later), int64(len(later)))
	wantUnavailable(t, "uploading", err)
	_, err = e.clinic.Access(e.ctx, sealed.RecordID, "during the outage")
	wantUnavailable(t, "asking access", err)
	r, err := e.clinic.Record(e.ctx, sealed.RecordID, 0)
	if err != nil || r.State != store.RecordSealed || !bytes.Equal(r.ContentSHA256, sealed.ContentSHA256) {
		t.Fatalf("during the outage the sealed record reads as %+v (%v), want sealed", r, err)
	}
	r, err = e.clinic.Record(e.ctx, waiting, 0)
	if err != nil || r.State != store.RecordAwaitingUpload {
		t.Fatalf("during the outage the record refused an upload is %+v (%v), want still awaiting upload", r, err)
	}

	restore()

	p, err := e.clinic.Upload(e.ctx, waiting, bytes.NewReader(later), int64(len(later)))
	if err != nil {
		t.Fatalf("upload after the outage: %v", err)
	}
	e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)
	s := e.open(e.clinic, sealed.RecordID, "after the outage", store.SessionOpen)
	e.download(e.clinic, s.SessionID, before)
	s = e.open(e.clinic, waiting, "after the outage", store.SessionOpen)
	e.download(e.clinic, s.SessionID, later)

	sealedCount := countEvents(e.audit(), store.EventRecordSealed)
	if sealedCount[sealed.RecordID] != 1 || sealedCount[waiting] != 1 {
		t.Fatalf("audit chain does not show each record sealed once: %v", sealedCount)
	}
}
