package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assent-dev/assent/store/sqlite"
)

func TestUploadCap(t *testing.T) {
	const limit = 200 << 10
	e := newEnv(t, func(c *Config) { c.MaxUploadSize = limit })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)

	// Declared too large: refused before reading.
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, make([]byte, limit+1)).
		wantError(t, http.StatusRequestEntityTooLarge, "too_large")

	// Not declared (chunked): cut off mid-stream, staged data deleted.
	big := bytes.Repeat([]byte("z"), 3*limit)
	req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/v1/records/"+rid+"/content", chunked(string(big)))
	req.Header.Set("Authorization", "Bearer "+e.writer)
	e.send(req).wantError(t, http.StatusRequestEntityTooLarge, "too_large")
	if slices.Contains(e.stagedNames(t), rid) {
		t.Fatal("staged blob left after a cut-off upload")
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "awaiting_upload" || r.Size != nil {
		t.Fatalf("record after a cut-off upload %+v", r)
	}
	if e.srv.pending.len() != 0 {
		t.Fatal("secrets held after a cut-off upload")
	}

	// Exactly the cap is fine, and the record can be retried.
	e.upload(t, rid, make([]byte, limit))
	// Once only.
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, []byte("again")).wantError(t, http.StatusConflict, "conflict")
}

func TestUploadRules(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	otherWriter := e.client("other writer", ScopeRecordsWrite)
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", otherWriter, []byte("x")).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.reader, []byte("x")).wantError(t, http.StatusForbidden, "forbidden")

	// A user without an active device cannot be asked.
	lonely := e.newUser(t)
	lrid := e.createRecord(t, lonely.UserID)
	r := e.do(http.MethodPut, "/v1/records/"+lrid+"/content", e.writer, []byte("x"))
	r.wantError(t, http.StatusConflict, "conflict")
	if !bytes.Contains(r.body, []byte("user has no active device")) {
		t.Errorf("message %s", r.body)
	}
	if slices.Contains(e.stagedNames(t), lrid) {
		t.Error("blob staged for a user without a device")
	}

	// An empty record is a record.
	p := e.upload(t, rid, nil)
	d.answer(t, d.request(t, p.RequestID), "approve").want(t, http.StatusOK)
	sid := e.openSession(t, d, rid)
	got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK)
	if len(got.body) != 0 || got.header.Get("Content-Length") != "0" {
		t.Fatalf("empty record downloaded as %d bytes", len(got.body))
	}
}

// TestUploadInterrupted: a client that goes away mid-upload leaves nothing.
func TestUploadInterrupted(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/v1/records/"+rid+"/content", pr)
	req.Header.Set("Authorization", "Bearer "+e.writer)
	done := make(chan error, 1)
	go func() {
		res, err := e.ts.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	if _, err := pw.Write(make([]byte, 300<<10)); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done
	if r := e.record(t, rid, e.writer, ""); r.State != "awaiting_upload" {
		t.Fatalf("record %s after an interrupted upload", r.State)
	}
	// The server notices when it next reads; then the staged blob goes and
	// the record is free for another upload.
	waitFor(t, func() bool { return strings.Contains(e.logs.String(), `"method":"PUT"`) }, "the interrupted upload to end")
	if slices.Contains(e.stagedNames(t), rid) {
		t.Fatal("staged blob of an interrupted upload left")
	}
	e.upload(t, rid, []byte("second try"))
}

// TestStoreFailure: with the database gone every call that needs it is
// 503 unavailable and nothing is half done; when it is back, the same
// server works again.
func TestStoreFailure(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	db := filepath.Join(e.dir, sqlite.FileName)
	away := db + ".away"
	down := func() {
		if err := os.Rename(db, away); err != nil {
			t.Fatal(err)
		}
	}
	up := func() {
		if err := os.Rename(away, db); err != nil {
			t.Fatal(err)
		}
	}

	down()
	e.do(http.MethodGet, "/healthz", "", nil).want(t, http.StatusOK)
	e.do(http.MethodGet, "/readyz", "", nil).wantError(t, http.StatusServiceUnavailable, "unavailable")
	e.do(http.MethodPost, "/v1/users", e.admin, map[string]string{"external_id": "y"}).wantError(t, http.StatusServiceUnavailable, "unavailable")
	d.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusServiceUnavailable, "unavailable")
	if err := e.srv.sweep(t.Context()); err == nil {
		t.Error("sweep reported no error with the store down")
	}
	up()

	// The database goes away in the middle of an upload: the staged blob
	// is deleted, the data key dropped, and the record can be retried.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/v1/records/"+rid+"/content", pr)
	req.Header.Set("Authorization", "Bearer "+e.writer)
	res := make(chan *http.Response, 1)
	go func() {
		r, err := e.ts.Client().Do(req)
		if err != nil {
			res <- nil
			return
		}
		res <- r
	}()
	if _, err := pw.Write(make([]byte, 200<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return slices.Contains(e.stagedNames(t), rid) }, "the upload to be staged")
	down()
	pw.Close()
	r := <-res
	if r == nil {
		t.Fatal("upload failed at the transport")
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	(&resp{status: r.StatusCode, header: r.Header, body: b}).wantError(t, http.StatusServiceUnavailable, "unavailable")
	if slices.Contains(e.stagedNames(t), rid) {
		t.Error("staged blob left after the store failed")
	}
	if e.srv.pending.len() != 0 {
		t.Error("secrets held after the store failed")
	}
	up()

	e.do(http.MethodGet, "/readyz", "", nil).want(t, http.StatusOK)
	if rec := e.record(t, rid, e.writer, ""); rec.State != "awaiting_upload" {
		t.Fatalf("record %s after the failed upload", rec.State)
	}
	p := e.upload(t, rid, []byte("after recovery"))
	d.answer(t, d.request(t, p.RequestID), "approve").want(t, http.StatusOK)
	if rec := e.record(t, rid, e.writer, "?wait=5"); rec.State != "sealed" {
		t.Fatalf("record %s after recovery", rec.State)
	}
}
