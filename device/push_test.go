package device_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/pushtest"
	"github.com/assent-dev/assent/server"
)

// A device reads the server's VAPID key and registers a Web Push
// subscription (the approval app's path), again idempotently; the server
// refuses a subscription that is not a push endpoint, and a server without
// Web Push answers 404.
func TestPushSubscription(t *testing.T) {
	e := newServerEnv(t, func(c *server.Config) { c.PushAllowLoopback = true })
	id := e.enroll()
	c := e.client(id, device.ClientOptions{})
	key, err := c.PushConfig(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 65 || key[0] != 4 {
		t.Fatalf("VAPID key of %d bytes", len(key))
	}
	ps := pushtest.New()
	defer ps.Close()
	sub := ps.Subscribe()
	body := &api.PushSubscription{Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth}
	if err := c.SubscribePush(e.ctx, body); err != nil {
		t.Fatalf("first subscription: %v", err)
	}
	if err := c.SubscribePush(e.ctx, body); err != nil {
		t.Fatalf("the same subscription again (200): %v", err)
	}
	for name, bad := range map[string]*api.PushSubscription{
		"plain http to a public host": {Endpoint: "http://push.example/x", P256dh: sub.P256dh, Auth: sub.Auth},
		"short auth":                  {Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth[:8]},
		"not a point":                 {Endpoint: sub.Endpoint, P256dh: make([]byte, 65), Auth: sub.Auth},
	} {
		var ae *device.APIError
		if err := c.SubscribePush(e.ctx, bad); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Errorf("%s: %v, want a 400", name, err)
		}
	}
	// Unsigned by a device of the server: refused before anything else.
	other := newServerEnv(t, nil)
	stranger := other.client(id, device.ClientOptions{})
	var ae *device.APIError
	if err := stranger.SubscribePush(other.ctx, body); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("a device unknown to the server: %v, want 401", err)
	}

	// Without Web Push the routes answer 404.
	noPush := newServerEnv(t, nil)
	id2 := noPush.enroll()
	if _, err := noPush.client(id2, device.ClientOptions{}).PushConfig(noPush.ctx); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("PushConfig without Web Push: %v, want 404", err)
	}
}
