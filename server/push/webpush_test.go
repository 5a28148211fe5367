package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/pushtest"
	"github.com/assent-dev/assent/store"
)

// memSubs is a Subscriptions for one user.
type memSubs struct {
	mu   sync.Mutex
	subs []*store.PushSubscription
}

func (m *memSubs) PushSubscriptions(context.Context, string) ([]*store.PushSubscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*store.PushSubscription(nil), m.subs...), nil
}

func (m *memSubs) DeletePushSubscription(_ context.Context, device, endpoint string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.subs {
		if s.DeviceID == device && s.Endpoint == endpoint {
			m.subs = append(m.subs[:i], m.subs[i+1:]...)
			return nil
		}
	}
	return store.ErrNotFound
}

func newTestWebPush(t *testing.T, svc *pushtest.Service, subs Subscriptions) *WebPush {
	t.Helper()
	key, err := LoadOrCreateVAPIDKey(filepath.Join(t.TempDir(), "vapid.key"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWebPush(subs, key, "mailto:ops@example.org", WebPushOptions{Client: svc.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func storeSub(t *testing.T, s *pushtest.Subscription) *store.PushSubscription {
	id, err := ids.New(ids.Device, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &store.PushSubscription{DeviceID: id, Endpoint: s.Endpoint, P256dh: s.P256dh, Auth: s.Auth}
}

func TestWebPushDelivers(t *testing.T) {
	svc := pushtest.New()
	defer svc.Close()
	a, b := svc.Subscribe(), svc.Subscribe()
	subs := &memSubs{subs: []*store.PushSubscription{storeSub(t, a), storeSub(t, b)}}
	w := newTestWebPush(t, svc, subs)
	reqID, _ := ids.New(ids.Request, rand.Reader)
	user, _ := ids.New(ids.User, rand.Reader)
	if err := w.Notify(t.Context(), user, reqID); err != nil {
		t.Fatalf("Notify: %v (service refused: %v)", err, svc.Failures())
	}
	msgs := svc.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2 (refused: %v)", len(msgs), svc.Failures())
	}
	want := `{"request_id":"` + reqID + `"}`
	for _, m := range msgs {
		if string(m.Plaintext) != want {
			t.Errorf("payload %q, want exactly %q", m.Plaintext, want)
		}
		if m.Subject != "mailto:ops@example.org" || !bytes.Equal(m.VAPIDKey, w.PublicKey()) {
			t.Errorf("VAPID sub %q, k %x; want the configured subject and key", m.Subject, m.VAPIDKey)
		}
	}
	if err := w.Notify(t.Context(), user, "req_\nx"); !errors.Is(err, ids.ErrMalformed) {
		t.Fatalf("Notify of a malformed id: %v", err)
	}
}

func TestWebPushGoneRemoves(t *testing.T) {
	svc := pushtest.New()
	defer svc.Close()
	gone, broken, fine := svc.Subscribe(), svc.Subscribe(), svc.Subscribe()
	svc.SetStatus(gone, http.StatusGone)
	svc.SetStatus(broken, http.StatusInternalServerError)
	sGone, sBroken, sFine := storeSub(t, gone), storeSub(t, broken), storeSub(t, fine)
	subs := &memSubs{subs: []*store.PushSubscription{sGone, sBroken, sFine}}
	w := newTestWebPush(t, svc, subs)
	reqID, _ := ids.New(ids.Request, rand.Reader)
	err := w.Notify(t.Context(), "usr_x", reqID)
	if !errors.Is(err, ErrWebPushStatus) || !strings.Contains(err.Error(), sBroken.DeviceID) {
		t.Fatalf("Notify with a failing service: %v, want ErrWebPushStatus naming the device", err)
	}
	if strings.Contains(err.Error(), "/push/") || strings.Contains(err.Error(), svc.URL) {
		t.Fatalf("error repeats the endpoint: %v", err)
	}
	left, _ := subs.PushSubscriptions(t.Context(), "")
	if len(left) != 2 || left[0] != sBroken || left[1] != sFine {
		t.Fatalf("after a 410: %d subscriptions left, want the failing and the fine one", len(left))
	}
	if n := len(svc.Messages()); n != 3 {
		t.Fatalf("%d messages, want 3: one failure does not stop the others", n)
	}
}

func TestWebPushRefusesPrivateAddresses(t *testing.T) {
	svc := pushtest.New()
	defer svc.Close()
	sub := svc.Subscribe()
	key, err := LoadOrCreateVAPIDKey(filepath.Join(t.TempDir(), "vapid.key"))
	if err != nil {
		t.Fatal(err)
	}
	subs := &memSubs{subs: []*store.PushSubscription{storeSub(t, sub)}}
	w, err := NewWebPush(subs, key, "https://assent.example", WebPushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := ids.New(ids.Request, rand.Reader)
	if err := w.Notify(t.Context(), "usr_x", reqID); !errors.Is(err, ErrPushAddress) {
		t.Fatalf("Notify to a loopback endpoint without AllowLoopback: %v, want ErrPushAddress", err)
	}
	if n := len(svc.Messages()) + len(svc.Failures()); n != 0 {
		t.Fatalf("the service saw %d requests", n)
	}
}

func TestVAPIDKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vapid.key")
	if _, err := LoadVAPIDKey(path); !errors.Is(err, ErrVAPIDKey) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadVAPIDKey of a missing file: %v", err)
	}
	k1, err := LoadOrCreateVAPIDKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != VAPIDKeySize {
		t.Fatalf("key file: %v, mode %v, size %d", err, fi.Mode(), fi.Size())
	}
	k2, err := LoadOrCreateVAPIDKey(path)
	if err != nil || !bytes.Equal(k1.PublicKey(), k2.PublicKey()) || len(k1.PublicKey()) != 65 {
		t.Fatalf("second start: %v, or another key", err)
	}
	os.Chmod(path, 0o640)
	if _, err := LoadVAPIDKey(path); !errors.Is(err, ErrVAPIDKey) || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("group-readable key: %v", err)
	}
	for name, data := range map[string][]byte{"short": make([]byte, 31), "long": make([]byte, 33), "zero scalar": make([]byte, 32)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		if _, err := LoadVAPIDKey(p); !errors.Is(err, ErrVAPIDKey) {
			t.Errorf("%s key: %v", name, err)
		}
	}
}

func TestVAPIDSubject(t *testing.T) {
	for _, s := range []string{"mailto:ops@example.org", "https://assent.example"} {
		if err := CheckVAPIDSubject(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "ops@example.org", "mailto:", "http://assent.example", "https://", "https://u:p@host"} {
		if err := CheckVAPIDSubject(s); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v, want ErrConfig", s, err)
		}
	}
}
