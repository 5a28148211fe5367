package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/envelope"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/blobdir"
	"github.com/assent-dev/assent/store/sqlite"
	"github.com/assent-dev/assent/threshold"
)

// maxKeptPlain is the largest plaintext whose ciphertext the store keeps.
var maxKeptPlain = func() int {
	n := store.MaxInlineContent
	for envelope.CiphertextSize(int64(n)) > store.MaxInlineContent {
		n--
	}
	return n
}()

// largeContent returns random content one byte too large for the store
// to keep: its upload stages a blob.
func largeContent(t testing.TB) []byte { return randomContent(t, maxKeptPlain+1) }

// leaveStaged stages a blob of record rid as an upload that crashed would
// leave it: written, closed, never committed.
func (e *testEnv) leaveStaged(t *testing.T, rid string) {
	t.Helper()
	b, err := e.blobs.Stage(t.Context(), rid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("half an upload")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// committedBlob reports whether record rid has a committed blob file.
func (e *testEnv) committedBlob(t *testing.T, rid string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(e.dir, "blobs", blobdir.BlobsDir, rid))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// keptContent returns the ciphertext the store keeps for rid, nil if none.
func (e *testEnv) keptContent(t *testing.T, rid string) []byte {
	t.Helper()
	b, err := e.st.RecordContent(t.Context(), rid)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadStream uploads content to rid with no declared length (chunked).
func (e *testEnv) uploadStream(t *testing.T, rid string, content []byte) wirePending {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/v1/records/"+rid+"/content", io.MultiReader(bytes.NewReader(content)))
	req.Header.Set("Authorization", "Bearer "+e.writer)
	if req.ContentLength != 0 {
		t.Fatal("the request declares a length")
	}
	var p wirePending
	e.send(req).want(t, http.StatusAccepted).decode(t, &p)
	return p
}

// TestSmallRecordsKeptInStore: a record whose ciphertext fits
// store.MaxInlineContent is kept by the store and has no blob file, staged
// or committed, whether its length is declared or not; one byte more goes
// to the blob store. Both kinds download as uploaded.
func TestSmallRecordsKeptInStore(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DownloadsPerSession = 1 })
	d := e.userWithDevice(t)
	for _, tc := range []struct {
		size     int
		streamed bool
		kept     bool
	}{
		{0, false, true}, {4096, false, true}, {4096, true, true},
		{maxKeptPlain, false, true}, {maxKeptPlain, true, true},
		{maxKeptPlain + 1, false, false}, {maxKeptPlain + 1, true, false}, {3 * envelope.ChunkSize, true, false},
	} {
		t.Run(fmt.Sprintf("%d,streamed=%v", tc.size, tc.streamed), func(t *testing.T) {
			content := randomContent(t, tc.size)
			rid := e.createRecord(t, d.userID)
			var p wirePending
			if tc.streamed {
				p = e.uploadStream(t, rid, content)
			} else {
				p = e.upload(t, rid, content)
			}
			if staged := slices.Contains(e.stagedNames(t), rid); staged == tc.kept {
				t.Fatalf("staged blob: %v, want %v", staged, !tc.kept)
			}
			d.answer(t, d.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
			if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "sealed" {
				t.Fatalf("record %s", r.State)
			}
			kept := e.keptContent(t, rid)
			if (kept != nil) != tc.kept || e.committedBlob(t, rid) == tc.kept || slices.Contains(e.stagedNames(t), rid) {
				t.Fatalf("kept %d bytes, committed blob %v; want kept %v", len(kept), e.committedBlob(t, rid), tc.kept)
			}
			if kept != nil && int64(len(kept)) != envelope.CiphertextSize(int64(tc.size)) {
				t.Fatalf("kept %d bytes, want the envelope's %d", len(kept), envelope.CiphertextSize(int64(tc.size)))
			}
			sid := e.openSession(t, d, rid)
			got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK)
			if !bytes.Equal(got.body, content) {
				t.Fatalf("downloaded %d bytes, not the %d uploaded", len(got.body), len(content))
			}
		})
	}
}

// setKept rewrites the ciphertext the store keeps for rid behind the
// server's back, through a connection of its own to the database file.
func (e *testEnv) setKept(t *testing.T, rid string, b []byte) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.Exec(`UPDATE record_contents SET content = ? WHERE record_id = ?`, b, rid)
	if n, _ := r.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tampering: %v (%d rows)", err, n)
	}
}

// TestTamperedKeptContent: a kept ciphertext altered in the database is
// detected at download: a flipped byte fails the chunk's authentication
// (the client gets no byte of it), a shortened one fails the size check
// before anything is sent.
func TestTamperedKeptContent(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	content := randomContent(t, 20000)

	rid := e.sealed(t, d, content)
	kept := e.keptContent(t, rid)
	flipped := bytes.Clone(kept)
	flipped[envelope.HeaderSize+500] ^= 0x40
	e.setKept(t, rid, flipped)
	sid := e.openSession(t, d, rid)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/sessions/"+sid+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+e.reader)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, rerr := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusOK && rerr == nil || len(got) > 0 && bytes.Contains(content, got) {
		t.Fatalf("a tampered download: status %d, %d bytes, read error %v", res.StatusCode, len(got), rerr)
	}
	if !strings.Contains(e.logs.String(), "failed authentication") {
		t.Error("the failed chunk is not logged")
	}

	rid = e.sealed(t, d, content)
	e.setKept(t, rid, e.keptContent(t, rid)[:envelope.CiphertextSize(int64(len(content)))-1])
	sid = e.openSession(t, d, rid)
	e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).wantError(t, http.StatusInternalServerError, "internal")
}

// wantNothingKept checks that record rid awaits its upload with nothing
// left of a failed one: no secrets, staged blob or kept ciphertext.
func (e *testEnv) wantNothingKept(t *testing.T, rid string) {
	t.Helper()
	if r := e.record(t, rid, e.writer, ""); r.State != "awaiting_upload" {
		t.Fatalf("record %s after a failed upload", r.State)
	}
	if e.srv.pending.len() != 0 || slices.Contains(e.stagedNames(t), rid) || e.keptContent(t, rid) != nil {
		t.Fatalf("left after a failed upload: %d secrets, staged %v, kept %d bytes",
			e.srv.pending.len(), slices.Contains(e.stagedNames(t), rid), len(e.keptContent(t, rid)))
	}
}

// TestSmallUploadTruncated: a small upload cut off, with its length
// declared or not, leaves nothing and the record free for a retry.
func TestSmallUploadTruncated(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)

	// Declared 4096 bytes, 1000 sent, then the connection closes.
	rid := e.createRecord(t, d.userID)
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /v1/records/%s/content HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 4096\r\n\r\n%s",
		rid, e.writer, strings.Repeat("a", 1000))
	conn.Close()
	waitFor(t, func() bool { return strings.Contains(e.logs.String(), `"method":"PUT"`) }, "the truncated upload to end")
	e.wantNothingKept(t, rid)
	p := e.upload(t, rid, []byte("second try"))
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionDeny).want(t, http.StatusOK)
	waitFor(t, func() bool { return e.srv.pending.len() == 0 }, "the denied request's secrets to go")

	// No declared length, cut off by the client.
	rid = e.createRecord(t, d.userID)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/v1/records/"+rid+"/content", pr)
	req.Header.Set("Authorization", "Bearer "+e.writer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := e.ts.Client().Do(req); err == nil {
			res.Body.Close()
		}
	}()
	if _, err := pw.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done
	waitFor(t, func() bool { return strings.Count(e.logs.String(), `"method":"PUT"`) >= 3 }, "the interrupted upload to end")
	e.wantNothingKept(t, rid)
	e.upload(t, rid, []byte("second try"))
}

// stageFailStore fails StageAndAsk as an unavailable database would, when
// told to.
type stageFailStore struct {
	store.Store
	fail atomic.Bool
}

func (s *stageFailStore) StageAndAsk(ctx context.Context, id string, st store.Staging, q *store.Request, e *store.AuditEntry) error {
	if s.fail.Load() {
		return fmt.Errorf("test: %w: disk gone", store.ErrUnavailable)
	}
	return s.Store.StageAndAsk(ctx, id, st, q, e)
}

// TestSmallUploadStoreFails: when the store cannot take a small record's
// staging (its ciphertext with it), the upload is 503 and leaves nothing;
// a retry after the store is back seals and opens.
func TestSmallUploadStoreFails(t *testing.T) {
	fs := &stageFailStore{}
	e := newEnv(t, nil, func(d *Deps) { fs.Store = d.Store; d.Store = fs })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	content := randomContent(t, 4096)
	fs.fail.Store(true)
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, content).wantError(t, http.StatusServiceUnavailable, "unavailable")
	e.wantNothingKept(t, rid)
	fs.fail.Store(false)
	p := e.upload(t, rid, content)
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "sealed" {
		t.Fatalf("record %s after the retry", r.State)
	}
	sid := e.openSession(t, d, rid)
	if got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK); !bytes.Equal(got.body, content) {
		t.Fatal("the retried record does not download as uploaded")
	}
}

// TestKeptContentEnds: a denied record and an expired one keep no
// ciphertext in the store.
func TestKeptContentEnds(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	denied := e.createRecord(t, d.userID)
	p := e.upload(t, denied, []byte("deny me"))
	if e.keptContent(t, denied) == nil {
		t.Fatal("no ciphertext kept while pending")
	}
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionDeny).want(t, http.StatusOK)
	if r := e.record(t, denied, e.writer, "?wait=5"); r.State != "rejected" {
		t.Fatalf("denied record %s", r.State)
	}
	waitFor(t, func() bool { return e.keptContent(t, denied) == nil }, "the denied record's ciphertext to go")

	expired := e.createRecord(t, d.userID)
	e.upload(t, expired, []byte("let me expire"))
	e.clock.Advance(e.cfg.ApprovalTTL + processingGrace + time.Second)
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, expired, e.writer, ""); r.State != "expired" || e.keptContent(t, expired) != nil {
		t.Fatalf("expired record %s keeps %d bytes", r.State, len(e.keptContent(t, expired)))
	}
}

// TestSweepStagedOfKeptRecord: a staged blob that a crashed large upload
// left behind, when the retry was small and kept by the store, belongs to
// no one: the sweeper deletes it, and the sealed record still opens.
func TestSweepStagedOfKeptRecord(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	e.leaveStaged(t, rid)
	content := []byte("the small retry")
	p := e.upload(t, rid, content)
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "sealed" {
		t.Fatalf("record %s", r.State)
	}
	e.clock.Advance(e.cfg.ApprovalTTL + processingGrace + stagedMargin + time.Minute)
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e.stagedNames(t), rid) {
		t.Fatal("the orphaned staged blob is still there")
	}
	sid := e.openSession(t, d, rid)
	if got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK); !bytes.Equal(got.body, content) {
		t.Fatal("the sealed record does not download as uploaded")
	}
}
