package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/envelope"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// TestNoConsentBaseline: the benchmark's baseline route exists only with
// Deps.NoConsentBaseline; there it seals an upload at once, its key wrapped
// under the server's own key, over the same envelope and blob store, and
// refuses what an upload refuses.
func TestNoConsentBaseline(t *testing.T) {
	path := func(rid string) string { return strings.Replace(BaselineUploadPath, ":rid", rid, 1) }

	off := newEnv(t, nil)
	d := off.userWithDevice(t)
	rid := off.createRecord(t, d.userID)
	off.do(http.MethodPut, path(rid), off.writer, []byte("x")).want(t, http.StatusNotFound)

	e := newEnv(t, nil, func(d *Deps) { d.NoConsentBaseline = true })
	d = e.userWithDevice(t)
	rid = e.createRecord(t, d.userID)
	content := bytes.Repeat([]byte("no consent "), 10000)
	e.do(http.MethodPut, path(rid), e.reader, content).want(t, http.StatusForbidden)
	var r api.CreatedRecord
	e.do(http.MethodPut, path(rid), e.writer, content).want(t, http.StatusOK).decode(t, &r)
	if r.State != store.RecordSealed {
		t.Fatalf("baseline upload answered %+v", r)
	}
	e.do(http.MethodPut, path(rid), e.writer, content).want(t, http.StatusConflict)

	rec, err := e.st.GetRecord(t.Context(), rid)
	if err != nil || rec.State != store.RecordSealed {
		t.Fatalf("record after the baseline upload: %v, %v", rec, err)
	}
	ad, err := threshold.WrapAD(rec.UserID, rid, rec.ContentSHA256, uint64(rec.Size))
	if err != nil {
		t.Fatal(err)
	}
	dek, err := threshold.UnwrapDEK(e.srv.baseline.kek, rec.WrappedDEK, ad)
	if err != nil {
		t.Fatalf("the baseline's wrapped key: %v", err)
	}
	blob, err := e.srv.blobs.Open(t.Context(), rid)
	if err != nil {
		t.Fatal(err)
	}
	defer blob.Close()
	er, err := envelope.NewReader(blob, dek)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(er)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the baseline's blob does not open to the content: %v", err)
	}
}
