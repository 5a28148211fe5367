package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/server"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite api/testdata from the answers of the real server")

// goldenNames names the golden body of each JSON exchange of the flow by
// method and route.
func goldenName(x exchange) string {
	p := x.path
	switch {
	case x.method == "POST" && p == api.PathUsers:
		return "create_user"
	case x.method == "GET" && strings.HasPrefix(p, "/v1/users/") && strings.HasSuffix(p, "/audit"):
		return "audit"
	case x.method == "GET" && (p == api.PathUsers || strings.Count(p, "/") == 3 && strings.HasPrefix(p, "/v1/users/")):
		return "user_" + recordState(x.body)
	case x.method == "POST" && strings.HasSuffix(p, "/enrollment"):
		return "enrollment"
	case x.method == "POST" && strings.HasSuffix(p, "/records"):
		return "create_record"
	case x.method == "PUT" && strings.HasSuffix(p, "/content"):
		return "upload"
	case x.method == "GET" && strings.HasPrefix(p, "/v1/records/"):
		return "record_" + recordState(x.body)
	case x.method == "POST" && strings.HasSuffix(p, "/access"):
		return "access"
	case x.method == "GET" && strings.HasPrefix(p, "/v1/sessions/"):
		return "session_" + recordState(x.body)
	}
	return ""
}

func recordState(body []byte) string {
	var v struct{ State string }
	_ = json.Unmarshal(body, &v)
	return v.State
}

// TestFlow runs the whole third-party flow against a real server and a
// real device agent on loopback, and checks every JSON answer against its
// golden body in api/testdata: the same fields, of the same JSON types.
func TestFlow(t *testing.T) {
	dir := t.TempDir()
	w := startWorld(t, dir)
	t.Cleanup(w.stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := w.c

	u, err := c.CreateUser(ctx, "p-17", "Ada")
	check(t, err)
	if _, err := c.CreateUser(ctx, "p-17", "Ada"); !errors.Is(err, api.ErrConflict) || api.AsError(err).Status != 409 {
		t.Fatalf("same external id again: %v, want 409 conflict", err)
	}
	before, err := c.User(ctx, u.UserID)
	check(t, err)
	if before.State != api.UserAwaitingDevice || len(before.Devices) != 0 || before.ExternalID != "p-17" || before.DisplayName != "Ada" {
		t.Fatalf("user before enrollment: %+v", before)
	}
	stopDevice, userKey := w.enrollKeyed(t, dir, u.EnrollmentCode)
	t.Cleanup(stopDevice)
	after, err := c.User(ctx, u.UserID)
	check(t, err)
	if after.State != api.UserActive || len(after.Devices) != 1 || after.Devices[0].State != api.DeviceActive || after.Devices[0].Name != "phone" {
		t.Fatalf("user after enrollment: %+v", after)
	}
	found, err := c.UserByExternalID(ctx, "p-17")
	check(t, err)
	if !reflect.DeepEqual(found, after) {
		t.Fatalf("by external id %+v, by id %+v", found, after)
	}
	if _, err := c.UserByExternalID(ctx, "p-18"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown external id: %v", err)
	}
	if _, err := c.NewEnrollment(ctx, u.UserID); err != nil {
		t.Fatal(err)
	}

	rec, err := c.CreateRecord(ctx, u.UserID, api.CreateRecordRequest{Title: "MRI", ContentType: "application/dicom", Purpose: "storage"})
	check(t, err)
	if rec.State != api.RecordAwaitingUpload {
		t.Fatalf("new record %+v", rec)
	}
	if _, err := c.Record(ctx, rec.RecordID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyApproval(ctx, rec.RecordID, userKey); !errors.Is(err, client.ErrNotVerified) {
		t.Fatalf("verify a record awaiting upload: %v, want ErrNotVerified", err)
	}
	data := bytes.Repeat([]byte("scan "), 40000) // 200 kB: several envelope chunks
	// Size unknown: sent chunked.
	p, err := c.Upload(ctx, rec.RecordID, bytes.NewReader(data), -1)
	check(t, err)
	if p.State != api.RecordPendingApproval || p.RecordID != rec.RecordID {
		t.Fatalf("upload answer %+v", p)
	}
	sealed, err := c.AwaitRecord(ctx, rec.RecordID)
	check(t, err)
	sum := sha256.Sum256(data)
	if sealed.State != api.RecordSealed || sealed.Approval == nil || !bytes.Equal(sealed.ContentSHA256, sum[:]) || *sealed.Size != int64(len(data)) {
		t.Fatalf("sealed record %+v", sealed)
	}
	rep, err := c.VerifyApproval(ctx, rec.RecordID, userKey)
	check(t, err)
	if !rep.UserKeyChecked || rep.UserKeyID != userKey || rep.DeviceID != sealed.Approval.DeviceID || rep.RecordID != rec.RecordID {
		t.Fatalf("verify report %+v, want the device %s under key %s, checked", rep, sealed.Approval.DeviceID, userKey)
	}
	if rep, err := c.VerifyApproval(ctx, rec.RecordID, ""); err != nil || rep.UserKeyChecked {
		t.Fatalf("verify without a user key: %+v, %v (want it verified, the key not checked)", rep, err)
	}
	otherKey := strings.Repeat("0", len(userKey))
	if _, err := c.VerifyApproval(ctx, rec.RecordID, otherKey); !errors.Is(err, client.ErrNotVerified) || !strings.Contains(err.Error(), "not the one given") {
		t.Fatalf("verify against another user key: %v, want ErrNotVerified naming the key", err)
	}
	unknown, err := ids.NewRecord(rand.Reader, time.Now())
	check(t, err)
	if _, err := c.VerifyApproval(ctx, unknown, userKey); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("verify an unknown record: %v, want api.ErrNotFound", err)
	}

	acc, err := c.RequestAccess(ctx, rec.RecordID, "second opinion")
	check(t, err)
	if _, err := c.Session(ctx, acc.SessionID, 0); err != nil {
		t.Fatal(err)
	}
	s, err := c.AwaitSession(ctx, acc.SessionID)
	check(t, err)
	if s.State != api.SessionOpen {
		t.Fatalf("session %+v", s)
	}
	var got bytes.Buffer
	d, err := c.Download(ctx, s.SessionID, &got)
	check(t, err)
	if !bytes.Equal(got.Bytes(), data) || d.ContentType != "application/dicom" || !bytes.Equal(d.SHA256, sum[:]) {
		t.Fatalf("download %d bytes %q", got.Len(), d.ContentType)
	}
	// One download per session: the second is refused.
	if _, err := c.Download(ctx, s.SessionID, &got); !errors.Is(err, api.ErrGone) {
		t.Fatalf("second download: %v, want gone", err)
	}
	entries, err := c.Audit(ctx, u.UserID)
	check(t, err)
	if len(entries) < 8 || entries[0].Event != "user_created" {
		t.Fatalf("audit: %d entries", len(entries))
	}
	s, err = c.Session(ctx, s.SessionID, 0)
	check(t, err)
	if s.State != api.SessionConsumed || s.DownloadsLeft != 0 {
		t.Fatalf("session after its one download: %s with %d left", s.State, s.DownloadsLeft)
	}

	// The document is served as it is embedded.
	resp, err := (&http.Client{Transport: w.rec}).Get(w.node.URL + api.PathOpenAPI)
	check(t, err)
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(served, api.OpenAPIJSON) {
		t.Fatalf("GET %s: %d, %d bytes", api.PathOpenAPI, resp.StatusCode, len(served))
	}

	checkGoldens(t, w.rec.exchanges())
	// Every request and answer of the flow, the device's included, matched
	// the OpenAPI document.
	for _, p := range w.val.Problems("createUser", "findUser", "getUser", "newEnrollment", "userAudit", "createRecord", "uploadContent",
		"getRecord", "requestAccess", "getSession", "downloadContent", "openapi",
		"enroll", "confirmEnrollment", "deviceEvents", "getDeviceRequest", "answerRequest") {
		t.Errorf("OpenAPI: %s", p)
	}
}

func checkGoldens(t *testing.T, xs []exchange) {
	seen := map[string]bool{}
	for _, x := range xs {
		name := goldenName(x)
		if name == "" || x.body == nil || x.status >= 300 || seen[name] {
			continue
		}
		seen[name] = true
		path := filepath.Join("..", "api", "testdata", name+".json")
		if *updateGolden {
			var buf bytes.Buffer
			if err := json.Indent(&buf, x.body, "", "  "); err != nil {
				t.Fatalf("%s %s %d: %v: %q", x.method, x.path, x.status, err, x.body)
			}
			buf.WriteByte('\n')
			check(t, os.WriteFile(path, buf.Bytes(), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s %s: no golden body: %v (run with -update-golden)", x.method, x.path, err)
			continue
		}
		if g, w := shape(t, x.body), shape(t, want); !reflect.DeepEqual(g, w) {
			t.Errorf("%s %s: the server's answer has the shape\n%v\nthe golden %s has\n%v", x.method, x.path, g, name, w)
		}
	}
	for _, name := range []string{"user_awaiting_device", "user_active", "create_user", "enrollment", "create_record", "upload", "record_awaiting_upload", "record_sealed", "access", "session_pending_approval", "session_open", "session_consumed", "audit"} {
		if !seen[name] {
			t.Errorf("the flow produced no %s answer", name)
		}
	}
}

// shape maps a JSON document to its structure: every object key with the
// JSON type of its value, arrays by the shape of their first element.
func shape(t *testing.T, doc []byte) any {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			m := map[string]any{}
			for k, e := range v {
				m[k] = walk(e)
			}
			return m
		case []any:
			if len(v) == 0 {
				return "[]"
			}
			return []any{walk(v[0])}
		case nil:
			return "null"
		}
		return fmt.Sprintf("%T", v)
	}
	return walk(v)
}

// TestDownloadDigestMismatch: a body that does not hash to its Repr-Digest
// (a tampering proxy, a faulty node) fails with ErrDigestMismatch.
func TestDownloadDigestMismatch(t *testing.T) {
	for name, tc := range map[string]struct {
		digest, body string
	}{
		"wrong digest":   {"sha-256=:" + b64sum("other") + ":", "content"},
		"no digest":      {"", "content"},
		"md5 digest":     {"md5=:" + b64sum("content") + ":", "content"},
		"malformed b64":  {"sha-256=:!!:", "content"},
		"good (control)": {"sha-256=:" + b64sum("content") + ":", "content"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer k" {
					w.WriteHeader(401)
					return
				}
				if tc.digest != "" {
					w.Header().Set(api.HeaderReprDigest, tc.digest)
				}
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := client.New(srv.URL, "k", nil)
			check(t, err)
			_, err = c.Download(context.Background(), "ses_x", io.Discard)
			if name == "good (control)" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, client.ErrDigestMismatch) {
				t.Fatalf("got %v, want ErrDigestMismatch", err)
			}
		})
	}
}

func b64sum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestErrors: a refusal of the real server is an *api.Error that
// errors.Is matches by code; a bad key is 401.
func TestErrors(t *testing.T) {
	w := startWorld(t, t.TempDir())
	t.Cleanup(w.stop)
	ctx := context.Background()
	bad, err := client.New(w.node.URL, "assent_aaaaaaaaaaaa_bbbb", nil)
	check(t, err)
	if _, err := bad.CreateUser(ctx, "x", "y"); !errors.Is(err, api.ErrUnauthenticated) || api.AsError(err).Status != 401 {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := w.c.Record(ctx, "not-an-id", 0); !errors.Is(err, api.ErrInvalidID) {
		t.Fatalf("malformed id: %v", err)
	}
	if _, err := w.c.CreateUser(ctx, "", ""); !errors.Is(err, api.ErrBadRequest) || api.AsError(err).Message == "" {
		t.Fatalf("empty external id: %v", err)
	}
	// Another client (all scopes) neither reads nor finds this client's user.
	u, err := w.c.CreateUser(ctx, "p-1", "P")
	check(t, err)
	key2, _, err := server.CreateClient(ctx, w.node.Store, rand.Reader, time.Now(), "Other", server.AllScopes)
	check(t, err)
	other, err := client.New(w.node.URL, key2, nil)
	check(t, err)
	if _, err := other.User(ctx, u.UserID); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("another client's user: %v", err)
	}
	if _, err := other.UserByExternalID(ctx, "p-1"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("another client's external id: %v", err)
	}
	if _, err := w.c.UserByExternalID(ctx, ""); !errors.Is(err, api.ErrBadRequest) {
		t.Fatalf("empty external id: %v", err)
	}
	for _, u := range []string{"", "ftp://x", "http://", "http://h/?q=1", "::"} {
		if _, err := client.New(u, "k", nil); !errors.Is(err, client.ErrConfig) {
			t.Errorf("New(%q): %v", u, err)
		}
	}
	if _, err := client.New("http://h", "", nil); !errors.Is(err, client.ErrConfig) {
		t.Errorf("empty key: %v", err)
	}
}
