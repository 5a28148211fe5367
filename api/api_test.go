package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/server/push"
)

// goldenTypes names the api type of each golden body in testdata/, which
// client's TestFlow checks against the real server's answers.
var goldenTypes = map[string]func() any{
	"create_user":              func() any { return new(api.Enrollment) },
	"enrollment":               func() any { return new(api.Enrollment) },
	"create_record":            func() any { return new(api.CreatedRecord) },
	"upload":                   func() any { return new(api.Pending) },
	"access":                   func() any { return new(api.Pending) },
	"record_awaiting_upload":   func() any { return new(api.Record) },
	"record_sealed":            func() any { return new(api.Record) },
	"session_pending_approval": func() any { return new(api.Session) },
	"session_open":             func() any { return new(api.Session) },
	"session_consumed":         func() any { return new(api.Session) },
	"audit":                    func() any { return new(api.AuditList) },
	"user_awaiting_device":     func() any { return new(api.User) },
	"user_active":              func() any { return new(api.User) },
}

// TestGoldenBodies: every golden body decodes into its type with no unknown
// field and encodes back to the same JSON, so the types hold every field
// the server sends, with the server's omitempty choices.
func TestGoldenBodies(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden bodies: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		mk, ok := goldenTypes[name]
		if !ok {
			t.Errorf("%s: no type for this golden body", f)
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v := mk()
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		got, _ := json.Marshal(v)
		var want bytes.Buffer
		if err := json.Compact(&want, data); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: re-encoded\n%s\nwant\n%s", f, got, want.Bytes())
		}
	}
	for name := range goldenTypes {
		if _, err := os.Stat(filepath.Join("testdata", name+".json")); err != nil {
			t.Errorf("golden %s missing: %v", name, err)
		}
	}
}

func TestErrorIsByCode(t *testing.T) {
	got := &api.Error{Status: 404, Code: "not_found", Message: "record not found"}
	wrapped := fmt.Errorf("reading: %w", got)
	if !errors.Is(wrapped, api.ErrNotFound) || errors.Is(wrapped, api.ErrConflict) {
		t.Fatal("errors.Is must match by code only")
	}
	if errors.Is(api.ErrExpired, api.ErrGone) {
		t.Fatal("two codes of one status are distinct")
	}
	codes := map[string]bool{}
	for _, e := range api.Errors {
		if codes[e.Code] || e.Status < 400 || e.Status > 599 {
			t.Errorf("error value %+v repeated or without an error status", e)
		}
		codes[e.Code] = true
	}
	if got.Error() != "not_found: record not found" || api.ErrGone.Error() != "gone" {
		t.Fatalf("Error() = %q, %q", got.Error(), api.ErrGone.Error())
	}
}

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		name, body     string
		status         int
		code, msg      string
		retry          time.Duration
		retryAfterHead string
	}{
		{"body", `{"error":{"code":"rate_limited","message":"slow down"}}`, 429, "rate_limited", "slow down", 3 * time.Second, "3"},
		{"proxy page", `<html>bad gateway</html>`, 503, "unavailable", "", 0, "soon"},
		{"unknown status", ``, 418, "http_418", "", 0, ""},
		{"empty code", `{"error":{"code":"","message":"x"}}`, 404, "not_found", "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(api.HeaderRetryAfter, tc.retryAfterHead)
			h.Set(api.HeaderRequestID, "rid-1")
			e := api.DecodeError(tc.status, h.Get, strings.NewReader(tc.body))
			if e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg || e.RetryAfter != tc.retry || e.RequestID != "rid-1" {
				t.Fatalf("got %+v", e)
			}
		})
	}
	// No header lookup, and a body over the limit: the code comes from the
	// status alone, and no more than MaxErrorBody bytes are read.
	big := &countingReader{r: strings.NewReader(`{"error":{"code":"conflict","message":"` + strings.Repeat("x", 2*api.MaxErrorBody) + `"}}`)}
	if e := api.DecodeError(503, nil, big); e.Code != "unavailable" || e.Message != "" || e.RequestID != "" {
		t.Fatalf("over-limit body: got %+v", e)
	}
	if big.n != api.MaxErrorBody {
		t.Fatalf("read %d bytes of an over-limit error body, want %d", big.n, api.MaxErrorBody)
	}
	if err := api.CheckStatus(204, 200, nil, nil); !errors.Is(err, api.ErrUnexpectedStatus) {
		t.Fatalf("204 for 200: %v", err)
	}
	if err := api.CheckStatus(200, 200, nil, nil); err != nil {
		t.Fatalf("200 for 200: %v", err)
	}
	if err := api.CheckStatus(409, 200, nil, strings.NewReader(`{"error":{"code":"conflict","message":"m"}}`)); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("409 for 200: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestWebhookAgainstServer: api.VerifyWebhook accepts exactly what the
// server's webhook notifier (server/push) sends, and refuses it altered.
func TestWebhookAgainstServer(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	type got struct {
		header string
		body   []byte
	}
	ch := make(chan got, 1)
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Header.Get(api.HeaderWebhookSignature), b}
	}))
	defer relay.Close()
	wh, err := push.NewWebhook(relay.URL, secret, relay.Client())
	if err != nil {
		t.Fatal(err)
	}
	const rid = "req_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	if err := wh.Notify(t.Context(), "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", rid); err != nil {
		t.Fatal(err)
	}
	g := <-ch
	now := time.Now()
	if err := api.VerifyWebhook(secret, g.header, g.body, now, time.Minute); err != nil {
		t.Fatalf("api refuses the server's webhook: %v (%s)", err, g.header)
	}
	if id, err := api.DecodePushPayload(g.body); err != nil || id != rid {
		t.Fatalf("payload %q: %v", g.body, err)
	}
	// The same header from api's signer, and push's verifier agrees.
	ts, _, _ := strings.Cut(strings.TrimPrefix(g.header, "t="), ",")
	var sec int64
	fmt.Sscan(ts, &sec)
	if h := api.SignWebhook(secret, time.Unix(sec, 0), g.body); h != g.header {
		t.Fatalf("api signs %q, server %q", h, g.header)
	}
	if err := push.VerifyWebhook(secret, api.SignWebhook(secret, now, g.body), g.body, now, time.Minute); err != nil {
		t.Fatalf("push refuses api's signature: %v", err)
	}
	other := bytes.Repeat([]byte{8}, 32)
	for name, c := range map[string]func() error{
		"other body": func() error {
			return api.VerifyWebhook(secret, g.header, []byte(`{"request_id":"req_bbbbbbbbbbbbbbbbbbbbbbbbbb"}`), now, time.Minute)
		},
		"other secret": func() error { return api.VerifyWebhook(other, g.header, g.body, now, time.Minute) },
		"stale":        func() error { return api.VerifyWebhook(secret, g.header, g.body, now.Add(2*time.Minute), time.Minute) },
		"uppercase":    func() error { return api.VerifyWebhook(secret, strings.ToUpper(g.header), g.body, now, time.Minute) },
		"extra":        func() error { return api.VerifyWebhook(secret, g.header+",v0=00", g.body, now, time.Minute) },
		"empty":        func() error { return api.VerifyWebhook(secret, "", g.body, now, time.Minute) },
		"leading zero": func() error {
			return api.VerifyWebhook(secret, "t=0"+strings.TrimPrefix(g.header, "t="), g.body, now, time.Minute)
		},
	} {
		if err := c(); !errors.Is(err, api.ErrWebhookSignature) {
			t.Errorf("%s: %v, want ErrWebhookSignature", name, err)
		}
	}
	if err := api.VerifyWebhook(secret[:31], g.header, g.body, now, time.Minute); !errors.Is(err, api.ErrWebhookConfig) {
		t.Errorf("short secret: %v", err)
	}
	if err := api.VerifyWebhook(secret, g.header, g.body, now, 0); !errors.Is(err, api.ErrWebhookConfig) {
		t.Errorf("zero tolerance: %v", err)
	}
}

func TestDecodePushPayload(t *testing.T) {
	for _, bad := range []string{
		``, `{}`, `{"request_id":""}`, `{"request_id":"req_x"}`,
		`{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa","x":1}`,
		`{ "request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"Request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"request_id":"req_AAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"request_id":"ses_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaa\u0061"}`,
	} {
		if _, err := api.DecodePushPayload([]byte(bad)); !errors.Is(err, api.ErrPushPayload) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzDecodePushPayload(f *testing.F) {
	f.Add([]byte(`{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := api.DecodePushPayload(b)
		if err != nil {
			return
		}
		// Whatever is accepted is exactly what push encodes, and push agrees.
		if pid, perr := push.DecodePayload(b); perr != nil || pid != id {
			t.Fatalf("api accepts %q, push: %q %v", b, pid, perr)
		}
	})
}
