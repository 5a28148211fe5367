package mongo

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// outageBound is how long any call may take with the database gone, given
// the short timeouts the outage test sets (0.5 s to select a server, 2 s per
// operation). It is ten times that, to stay clear of a slow machine: the
// test is that calls fail at all instead of hanging, not how fast.
const outageBound = 25 * time.Second

func newTestUser(t testing.TB) *store.User {
	t.Helper()
	id, err := ids.New(ids.User, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ids.New(ids.Client, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &store.User{ID: id, ClientID: client, ExternalID: "ext-" + id, ShareWrapped: []byte("wrapped share"),
		ShareVersion: 1, CreatedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// stage stages a blob and writes data to it.
func stage(t testing.TB, b store.BlobStore, name string, data []byte) store.StagedBlob {
	t.Helper()
	w, err := b.Stage(t.Context(), name)
	if err != nil {
		t.Fatalf("Stage(%s): %v", name, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%s): %v", name, err)
	}
	return w
}

// writeBlob stages, writes, closes and commits a blob.
func writeBlob(t testing.TB, b store.BlobStore, name string, data []byte) {
	t.Helper()
	if err := stage(t, b, name, data).Close(); err != nil {
		t.Fatalf("Close(%s): %v", name, err)
	}
	if err := b.Commit(t.Context(), name); err != nil {
		t.Fatalf("Commit(%s): %v", name, err)
	}
}

func readBlob(t testing.TB, b store.BlobStore, name string) []byte {
	t.Helper()
	r, err := b.Open(t.Context(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if int64(len(data)) != r.Size() {
		t.Fatalf("%s: read %d bytes, Size says %d", name, len(data), r.Size())
	}
	return data
}

// TestOutage kills the test's FerretDB under a Store: every call must
// fail with ErrUnavailable within a bounded time, and work again once the
// database is back, on the same Store.
func TestOutage(t *testing.T) {
	needEngine(t)
	if engine.ferret == nil {
		t.Skip("needs the test's own FerretDB, which it can kill and start again; the MongoDB of ASSENT_TEST_MONGODB_URI is not the test's to stop")
	}
	s := openStore(t, WithServerSelectionTimeout(500*time.Millisecond), WithOperationTimeout(2*time.Second), WithChunkSize(64))
	ctx := t.Context() // no deadline: the bounds must come from the Store
	blobs := s.Blobs()

	u := newTestUser(t)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("ciphertext"), 50)
	writeBlob(t, blobs, "before", content)
	reader, err := blobs.Open(ctx, "before")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	writer, err := blobs.Stage(ctx, "during")
	if err != nil {
		t.Fatal(err)
	}

	engine.ferret.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			engine.ferret.Restart()
		}
	})

	other := newTestUser(t)
	calls := map[string]func() error{
		"Ping":        func() error { return s.Ping(ctx) },
		"GetUser":     func() error { _, err := s.GetUser(ctx, u.ID); return err },
		"CreateUser":  func() error { return s.CreateUser(ctx, other) },
		"CountRecord": func() error { _, err := s.CountRecords(ctx, u.ID); return err },
		"SetDeviceState": func() error {
			id, _ := ids.New(ids.Device, rand.Reader)
			return s.SetDeviceState(ctx, id, store.DeviceActive, store.DeviceRevoked, time.Now())
		},
		"RememberNonce": func() error {
			id, _ := ids.New(ids.Device, rand.Reader)
			return s.RememberNonce(ctx, id, "nonce", time.Now().Add(time.Minute), time.Now())
		},
		"AppendAudit": func() error {
			_, err := s.AppendAudit(ctx, &store.AuditEntry{UserID: u.ID, Event: store.EventUserCreated, Actor: "server", At: time.Now()})
			return err
		},
		"Blobs.Stage":  func() error { _, err := blobs.Stage(ctx, "new"); return err },
		"Blobs.Open":   func() error { _, err := blobs.Open(ctx, "before"); return err },
		"Blobs.Commit": func() error { return blobs.Commit(ctx, "during") },
		"Blob.Read":    func() error { _, err := io.ReadAll(reader); return err },
		"StagedBlob.Write": func() error {
			_, err := writer.Write(make([]byte, 200)) // over a chunk, so it reaches the database
			return err
		},
	}
	// All at once: each waits for its own server selection to time out.
	type result struct {
		err  error
		took time.Duration
	}
	results := make(map[string]result, len(calls))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			start := time.Now()
			err := call()
			mu.Lock()
			results[name] = result{err, time.Since(start)}
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, r := range results {
		t.Logf("%s failed after %v: %v", name, r.took.Round(time.Millisecond), r.err)
		if !errors.Is(r.err, store.ErrUnavailable) {
			t.Errorf("%s with the database stopped: err = %v, want ErrUnavailable", name, r.err)
		}
		if r.took > outageBound {
			t.Errorf("%s with the database stopped took %v, over %v", name, r.took, outageBound)
		}
	}
	if err := writer.Close(); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Close of a blob whose write failed: err = %v, want ErrUnavailable", err)
	}

	if err := engine.ferret.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(outageBound)
	for err := s.Ping(ctx); err != nil; err = s.Ping(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("Ping still failing %v after the restart: %v", outageBound, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser after the restart: %v", err)
	}
	if got.ExternalID != u.ExternalID {
		t.Fatalf("GetUser after the restart: external id %q, want %q", got.ExternalID, u.ExternalID)
	}
	if _, err := s.GetUser(ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the user created during the outage: err = %v, want ErrNotFound (the failed call changed nothing)", err)
	}
	if err := s.CreateUser(ctx, other); err != nil {
		t.Fatalf("CreateUser after the restart: %v", err)
	}
	if got := readBlob(t, blobs, "before"); !bytes.Equal(got, content) {
		t.Fatal("the blob written before the outage reads back different")
	}
	if err := writer.Abort(); err != nil {
		t.Fatalf("Abort of the blob cut by the outage: %v", err)
	}
	if _, err := blobs.Open(ctx, "during"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of the aborted blob: err = %v, want ErrNotFound", err)
	}
	writeBlob(t, blobs, "during", content) // the name is free again
}
