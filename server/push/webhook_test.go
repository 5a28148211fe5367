package push

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
)

// testSecret is 32 bytes, the shortest secret allowed.
var testSecret = []byte("assent-webhook-test-secret-32-by")

// relay is a real push relay on loopback: it checks every request with
// VerifyWebhook and answers with the scripted statuses, the last repeating.
type relay struct {
	srv *httptest.Server

	mu       sync.Mutex
	statuses []int
	hang     bool // hold each request until its client gives up
	hangUp   int  // close the connection without answering on these first attempts
	requests []*http.Request
	bodies   [][]byte
	badSigs  int
	arrived  chan struct{}
}

func newRelay(t *testing.T, statuses ...int) *relay {
	t.Helper()
	rl := &relay{statuses: statuses, arrived: make(chan struct{}, 64)}
	rl.srv = httptest.NewServer(http.HandlerFunc(rl.serve))
	t.Cleanup(rl.srv.Close)
	return rl
}

func (rl *relay) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<10))
	if err != nil {
		return
	}
	rl.mu.Lock()
	n := len(rl.requests)
	rl.requests = append(rl.requests, r)
	rl.bodies = append(rl.bodies, body)
	sigErr := VerifyWebhook(testSecret, r.Header.Get(SignatureHeader), body, time.Now(), 5*time.Minute)
	if sigErr != nil {
		rl.badSigs++
	}
	status := http.StatusNoContent
	if len(rl.statuses) > 0 {
		status = rl.statuses[min(n, len(rl.statuses)-1)]
	}
	hang, hangUp := rl.hang, n < rl.hangUp
	rl.mu.Unlock()
	rl.arrived <- struct{}{}

	switch {
	case hang:
		<-r.Context().Done()
	case hangUp:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	case sigErr != nil:
		http.Error(w, "bad signature", http.StatusUnauthorized)
	default:
		if status/100 == 3 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}
}

func (rl *relay) attempts() int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return len(rl.requests)
}

func (rl *relay) badSignatures() int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return rl.badSigs
}

func (rl *relay) webhook(t *testing.T, opts ...WebhookOption) *Webhook {
	t.Helper()
	w, err := NewWebhook(rl.srv.URL+"/hook", testSecret, rl.srv.Client(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var fastRetry = WithRetry(3, time.Millisecond)

func TestWebhookPostsSignedRequestIDOnly(t *testing.T) {
	rl := newRelay(t, http.StatusNoContent)
	user, req := newID(t, ids.User), newID(t, ids.Request)
	mustNotify(t, rl.webhook(t), user, req)

	if rl.attempts() != 1 || rl.badSignatures() != 0 {
		t.Fatalf("%d attempts, %d bad signatures; want 1, 0", rl.attempts(), rl.badSignatures())
	}
	rl.mu.Lock()
	r, body := rl.requests[0], rl.bodies[0]
	rl.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/hook" {
		t.Errorf("%s %s, want POST /hook", r.Method, r.URL.Path)
	}
	if got, want := string(body), `{"request_id":"`+req+`"}`; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if sig := r.Header.Get(SignatureHeader); !regexp.MustCompile(`^t=[1-9][0-9]*,v1=[0-9a-f]{64}$`).MatchString(sig) {
		t.Errorf("signature header %q", sig)
	}
	for k, vs := range r.Header {
		if strings.Contains(strings.Join(vs, " "), user) {
			t.Errorf("header %s carries the user id", k)
		}
	}
	if strings.Contains(r.URL.String(), user) || strings.Contains(string(body), user) {
		t.Error("the user id left the server")
	}
}

// The expected MAC was computed independently:
//
//	printf '%s' '1700000000.{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}' |
//	  openssl dgst -sha256 -mac HMAC -macopt key:assent-webhook-test-secret-32-by
const (
	vectorBody   = `{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`
	vectorHeader = "t=1700000000,v1=1f9a56b14cb8e0f44843cf3a251a0cd05c24ad7081306fad5828222631ff0e74"
)

var vectorTime = time.Unix(1700000000, 0)

func TestSignatureVector(t *testing.T) {
	body, err := encodePayload("req_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	if err != nil || string(body) != vectorBody {
		t.Fatalf("payload %q, %v", body, err)
	}
	if got := signatureHeader(testSecret, vectorTime, body); got != vectorHeader {
		t.Fatalf("header %q, want %q", got, vectorHeader)
	}
	for _, d := range []time.Duration{0, 5 * time.Minute, -5 * time.Minute} {
		if err := VerifyWebhook(testSecret, vectorHeader, body, vectorTime.Add(d), 5*time.Minute); err != nil {
			t.Errorf("verify at %v: %v", d, err)
		}
	}
}

func TestVerifyWebhookRejects(t *testing.T) {
	body := []byte(vectorBody)
	mac := vectorHeader[len("t=1700000000,v1="):]
	otherSecret := []byte("another-secret-of-thirty-two-by!")
	cases := []struct {
		name   string
		secret []byte
		header string
		body   string
		at     time.Duration
	}{
		{name: "wrong secret", secret: otherSecret},
		{name: "tampered body", body: `{"request_id":"req_aaaaaaaaaaaaaaaaaaaaaaaaab"}`},
		{name: "body with a trailing newline", body: vectorBody + "\n"},
		{name: "stale", at: 5*time.Minute + time.Second},
		{name: "from the future", at: -5*time.Minute - time.Second},
		{name: "other timestamp", header: "t=1700000001,v1=" + mac},
		{name: "uppercase hex", header: "t=1700000000,v1=" + strings.ToUpper(mac)},
		{name: "short mac", header: "t=1700000000,v1=" + mac[:62]},
		{name: "long mac", header: "t=1700000000,v1=" + mac + "00"},
		{name: "empty", header: ""},
		{name: "no v1", header: "t=1700000000"},
		{name: "no t", header: "v1=" + mac},
		{name: "swapped", header: "v1=" + mac + ",t=1700000000"},
		{name: "extra field", header: vectorHeader + ",v0=00"},
		{name: "two v1", header: vectorHeader + ",v1=" + mac},
		{name: "spaces", header: "t=1700000000, v1=" + mac},
		{name: "leading zero", header: "t=01700000000,v1=" + mac},
		{name: "plus sign", header: "t=+1700000000,v1=" + mac},
		{name: "negative", header: "t=-1,v1=" + mac},
		{name: "overflowing t", header: "t=99999999999999999999,v1=" + mac},
		{name: "max t", header: "t=9223372036854775807,v1=" + mac},
		{name: "not hex", header: "t=1700000000,v1=" + strings.Repeat("zz", 32)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			secret, header, b := testSecret, vectorHeader, body
			if c.secret != nil {
				secret = c.secret
			}
			if c.header != "" || c.name == "empty" {
				header = c.header
			}
			if c.body != "" {
				b = []byte(c.body)
			}
			err := VerifyWebhook(secret, header, b, vectorTime.Add(c.at), 5*time.Minute)
			if !errors.Is(err, ErrWebhookSignature) {
				t.Fatalf("VerifyWebhook = %v, want ErrWebhookSignature", err)
			}
			if err.Error() != ErrWebhookSignature.Error() {
				t.Fatalf("error %q is not opaque", err)
			}
		})
	}
	if err := VerifyWebhook(testSecret[:31], vectorHeader, body, vectorTime, time.Minute); !errors.Is(err, ErrConfig) {
		t.Errorf("short secret: %v, want ErrConfig", err)
	}
	if err := VerifyWebhook(testSecret, vectorHeader, body, vectorTime, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("zero tolerance: %v, want ErrConfig", err)
	}
}

func TestWebhookRetries5xxThenSucceeds(t *testing.T) {
	rl := newRelay(t, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusOK)
	mustNotify(t, rl.webhook(t, WithRetry(4, time.Millisecond)), newID(t, ids.User), newID(t, ids.Request))
	if rl.attempts() != 3 || rl.badSignatures() != 0 {
		t.Fatalf("%d attempts, %d bad signatures; want 3, 0", rl.attempts(), rl.badSignatures())
	}
}

func TestWebhookGivesUp(t *testing.T) {
	rl := newRelay(t, http.StatusServiceUnavailable)
	err := rl.webhook(t, fastRetry).Notify(t.Context(), newID(t, ids.User), newID(t, ids.Request))
	if !errors.Is(err, ErrWebhookStatus) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Notify = %v, want ErrWebhookStatus naming 503", err)
	}
	if rl.attempts() != 3 {
		t.Fatalf("%d attempts, want 3", rl.attempts())
	}
	for _, s := range []string{string(testSecret), hex.EncodeToString(testSecret), "/hook"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q repeats %q", err, s)
		}
	}
}

func TestWebhookDoesNotRetryOtherStatuses(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusTooManyRequests, http.StatusTemporaryRedirect, http.StatusFound} {
		rl := newRelay(t, status)
		err := rl.webhook(t, fastRetry).Notify(t.Context(), newID(t, ids.User), newID(t, ids.Request))
		if !errors.Is(err, ErrWebhookStatus) {
			t.Errorf("status %d: Notify = %v, want ErrWebhookStatus", status, err)
		}
		// One attempt, and a redirect is not followed.
		if rl.attempts() != 1 {
			t.Errorf("status %d: %d attempts, want 1", status, rl.attempts())
		}
	}
}

func TestWebhookRetriesNetworkErrors(t *testing.T) {
	rl := newRelay(t, http.StatusOK)
	rl.hangUp = 2
	mustNotify(t, rl.webhook(t, fastRetry), newID(t, ids.User), newID(t, ids.Request))
	if rl.attempts() != 3 {
		t.Fatalf("%d attempts, want 3", rl.attempts())
	}
}

func TestWebhookNetworkErrorHidesURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	w, err := NewWebhook("http://"+addr+"/hook/s3cr3t-token?k=v4lue", testSecret, nil, WithRetry(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = w.Notify(t.Context(), newID(t, ids.User), newID(t, ids.Request))
	if err == nil {
		t.Fatal("Notify to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t-token") || strings.Contains(err.Error(), "v4lue") {
		t.Fatalf("error %q repeats the URL", err)
	}
}

func TestWebhookAttemptTimeout(t *testing.T) {
	rl := newRelay(t)
	rl.hang = true
	err := rl.webhook(t, WithRetry(2, time.Millisecond), WithAttemptTimeout(20*time.Millisecond)).
		Notify(t.Context(), newID(t, ids.User), newID(t, ids.Request))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Notify = %v, want a deadline error", err)
	}
	if rl.attempts() != 2 {
		t.Fatalf("%d attempts, want 2 (timeouts are retried)", rl.attempts())
	}
}

func TestWebhookStopsWhenContextEnds(t *testing.T) {
	for _, hang := range []bool{false, true} {
		// Not hanging: the cancel comes while Notify waits an hour to
		// retry. Hanging: it comes during the request.
		rl := newRelay(t, http.StatusServiceUnavailable)
		rl.hang = hang
		w := rl.webhook(t, WithRetry(5, time.Hour), WithAttemptTimeout(time.Hour))
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-rl.arrived
			cancel()
		}()
		err := w.Notify(ctx, newID(t, ids.User), newID(t, ids.Request))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("hang=%v: Notify = %v, want context.Canceled", hang, err)
		}
		if rl.attempts() != 1 {
			t.Errorf("hang=%v: %d attempts, want 1", hang, rl.attempts())
		}
	}
}

func TestWebhookRejectsMalformedRequestID(t *testing.T) {
	rl := newRelay(t)
	err := rl.webhook(t).Notify(t.Context(), newID(t, ids.User), "req_x\n")
	if !errors.Is(err, ids.ErrMalformed) || rl.attempts() != 0 {
		t.Fatalf("Notify = %v after %d attempts, want ids.ErrMalformed and none", err, rl.attempts())
	}
}

func TestWebhookCopiesSecret(t *testing.T) {
	rl := newRelay(t)
	secret := []byte(string(testSecret))
	w, err := NewWebhook(rl.srv.URL, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	mustNotify(t, w, newID(t, ids.User), newID(t, ids.Request))
	if rl.badSignatures() != 0 {
		t.Fatal("signature made with the caller's cleared buffer")
	}
}

func TestNewWebhookRejects(t *testing.T) {
	for _, u := range []string{
		"", "hook", "/hook", "ftp://relay.example/hook", "file:///etc/passwd", "http://",
		"https://user:p4ssw0rd@relay.example/hook", "https://relay.example/hook#frag",
		"mailto:relay@example.com", "http://[::1", "javascript:alert(1)",
	} {
		_, err := NewWebhook(u, testSecret, nil)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("NewWebhook(%q) = %v, want ErrConfig", u, err)
		} else if strings.Contains(err.Error(), "relay.example") || strings.Contains(err.Error(), "p4ssw0rd") || strings.Contains(err.Error(), "passwd") {
			t.Errorf("error %q repeats the URL", err)
		}
	}
	for _, s := range [][]byte{nil, {}, testSecret[:31]} {
		if _, err := NewWebhook("https://relay.example/hook", s, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("secret of %d bytes: %v, want ErrConfig", len(s), err)
		}
	}
	for _, o := range []WebhookOption{
		WithRetry(0, time.Second), WithRetry(21, time.Second), WithRetry(3, 0), WithRetry(3, -time.Second),
		WithAttemptTimeout(0), WithAttemptTimeout(-time.Second),
	} {
		if _, err := NewWebhook("https://relay.example/hook", testSecret, nil, o); !errors.Is(err, ErrConfig) {
			t.Errorf("option: %v, want ErrConfig", err)
		}
	}
	if _, err := NewWebhook("http://127.0.0.1:8080/hook?token=x", testSecret, nil, WithRetry(20, time.Second)); err != nil {
		t.Errorf("valid webhook refused: %v", err)
	}
}
