package push

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/store"
)

// Defaults of a WebPush.
const (
	// DefaultWebPushTimeout bounds one POST to a push service.
	DefaultWebPushTimeout = 10 * time.Second
	// webPushTTL is how long (seconds) a push service keeps a message for
	// an offline browser: the approval window is minutes, and a device
	// that wakes later lists its pending requests.
	webPushTTL = 15 * 60
)

var (
	// ErrWebPushStatus is returned by WebPush.Notify when a push service
	// answered with a status other than 2xx, 404 or 410; the error names
	// the status and the device, never the endpoint.
	ErrWebPushStatus = errors.New("push: push service answered with an unexpected status")
	// ErrPushAddress is the dial error for an endpoint whose host is not a
	// public address (loopback, private, link-local), unless allowed: the
	// server must not be made to POST into its own network.
	ErrPushAddress = errors.New("push: push service address is not public")
)

// Subscriptions is what WebPush needs of the store.
type Subscriptions interface {
	PushSubscriptions(ctx context.Context, userID string) ([]*store.PushSubscription, error)
	DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error
}

// WebPushOptions are the optional settings of NewWebPush.
type WebPushOptions struct {
	// Client sends the POSTs (nil: a client on a transport that dials
	// public addresses only, unless AllowLoopback). A given client is used
	// as it is, after turning off its redirects.
	Client *http.Client
	// AllowLoopback lets the default client dial loopback addresses, for
	// tests and trials with a push service on this machine.
	AllowLoopback bool
	// Timeout bounds each POST (default DefaultWebPushTimeout).
	Timeout time.Duration
}

// WebPush delivers pushes to the Web Push subscriptions of a user's active
// devices (RFC 8030), each payload encrypted to the subscription's keys
// (RFC 8291, aes128gcm) and signed with the server's VAPID key (RFC 8292).
// The payload is {"request_id":"<request id>"} and nothing else; the push
// service sees only its ciphertext, the VAPID JWT and the endpoint.
//
// A WebPush is safe for concurrent use.
type WebPush struct {
	subs    Subscriptions
	pub     []byte
	vapid   *VAPIDKey
	subject string
	client  *http.Client
	timeout time.Duration
}

// NewWebPush returns a WebPush sending to the subscriptions in subs, signed
// with key. subject is the VAPID "sub" claim, a mailto: or https: URL by
// which a push service can reach the operator (RFC 8292 section 2.1).
// Invalid arguments fail with ErrConfig.
func NewWebPush(subs Subscriptions, key *VAPIDKey, subject string, opts WebPushOptions) (*WebPush, error) {
	if subs == nil || key == nil {
		return nil, fmt.Errorf("%w: web push needs a subscription store and a VAPID key", ErrConfig)
	}
	if err := CheckVAPIDSubject(subject); err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: web push timeout must be positive", ErrConfig)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultWebPushTimeout
	}
	var c http.Client
	if opts.Client != nil {
		c = *opts.Client
	} else {
		c.Transport = publicTransport(opts.AllowLoopback)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &WebPush{subs: subs, pub: key.PublicKey(), vapid: key, subject: subject, client: &c, timeout: opts.Timeout}, nil
}

// CheckVAPIDSubject returns ErrConfig unless subject is a mailto: URL with
// an address or an https: URL with a host.
func CheckVAPIDSubject(subject string) error {
	u, err := url.Parse(subject)
	ok := err == nil && len(subject) <= 512 &&
		((u.Scheme == "mailto" && strings.Contains(u.Opaque, "@")) || (u.Scheme == "https" && u.Host != "" && u.User == nil))
	if !ok {
		return fmt.Errorf("%w: the VAPID subject must be a mailto: address or an https: URL", ErrConfig)
	}
	return nil
}

// PublicKey returns the VAPID public key, 65 bytes uncompressed P-256.
func (w *WebPush) PublicKey() []byte { return append([]byte(nil), w.pub...) }

// Notify sends the push to every subscription of the user's active
// devices, one after the other. A subscription the push service says is
// gone (404 or 410) is deleted and is not an error. Other failures (a
// status but 2xx, a network error, a failed delete) are joined into the
// returned error, which names the device and the status but never the
// endpoint (a capability) or keys; the other subscriptions are still
// tried. A malformed requestID fails with an error wrapping
// ids.ErrMalformed and nothing is sent; a user without subscriptions is
// not an error.
func (w *WebPush) Notify(ctx context.Context, userID, requestID string) error {
	body, err := encodePayload(requestID)
	if err != nil {
		return err
	}
	subs, err := w.subs.PushSubscriptions(ctx, userID)
	if err != nil {
		return fmt.Errorf("push: web push: listing subscriptions: %w", err)
	}
	var errs []error
	for _, s := range subs {
		if err := w.send(ctx, s, body); err != nil {
			errs = append(errs, fmt.Errorf("push: web push to device %s: %w", s.DeviceID, err))
		}
	}
	return errors.Join(errs...)
}

// send makes one delivery and handles its answer.
func (w *WebPush) send(ctx context.Context, s *store.PushSubscription, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	sub := &webpush.Subscription{
		Endpoint: s.Endpoint,
		Keys: webpush.Keys{
			P256dh: base64.RawURLEncoding.EncodeToString(s.P256dh),
			Auth:   base64.RawURLEncoding.EncodeToString(s.Auth),
		},
	}
	// The library takes the keys as strings, which cannot be cleared; they
	// live for this call only, and the bytes they come from are cleared.
	raw := w.vapid.priv.Bytes()
	defer secret.Clear(raw)
	resp, err := webpush.SendNotificationWithContext(ctx, body, sub, &webpush.Options{
		HTTPClient:      w.client,
		Subscriber:      librarySubscriber(w.subject),
		TTL:             webPushTTL,
		Urgency:         webpush.UrgencyHigh,
		VAPIDPublicKey:  base64.RawURLEncoding.EncodeToString(w.pub),
		VAPIDPrivateKey: base64.RawURLEncoding.EncodeToString(raw),
	})
	if err != nil {
		return unwrapURLError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		// RFC 8030 section 7.3: the subscription has expired.
		err := w.subs.DeletePushSubscription(ctx, s.DeviceID, s.Endpoint)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("removing the expired subscription: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: %d %s", ErrWebPushStatus, resp.StatusCode, http.StatusText(resp.StatusCode))
}

// librarySubscriber turns the subject into what webpush-go expects: it
// prefixes "mailto:" to anything that is not an https: URL.
func librarySubscriber(subject string) string {
	if rest, ok := strings.CutPrefix(subject, "mailto:"); ok {
		return rest
	}
	return subject
}

// publicTransport is a copy of the default transport whose dialer refuses
// addresses that are not public (checked on the address actually dialled,
// after DNS), so that a hostile device cannot make the server POST into
// its own network; allowLoopback lets loopback through for local trials.
func publicTransport(allowLoopback bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return ErrPushAddress
			}
			ip := ap.Addr().Unmap()
			if allowLoopback && ip.IsLoopback() {
				return nil
			}
			if !ip.IsGlobalUnicast() || ip.IsPrivate() {
				return ErrPushAddress
			}
			return nil
		},
	}
	t.DialContext = d.DialContext
	return t
}

var _ Notifier = (*WebPush)(nil)
