package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/pushtest"
	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
)

// webPushEnv is a server whose Web Push goes to a push service on loopback.
func webPushEnv(t *testing.T) (*testEnv, *pushtest.Service, *push.WebPush) {
	t.Helper()
	svc := pushtest.New()
	t.Cleanup(svc.Close)
	key, err := push.LoadOrCreateVAPIDKey(filepath.Join(t.TempDir(), "vapid.key"))
	if err != nil {
		t.Fatal(err)
	}
	var wp *push.WebPush
	e := newEnv(t, func(c *Config) { c.PushAllowLoopback = true }, func(d *Deps) {
		wp, err = push.NewWebPush(d.Store, key, "mailto:ops@example.org", push.WebPushOptions{Client: svc.Client()})
		if err != nil {
			t.Fatal(err)
		}
		d.WebPush = wp
	})
	return e, svc, wp
}

func subscriptionBody(s *pushtest.Subscription) api.PushSubscription {
	return api.PushSubscription{Endpoint: s.Endpoint, P256dh: s.P256dh, Auth: s.Auth}
}

// TestWebPushFlow: a device registers its browser's subscription, a record
// is uploaded, and the push service receives a message that decrypts to
// exactly the request id; a 410 then removes the subscription.
func TestWebPushFlow(t *testing.T) {
	e, svc, wp := webPushEnv(t)
	d := e.userWithDevice(t)
	var cfg api.PushConfig
	d.call(t, http.MethodGet, api.PathDevicePushSubscription, nil).want(t, http.StatusOK).decode(t, &cfg)
	if !bytes.Equal(cfg.VAPIDPublicKey, wp.PublicKey()) || len(cfg.VAPIDPublicKey) != 65 {
		t.Fatalf("vapid_public_key %x, want the server's", cfg.VAPIDPublicKey)
	}
	sub := svc.Subscribe()
	d.call(t, http.MethodPost, api.PathDevicePushSubscription, subscriptionBody(sub)).want(t, http.StatusCreated)
	d.call(t, http.MethodPost, api.PathDevicePushSubscription, subscriptionBody(sub)).want(t, http.StatusOK)

	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("wake the phone"))
	waitFor(t, func() bool { return len(svc.Messages()) == 1 }, "the push")
	m := svc.Messages()[0]
	if want := `{"request_id":"` + p.RequestID + `"}`; string(m.Plaintext) != want {
		t.Fatalf("push payload %q, want exactly %q", m.Plaintext, want)
	}
	if !bytes.Equal(m.VAPIDKey, cfg.VAPIDPublicKey) || len(svc.Failures()) != 0 {
		t.Fatalf("VAPID key %x, failures %v", m.VAPIDKey, svc.Failures())
	}

	// The subscription expires: the next push gets 410 and removes it.
	svc.SetStatus(sub, http.StatusGone)
	e.upload(t, e.createRecord(t, d.userID), []byte("second"))
	waitFor(t, func() bool {
		subs, err := e.st.PushSubscriptions(t.Context(), d.userID)
		return err == nil && len(subs) == 0
	}, "the expired subscription's removal")
	e.upload(t, e.createRecord(t, d.userID), []byte("third"))
	e.upload(t, e.createRecord(t, d.userID), []byte("fourth"))
	if n := len(svc.Messages()); n != 2 {
		t.Fatalf("%d pushes, want 2: none after the 410", n)
	}
	// Delivered pushes and the 410 (not a failure) are counted as delivered.
	waitFor(t, func() bool {
		return scrape(t, e.srv)[`assent_push_notifications_total{notifier="webpush",result="delivered"}`] == 4
	}, "the webpush counter at 4")
	if strings.Contains(e.logs.String(), sub.Endpoint) || strings.Contains(e.logs.String(), "/push/") {
		t.Fatal("the log holds the endpoint")
	}
}

// TestPushSubscriptionRefused: bad signatures and malformed subscriptions.
func TestPushSubscriptionRefused(t *testing.T) {
	e, svc, _ := webPushEnv(t)
	d := e.userWithDevice(t)
	other := e.userWithDevice(t)
	sub := svc.Subscribe()

	body, _ := json.Marshal(subscriptionBody(sub))
	req := d.signed(t, http.MethodPost, api.PathDevicePushSubscription, body, e.clock.Now(), newNonce(t))
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(make([]byte, 64)))
	e.send(req).want(t, http.StatusUnauthorized)
	// Signed by the device, sent with another body.
	req = d.signed(t, http.MethodPost, api.PathDevicePushSubscription, body, e.clock.Now(), newNonce(t))
	tampered := subscriptionBody(svc.Subscribe())
	tb, _ := json.Marshal(tampered)
	req2, _ := http.NewRequest(http.MethodPost, req.URL.String(), bytes.NewReader(tb))
	req2.Header = req.Header
	e.send(req2).want(t, http.StatusUnauthorized)

	offCurve := bytes.Clone(sub.P256dh)
	offCurve[64] ^= 1
	compressed := append([]byte{2}, sub.P256dh[1:33]...)
	for name, edit := range map[string]func(b *api.PushSubscription){
		"http endpoint":    func(b *api.PushSubscription) { b.Endpoint = "http://push.example/x" },
		"relative":         func(b *api.PushSubscription) { b.Endpoint = "/push/x" },
		"user info":        func(b *api.PushSubscription) { b.Endpoint = "https://u:p@push.example/x" },
		"private address":  func(b *api.PushSubscription) { b.Endpoint = "https://10.0.0.1/x" },
		"long endpoint":    func(b *api.PushSubscription) { b.Endpoint = "https://push.example/" + strings.Repeat("a", 2048) },
		"no endpoint":      func(b *api.PushSubscription) { b.Endpoint = "" },
		"point off curve":  func(b *api.PushSubscription) { b.P256dh = offCurve },
		"compressed point": func(b *api.PushSubscription) { b.P256dh = compressed },
		"short auth":       func(b *api.PushSubscription) { b.Auth = b.Auth[:15] },
		"no keys":          func(b *api.PushSubscription) { b.P256dh, b.Auth = nil, nil },
	} {
		b := subscriptionBody(sub)
		edit(&b)
		if r := d.call(t, http.MethodPost, api.PathDevicePushSubscription, b); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, r.status)
		}
	}
	// Unknown fields are refused, as everywhere.
	if r := d.call(t, http.MethodPost, api.PathDevicePushSubscription, map[string]any{
		"endpoint": sub.Endpoint, "p256dh": sub.P256dh, "auth": sub.Auth, "keys": map[string]string{},
	}); r.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d, want 400", r.status)
	}
	// Another device's endpoint.
	d.call(t, http.MethodPost, api.PathDevicePushSubscription, subscriptionBody(sub)).want(t, http.StatusCreated)
	other.call(t, http.MethodPost, api.PathDevicePushSubscription, subscriptionBody(sub)).want(t, http.StatusConflict)
	subs, err := e.st.PushSubscriptions(t.Context(), other.userID)
	if err != nil || len(subs) != 0 {
		t.Fatalf("the other user's subscriptions: %v, %d", err, len(subs))
	}
}

// TestPushSubscriptionWithoutWebPush: a server without Web Push says so.
func TestPushSubscriptionWithoutWebPush(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	d.call(t, http.MethodGet, api.PathDevicePushSubscription, nil).want(t, http.StatusNotFound)
}

func TestCheckPushEndpoint(t *testing.T) {
	for _, ok := range []string{"https://fcm.googleapis.com/fcm/send/abc", "https://[2001:db8::1]/x", "https://8.8.8.8/x"} {
		if err := checkPushEndpoint(ok, false); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://127.0.0.1/x", "https://localhost/x", "http://127.0.0.1/x", "https://[::1]/x", "https://169.254.1.1/x", "https://192.168.1.1/x", "ftp://push.example/x", "https://push.example/x#f"} {
		if err := checkPushEndpoint(bad, false); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:9/x", "https://[::1]:9/x", "http://localhost/x"} {
		if err := checkPushEndpoint(ok, true); err != nil {
			t.Errorf("%s with loopback allowed: %v", ok, err)
		}
	}
}

// FuzzCheckPushEndpoint: whatever is accepted is an https URL with a host
// that is not a private or loopback address (or, with loopback allowed,
// one on loopback), and nothing panics.
func FuzzCheckPushEndpoint(f *testing.F) {
	for _, s := range []string{
		"https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b", "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
		"https://web.push.apple.com/QGx", "http://127.0.0.1:9/push/x", "https://[::ffff:10.0.0.1]/x", "https://localhost./x",
		"https://0x7f.1/x", "https://2130706433/x", "", "https:", "https:///x", "mailto:a@b",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, loopback bool) {
		if checkPushEndpoint(s, loopback) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.User != nil || len(s) > store.MaxPushEndpoint {
			t.Fatalf("accepted %q", s)
		}
		if u.Scheme != "https" && !(loopback && u.Scheme == "http") {
			t.Fatalf("accepted scheme of %q", s)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && (ip.Unmap().IsPrivate() || (!loopback && ip.Unmap().IsLoopback())) {
			t.Fatalf("accepted address of %q", s)
		}
	})
}
