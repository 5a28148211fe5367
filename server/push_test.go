package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/server/push"
)

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEvents: a connected device receives the request id of each new
// request over Server-Sent Events, and nothing else.
func TestEvents(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	stranger := e.userWithDevice(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan string, 4)
	strangerEvents := make(chan string, 4)
	subscribe := func(dev *testDevice, out chan<- string) {
		req := dev.signed(t, http.MethodGet, "/v1/device/events", nil, e.clock.Now(), newNonce(t)).WithContext(ctx)
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		go func() {
			defer res.Body.Close()
			_ = push.ReadEvents(res.Body, func(event string, data []byte) error {
				if event == push.EventRequest {
					id, err := push.DecodePayload(data)
					if err != nil {
						id = "malformed: " + string(data)
					}
					out <- id
				}
				return nil
			})
		}()
	}
	subscribe(d, events)
	subscribe(stranger, strangerEvents)
	waitFor(t, func() bool { return e.srv.hub.Stats().Subscribers == 2 }, "both streams to subscribe")

	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("notify me"))
	select {
	case id := <-events:
		if id != p.RequestID {
			t.Fatalf("event for %q, want %q", id, p.RequestID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	select {
	case id := <-strangerEvents:
		t.Fatalf("another user's device got event %q", id)
	case <-time.After(100 * time.Millisecond):
	}

	// Unsigned calls get no stream.
	e.do(http.MethodGet, "/v1/device/events", "", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")

	// Close ends the streams, so a graceful shutdown does not hang on them.
	e.srv.endStreams()
	waitFor(t, func() bool { return e.srv.hub.Stats().Subscribers == 0 }, "streams to end")
}

// TestWebhook: the webhook relay receives a signed {"request_id"} POST on
// loopback, and its signature verifies with the shared secret.
func TestWebhook(t *testing.T) {
	secret := []byte(strings.Repeat("k", push.MinSecretSize))
	type delivery struct {
		header string
		body   []byte
	}
	var mu sync.Mutex
	var got []delivery
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header.Get(push.SignatureHeader), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer relay.Close()
	wh, err := push.NewWebhook(relay.URL, secret, relay.Client())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil, func(d *Deps) { d.Notifiers = []push.Notifier{wh} })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("push me"))

	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, "the webhook")
	mu.Lock()
	dl := got[0]
	mu.Unlock()
	if want := `{"request_id":"` + p.RequestID + `"}`; !bytes.Equal(dl.body, []byte(want)) {
		t.Fatalf("webhook body %s, want %s", dl.body, want)
	}
	if err := push.VerifyWebhook(secret, dl.header, dl.body, time.Now(), time.Minute); err != nil {
		t.Fatalf("webhook signature: %v", err)
	}
	if bytes.Contains(dl.body, []byte(d.userID)) {
		t.Fatal("the webhook carries the user id")
	}
}
