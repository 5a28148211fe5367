package device

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/strictjson"
	"github.com/assent-dev/assent/threshold"
)

// Device request authentication headers (DESIGN.md).
const (
	HeaderDevice    = "Assent-Device"
	HeaderTimestamp = "Assent-Timestamp"
	HeaderNonce     = "Assent-Nonce"
	HeaderSignature = "Assent-Signature"
)

const (
	nonceSize = 16
	// maxResponseSize caps any JSON body read from the server.
	maxResponseSize = 8 << 20
	// maxErrorSize caps an error body; only code and message are used.
	maxErrorSize = 64 << 10
	// DefaultRequestTimeout bounds each API call but the event stream.
	DefaultRequestTimeout = 30 * time.Second
)

// ClientOptions tunes a Client. The zero value is ready to use.
type ClientOptions struct {
	// Transport sends the requests (nil: HTTPTransport(nil) natively, the
	// browser's fetch in WebAssembly). It never follows redirects (see
	// Transport): natively a redirect answer is an *APIError with its 3xx
	// status, in the browser an error wrapping ErrProtocol.
	Transport Transport
	// RequestTimeout bounds each call but Events (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Now is the clock for request timestamps (nil: time.Now).
	Now func() time.Time
	// Rand is the source of nonces and keys (nil: crypto/rand.Reader).
	Rand io.Reader
	// InsecureHTTP allows plain http to a host that is not loopback. Never
	// set it outside a test network: the device would then fetch requests
	// and send answers readable by anyone on the path.
	InsecureHTTP bool
	// Platform is the platform Enroll and EnrollTransfer enroll the device
	// as (DESIGN.md "The approval app"): api.PlatformAgent (the default,
	// when empty) or api.PlatformWeb. Another value is ErrPlatform.
	Platform string
}

// Client is the device's HTTP client of the /v1/device API. It signs every
// call but enrollment as DESIGN.md's "Device request authentication" says,
// over the exact request target and body it sends. A Client is safe for
// concurrent use.
type Client struct {
	base    *url.URL
	id      *Identity
	tr      Transport
	timeout time.Duration
	now     func() time.Time
	rand    io.Reader
	// platform is what Enroll and EnrollTransfer send.
	platform string
}

// NewClient returns a client of the server at serverURL acting as id (nil
// before enrollment: only Enroll works then). serverURL must be an absolute
// https URL, or http to a loopback host (any host with
// o.InsecureHTTP); a path in it is a prefix of every API path. Errors:
// ErrServerURL, ErrPlatform.
func NewClient(serverURL string, id *Identity, o ClientOptions) (*Client, error) {
	u, err := parseServerURL(serverURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !o.InsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: plain http is allowed only to a loopback host; use https", ErrServerURL)
	}
	if o.Platform == "" {
		o.Platform = api.PlatformAgent
	}
	if !api.ValidPlatform(o.Platform) {
		return nil, ErrPlatform
	}
	c := &Client{base: u, id: id, tr: o.Transport, timeout: o.RequestTimeout, now: o.Now, rand: o.Rand, platform: o.Platform}
	if c.tr == nil {
		c.tr = defaultTransport()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRequestTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	return c, nil
}

// ServerURL returns the server URL the client was made with, normalised.
func (c *Client) ServerURL() string { return c.base.String() }

// parseServerURL checks that raw is an absolute http(s) URL with a host and
// no user info, query or fragment, and returns it without a trailing slash.
func parseServerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServerURL, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.ForceQuery {
		return nil, fmt.Errorf("%w: want https://host[:port][/prefix]", ErrServerURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	// netip, not net: net would link the resolver into the WebAssembly. A
	// zone is refused as net.ParseIP refuses it.
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}

// APIError is an error answer of the server: its HTTP status and the code
// and message of its {"error":{...}} body.
type APIError struct {
	Status  int
	Code    string // e.g. "unauthenticated", "conflict", "expired"; "" if the body had none
	Message string // from the server: untrusted text, quoted when printed
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, statusText(e.Status))
	}
	msg := e.Message
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, Quote(msg))
}

// transient reports whether a call that failed with err may succeed if
// tried again later: a transport failure, a 5xx or a 429.
func transient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == statusTooManyRequests
	}
	return err != nil && !errors.Is(err, ErrProtocol) && !errors.Is(err, context.Canceled)
}

// call is one API call.
type call struct {
	method string
	target string // path and query below the server URL, e.g. /v1/device/requests?state=pending
	body   any    // marshalled to JSON; nil for no body
	signed bool
	want   int // expected status
	out    any // decoded from the body when not nil
}

func (c *Client) do(ctx context.Context, cl call) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.Status != cl.want {
		return readAPIError(resp)
	}
	if cl.out == nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return fmt.Errorf("device: reading the answer to %s: %w", cl.method, err)
	}
	if len(data) > maxResponseSize {
		return fmt.Errorf("%w: answer over %d bytes", ErrProtocol, maxResponseSize)
	}
	if err := decodeJSON(data, cl.out); err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return nil
}

// send builds, signs and sends a request; the caller closes the body.
func (c *Client) send(ctx context.Context, cl call) (*HTTPResponse, error) {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("device: encoding request: %w", err)
		}
	}
	u, err := url.Parse(c.base.String() + cl.target)
	if err != nil {
		return nil, fmt.Errorf("device: bad target %q: %w", cl.target, err)
	}
	// The target signed is the one of the URL as the transport parses it
	// again (net/http writes that one on the request line).
	raw := u.String()
	if u, err = url.Parse(raw); err != nil {
		return nil, fmt.Errorf("device: bad target %q: %w", cl.target, err)
	}
	req := &HTTPRequest{Method: cl.method, URL: raw, Header: HTTPHeader{}, Body: body}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if cl.signed {
		if err := c.sign(req, u.RequestURI(), body); err != nil {
			return nil, err
		}
	}
	resp, err := c.tr.RoundTrip(ctx, req)
	if err != nil {
		// No "device:" prefix: the callers that wrap it add theirs.
		return nil, fmt.Errorf("%s %s: %w", cl.method, u.Path, err)
	}
	return resp, nil
}

// sign adds the device authentication headers, signing the request target
// exactly as it goes on the request line: target is the RequestURI of the
// URL req carries.
func (c *Client) sign(req *HTTPRequest, target string, body []byte) error {
	if c.id == nil {
		return ErrNotEnrolled
	}
	var n [nonceSize]byte
	if _, err := io.ReadFull(c.rand, n[:]); err != nil {
		return fmt.Errorf("device: reading randomness: %w", err)
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	nonce := base64.StdEncoding.EncodeToString(n[:])
	msg := threshold.DeviceAuthMessage(req.Method, target, ts, nonce, body)
	req.Header.Set(HeaderDevice, c.id.DeviceID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(threshold.Sign(c.id.SigningKey, msg)))
	return nil
}

func readAPIError(resp *HTTPResponse) error {
	e := &APIError{Status: resp.Status}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorSize))
	var b api.ErrorBody
	if decodeJSON(data, &b) == nil && validCode(b.Error.Code) {
		e.Code, e.Message = b.Error.Code, b.Error.Message
	}
	return e
}

// validCode accepts the short lower-case codes of the API, so that nothing
// else from the server is printed as a code.
func validCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// decodeJSON decodes exactly one JSON value into v by strictjson: unknown
// fields are allowed (the server may add some); duplicate keys, keys in
// another case than v's, invalid UTF-8 and trailing data are not, so that
// a hostile server cannot show the device one thing and its logs another.
func decodeJSON(data []byte, v any) error {
	return strictjson.Decode(data, v, strictjson.Options{AllowUnknownFields: true})
}

// PendingRequests lists the requests the server has pending for this
// device's user (GET /v1/device/requests?state=pending). Each is unchecked.
func (c *Client) PendingRequests(ctx context.Context) ([]*Request, error) {
	var l api.DeviceRequestList
	if err := c.do(ctx, call{method: methodGet, target: api.PendingRequestsTarget, signed: true, want: statusOK, out: &l}); err != nil {
		return nil, err
	}
	out := make([]*Request, len(l.Requests))
	for i := range l.Requests {
		if l.Requests[i].RequestID == "" {
			return nil, fmt.Errorf("%w: a request without an id in the list", ErrProtocol)
		}
		out[i] = &l.Requests[i]
	}
	return out, nil
}

// GetRequest fetches one request (GET /v1/device/requests/{id}). The id is
// checked first (ids.ErrMalformed), and the answer must carry the same id
// (ErrProtocol). The request is otherwise unchecked.
func (c *Client) GetRequest(ctx context.Context, requestID string) (*Request, error) {
	if err := ids.Check(ids.Request, requestID); err != nil {
		return nil, fmt.Errorf("device: request id: %w", err)
	}
	var r Request
	if err := c.do(ctx, call{method: methodGet, target: api.DeviceRequestPath(requestID), signed: true, want: statusOK, out: &r}); err != nil {
		return nil, err
	}
	if r.RequestID != requestID {
		return nil, fmt.Errorf("%w: asked for request %s, got %.60q", ErrProtocol, requestID, r.RequestID)
	}
	return &r, nil
}

// Respond posts an answer (POST /v1/device/requests/{id}/response) and
// returns the state the server moved the request to ("approved" or
// "denied"). A server refusal is an *APIError (409 conflict: answered
// already; 410 expired; 400 bad_proof; 401 unauthenticated).
func (c *Client) Respond(ctx context.Context, requestID string, r *Response) (string, error) {
	if err := ids.Check(ids.Request, requestID); err != nil {
		return "", fmt.Errorf("device: request id: %w", err)
	}
	var res api.DeviceResponseAnswer
	if err := c.do(ctx, call{method: methodPost, target: api.DeviceResponsePath(requestID), body: r, signed: true, want: statusOK, out: &res}); err != nil {
		return "", err
	}
	if res.RequestID != requestID {
		return "", fmt.Errorf("%w: answer names request %.60q", ErrProtocol, res.RequestID)
	}
	return res.State, nil
}
