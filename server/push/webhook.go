package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/assent-dev/assent/internal/secret"
)

// Defaults of a Webhook, changed with WithRetry and WithAttemptTimeout.
const (
	DefaultWebhookAttempts = 4
	DefaultWebhookBackoff  = 500 * time.Millisecond
	DefaultWebhookTimeout  = 10 * time.Second

	maxWebhookAttempts = 20
	maxWebhookBackoff  = 30 * time.Second
	// drainLimit is how much of a relay's answer is read (and thrown away)
	// so that the connection can be reused; its content is never used.
	drainLimit = 4 << 10
)

// Webhook notifies a self-hosted push relay with a signed JSON POST:
//
//	POST <url>
//	Content-Type: application/json
//	Assent-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." || body)>
//
//	{"request_id":"<request id>"}
//
// The user id is not sent: the relay maps whatever routing it needs from its
// own configuration, and its logs learn nothing but a random request id. A
// relay checks the header with VerifyWebhook.
//
// A Webhook is safe for concurrent use.
type Webhook struct {
	url      string
	mu       sync.RWMutex // guards secret against Close
	secret   []byte       // nil once closed
	client   *http.Client
	attempts int
	backoff  time.Duration
	timeout  time.Duration
	now      func() time.Time
}

// WebhookOption changes a default of NewWebhook.
type WebhookOption func(*Webhook)

// WithRetry sets how many attempts Notify makes in all (1 to 20; default
// DefaultWebhookAttempts) and the wait before the first retry, which doubles
// for each further one up to 30 s (default DefaultWebhookBackoff).
func WithRetry(attempts int, backoff time.Duration) WebhookOption {
	return func(w *Webhook) { w.attempts, w.backoff = attempts, backoff }
}

// WithAttemptTimeout bounds each attempt, from connecting to reading the
// status (default DefaultWebhookTimeout).
func WithAttemptTimeout(d time.Duration) WebhookOption {
	return func(w *Webhook) { w.timeout = d }
}

// NewWebhook returns a Webhook posting to rawURL, which must be an absolute
// http or https URL with a host and without user info (credentials do not
// belong in a URL; the signature authenticates the server). secret must be
// at least MinSecretSize bytes; it is copied. client nil means a new
// http.Client on http.DefaultTransport; a given client is copied and never
// follows redirects, so the body and signature go to rawURL only (a 3xx is
// a non-2xx answer). Invalid arguments or options fail with ErrConfig; the
// error never contains the URL or the secret.
func NewWebhook(rawURL string, secret []byte, client *http.Client, opts ...WebhookOption) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w: webhook URL must be absolute http(s) with a host, no user info or fragment", ErrConfig)
	}
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	var c http.Client
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w := &Webhook{
		url:      u.String(),
		secret:   bytes.Clone(secret),
		client:   &c,
		attempts: DefaultWebhookAttempts,
		backoff:  DefaultWebhookBackoff,
		timeout:  DefaultWebhookTimeout,
		now:      time.Now,
	}
	for _, o := range opts {
		o(w)
	}
	if w.attempts < 1 || w.attempts > maxWebhookAttempts || w.backoff <= 0 || w.timeout <= 0 {
		return nil, fmt.Errorf("%w: webhook attempts must be 1 to %d, backoff and timeout positive", ErrConfig, maxWebhookAttempts)
	}
	return w, nil
}

// Notify posts {"request_id":"<requestID>"} to the relay; userID is not
// sent. A 2xx answer is success. A 5xx answer or a network error (including
// an attempt's timeout) is retried with back-off, each time signed with a
// fresh timestamp; after the last attempt Notify returns that attempt's
// error. Any other status fails at once with ErrWebhookStatus naming the
// status. Notify stops when ctx ends and returns an error wrapping
// ctx.Err(). It blocks for the attempts and waits: the server calls it off
// the request path. A malformed requestID fails with an error wrapping
// ids.ErrMalformed and nothing is sent.
func (w *Webhook) Notify(ctx context.Context, _, requestID string) error {
	body, err := encodePayload(requestID)
	if err != nil {
		return err
	}
	wait := w.backoff
	for attempt := 1; ; attempt++ {
		retry, err := w.post(ctx, body)
		if err == nil {
			return nil
		}
		// A failure caused by ctx already says so.
		if !retry || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return err
		}
		if attempt == w.attempts {
			return fmt.Errorf("push: webhook: gave up after %d attempts: %w", attempt, err)
		}
		if cerr := sleep(ctx, wait); cerr != nil {
			return fmt.Errorf("push: webhook: %w; last attempt: %w", cerr, err)
		}
		wait = min(2*wait, maxWebhookBackoff)
	}
}

// Close clears the webhook's copy of the secret; later Notify calls fail
// with ErrClosed. It waits for signatures being computed and is
// idempotent.
func (w *Webhook) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	secret.Clear(w.secret)
	w.secret = nil
	return nil
}

// post makes one attempt and reports whether a failure may be retried.
func (w *Webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("push: webhook: building request: %w", unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	w.mu.RLock()
	if w.secret == nil {
		w.mu.RUnlock()
		return false, ErrClosed
	}
	sig := signatureHeader(w.secret, w.now(), body)
	w.mu.RUnlock()
	req.Header.Set(SignatureHeader, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("push: webhook: %w", unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return false, nil
	}
	// The status code and its standard text only: the relay's own reason
	// phrase and body are not ours to repeat.
	return resp.StatusCode >= 500, fmt.Errorf("%w: %d %s", ErrWebhookStatus, resp.StatusCode, http.StatusText(resp.StatusCode))
}

// unwrapURLError drops the *url.Error layer, whose message repeats the URL
// (which may hold a relay's token in its path or query).
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// sleep waits for d or until ctx ends, whichever comes first; an ended ctx
// wins even against a timer that has already fired.
func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var _ Notifier = (*Webhook)(nil)
