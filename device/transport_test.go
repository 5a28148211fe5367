package device

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/threshold"
)

// recordingTransport answers every request with status and body and keeps
// the last request.
type recordingTransport struct {
	status int
	header HTTPHeader
	body   string
	err    error
	got    *HTTPRequest
}

func (r *recordingTransport) RoundTrip(_ context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	r.got = req
	if r.err != nil {
		return nil, r.err
	}
	h := r.header
	if h == nil {
		h = HTTPHeader{}
	}
	return &HTTPResponse{Status: r.status, Header: h, Body: io.NopCloser(strings.NewReader(r.body))}, nil
}

// A Client hands its Transport the absolute URL, the JSON headers and the
// body it signed, and the signature covers method, the request target under
// the server URL's prefix, timestamp, nonce and body (DESIGN.md "Device
// request authentication").
func TestTransportSeesTheSignedRequest(t *testing.T) {
	base := "https://api.example/prefix"
	id := newIdentity(t, base)
	defer id.Destroy()
	tr := &recordingTransport{status: 200, body: `{"request_id":"x","state":"approved"}`}
	now := time.Unix(1700000000, 0)
	c, err := NewClient(base, id, ClientOptions{Transport: tr, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	reqID := mustID(t, "req")
	if _, err := c.Respond(context.Background(), reqID, &Response{Decision: "deny"}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("answer naming another request: %v, want ErrProtocol", err)
	}
	r := tr.got
	target := "/prefix" + api.DeviceResponsePath(reqID)
	if r.Method != "POST" || r.URL != "https://api.example"+target {
		t.Fatalf("sent %s %s", r.Method, r.URL)
	}
	if r.Header.Get("content-type") != "application/json" || r.Header.Get("Accept") != "application/json" || len(r.Body) == 0 {
		t.Fatalf("headers %v, body %q", r.Header, r.Body)
	}
	if r.Header.Get(HeaderDevice) != id.DeviceID || r.Header.Get(HeaderTimestamp) != "1700000000" {
		t.Fatalf("auth headers %v", r.Header)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil {
		t.Fatal(err)
	}
	msg := threshold.DeviceAuthMessage("POST", target, "1700000000", r.Header.Get(HeaderNonce), r.Body)
	if err := threshold.Verify(id.SigningPublicKey(), msg, sig); err != nil {
		t.Fatalf("signature over the request as sent: %v", err)
	}
}

// The bad answers a Transport may bring are the Client's to refuse, on
// every platform: a transport failure (wrapped, with the method and path),
// a body over the limit, another status than the call's.
func TestTransportBadAnswers(t *testing.T) {
	id := newIdentity(t, "https://api.example")
	defer id.Destroy()
	for _, tc := range []struct {
		name string
		tr   *recordingTransport
		ok   func(error) bool
	}{
		{"failure", &recordingTransport{err: io.ErrUnexpectedEOF}, func(err error) bool {
			return errors.Is(err, io.ErrUnexpectedEOF) && strings.Contains(err.Error(), "GET /v1/device/requests")
		}},
		{"over the limit", &recordingTransport{status: 200, body: `{"requests":[]}` + strings.Repeat(" ", maxResponseSize)}, func(err error) bool {
			return errors.Is(err, ErrProtocol) && strings.Contains(err.Error(), "answer over")
		}},
		{"refusal", &recordingTransport{status: 409, header: HTTPHeader{"content-type": "application/json"}, body: `{"error":{"code":"conflict","message":"m"}}`}, func(err error) bool {
			var ae *APIError
			return errors.As(err, &ae) && ae.Status == 409 && ae.Code == "conflict"
		}},
		{"redirect", &recordingTransport{status: 307}, func(err error) bool {
			var ae *APIError
			return errors.As(err, &ae) && ae.Status == 307 && err.Error() == "server answered 307 Temporary Redirect"
		}},
	} {
		c, err := NewClient("https://api.example", id, ClientOptions{Transport: tc.tr})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PendingRequests(context.Background()); !tc.ok(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// HTTPHeader's names are case-insensitive.
func TestHTTPHeader(t *testing.T) {
	h := HTTPHeader{}
	h.Set("Content-Type", "text/event-stream")
	if h.Get("content-type") != "text/event-stream" || h.Get("CONTENT-TYPE") != "text/event-stream" || h.Get("Accept") != "" {
		t.Fatalf("%v", h)
	}
}

// The event stream is accepted by its media type alone, in any case and
// with parameters; another type ends it with ErrProtocol before connected.
func TestEventsContentType(t *testing.T) {
	id := newIdentity(t, "https://api.example")
	defer id.Destroy()
	for ct, want := range map[string]bool{
		"text/event-stream": true, "Text/Event-Stream; charset=utf-8": true, " text/event-stream ;x=y": true,
		"application/json": false, "": false, "text/event-streams": false, "text/plain; text/event-stream": false,
	} {
		tr := &recordingTransport{status: 200, header: HTTPHeader{"content-type": ct}, body: ": keepalive\n\n"}
		c, err := NewClient("https://api.example", id, ClientOptions{Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		connected := false
		err = c.Events(context.Background(), time.Minute, func() { connected = true }, func(string) {})
		if connected != want || (!want && !errors.Is(err, ErrProtocol)) || (want && !errors.Is(err, errStreamEnded)) {
			t.Errorf("content type %q: connected %v, %v", ct, connected, err)
		}
	}
}
