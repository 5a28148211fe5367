package push

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/labstack/echo/v5"
)

// hubServer is a real HTTP server on loopback whose handler subscribes to a
// real Hub, mapping the errors returned before the stream starts the way the
// Assent server does.
type hubServer struct {
	hub *Hub
	srv *httptest.Server

	mu      sync.Mutex
	results map[string]chan error // Serve's return, by device id
}

func newHubServer(t *testing.T, opts HubOptions) *hubServer {
	t.Helper()
	hs := newUnstartedHubServer(t, opts)
	hs.srv.Start()
	return hs
}

func newUnstartedHubServer(t *testing.T, opts HubOptions) *hubServer {
	t.Helper()
	hub, err := NewHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := &hubServer{hub: hub, results: make(map[string]chan error)}
	hs.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dev := r.URL.Query().Get("device")
		err := hub.Serve(w, r, r.URL.Query().Get("user"), dev)
		switch {
		case errors.Is(err, ErrTooManySubscribers):
			http.Error(w, "busy", http.StatusTooManyRequests)
		case errors.Is(err, ErrClosed):
			http.Error(w, "closing", http.StatusServiceUnavailable)
		case errors.Is(err, ids.ErrMalformed):
			http.Error(w, "bad id", http.StatusBadRequest)
		}
		hs.result(dev) <- err
	}))
	t.Cleanup(func() {
		hub.Close()
		hs.srv.Close()
	})
	return hs
}

func (hs *hubServer) result(dev string) chan error {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.results[dev] == nil {
		hs.results[dev] = make(chan error, 8)
	}
	return hs.results[dev]
}

// served waits for the next return of Serve for dev.
func (hs *hubServer) served(t *testing.T, dev string) error {
	t.Helper()
	select {
	case err := <-hs.result(dev):
		return err
	case <-t.Context().Done():
		t.Fatal("test ended before Serve returned")
		return nil
	}
}

// get opens the stream of user/dev with client (nil: the server's) and
// returns the response, whatever its status. Cancelling ctx hangs up.
func (hs *hubServer) get(t *testing.T, ctx context.Context, client *http.Client, user, dev string) *http.Response {
	t.Helper()
	if client == nil {
		client = hs.srv.Client()
	}
	q := url.Values{"user": {user}, "device": {dev}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.srv.URL+"/v1/device/events?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// subscribe opens a stream that must be accepted and returns its events as
// they arrive; the channel is closed when ReadEvents returns, and its error
// is then sent on the second channel.
func (hs *hubServer) subscribe(t *testing.T, ctx context.Context, user, dev string) (<-chan string, <-chan error) {
	t.Helper()
	resp := hs.get(t, ctx, nil, user, dev)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe %s/%s: status %d", user, dev, resp.StatusCode)
	}
	return readEventsAsync(resp.Body)
}

func readEventsAsync(body io.Reader) (<-chan string, <-chan error) {
	events := make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		defer close(events)
		done <- ReadEvents(body, func(event string, data []byte) error {
			if event != EventRequest {
				return errors.New("unexpected event type " + event)
			}
			id, err := DecodePayload(data)
			if err != nil {
				return err
			}
			events <- id
			return nil
		})
	}()
	return events, done
}

func next(t *testing.T, events <-chan string) string {
	t.Helper()
	select {
	case id, ok := <-events:
		if !ok {
			t.Fatal("stream ended before the expected event")
		}
		return id
	case <-t.Context().Done():
		t.Fatal("test ended waiting for an event")
		return ""
	}
}

func newID(t testing.TB, prefix string) string {
	t.Helper()
	id, err := ids.New(prefix, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustNotify(t testing.TB, n Notifier, user, req string) {
	t.Helper()
	if err := n.Notify(context.Background(), user, req); err != nil {
		t.Fatalf("Notify: %v", err)
	}
}

func TestHubStreamsExactFrameAndHeaders(t *testing.T) {
	hs := newHubServer(t, HubOptions{Heartbeat: time.Hour})
	user, dev, req := newID(t, ids.User), newID(t, ids.Device), newID(t, ids.Request)
	resp := hs.get(t, t.Context(), nil, user, dev)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-store",
		"X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	mustNotify(t, hs.hub, user, req)
	want := "event: request\ndata: {\"request_id\":\"" + req + "\"}\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("frame = %q, want %q", got, want)
	}
}

func TestHubFanOutToTheUsersDevicesOnly(t *testing.T) {
	hs := newHubServer(t, HubOptions{})
	alice, bob := newID(t, ids.User), newID(t, ids.User)
	phone, laptop := hs.subscribeNew(t, alice), hs.subscribeNew(t, alice)
	bobs := hs.subscribeNew(t, bob)

	forAlice, forBob := newID(t, ids.Request), newID(t, ids.Request)
	mustNotify(t, hs.hub, alice, forAlice)
	mustNotify(t, hs.hub, bob, forBob)
	for name, events := range map[string]<-chan string{"phone": phone, "laptop": laptop} {
		if got := next(t, events); got != forAlice {
			t.Errorf("%s got %q, want %q", name, got, forAlice)
		}
	}
	// Events of one stream arrive in order, so Bob's first event being his
	// own proves he did not get Alice's.
	if got := next(t, bobs); got != forBob {
		t.Fatalf("bob got %q, want only his own %q", got, forBob)
	}
}

func (hs *hubServer) subscribeNew(t *testing.T, user string) <-chan string {
	t.Helper()
	events, _ := hs.subscribe(t, t.Context(), user, newID(t, ids.Device))
	return events
}

func TestHubNotifyWithoutSubscriberIsNotAnError(t *testing.T) {
	hub, err := NewHub(HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustNotify(t, hub, newID(t, ids.User), newID(t, ids.Request))
	if s := hub.Stats(); s != (HubStats{}) {
		t.Fatalf("stats = %+v after notifying nobody", s)
	}
}

func TestHubRejectsMalformedIDs(t *testing.T) {
	hs := newHubServer(t, HubOptions{})
	user, dev := newID(t, ids.User), newID(t, ids.Device)
	events, _ := hs.subscribe(t, t.Context(), user, dev)
	for _, req := range []string{"", "req_x", newID(t, ids.Session), newID(t, ids.Request) + "\n\nevent: x", "req_AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if err := hs.hub.Notify(t.Context(), user, req); !errors.Is(err, ids.ErrMalformed) {
			t.Errorf("Notify(%q) = %v, want ids.ErrMalformed", req, err)
		}
	}
	// Nothing of the rejected ids reached the stream.
	good := newID(t, ids.Request)
	mustNotify(t, hs.hub, user, good)
	if got := next(t, events); got != good {
		t.Fatalf("first event %q, want %q", got, good)
	}

	for _, c := range [][2]string{{"", dev}, {user, ""}, {dev, dev}, {user, user}} {
		resp := hs.get(t, t.Context(), nil, c[0], c[1])
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("Serve(%q, %q): status %d, want 400", c[0], c[1], resp.StatusCode)
		}
		if err := hs.served(t, c[1]); !errors.Is(err, ids.ErrMalformed) {
			t.Errorf("Serve(%q, %q) = %v, want ids.ErrMalformed", c[0], c[1], err)
		}
	}
}

func TestNewHubRejectsNegativeOptions(t *testing.T) {
	for _, o := range []HubOptions{
		{Heartbeat: -1}, {Buffer: -1}, {MaxPerUser: -1}, {MaxTotal: -1}, {WriteTimeout: -time.Second},
	} {
		if _, err := NewHub(o); !errors.Is(err, ErrConfig) {
			t.Errorf("NewHub(%+v) = %v, want ErrConfig", o, err)
		}
	}
}

func TestHubHeartbeat(t *testing.T) {
	hs := newHubServer(t, HubOptions{Heartbeat: 5 * time.Millisecond})
	resp := hs.get(t, t.Context(), nil, newID(t, ids.User), newID(t, ids.Device))
	br := bufio.NewReader(resp.Body)
	for range 3 {
		for _, want := range []string{": keepalive\n", "\n"} {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line != want {
				t.Fatalf("line %q, want %q", line, want)
			}
		}
	}
}

func TestHubHeartbeatsAreInvisibleToReadEvents(t *testing.T) {
	hs := newHubServer(t, HubOptions{Heartbeat: time.Millisecond})
	user := newID(t, ids.User)
	resp := hs.get(t, t.Context(), nil, user, newID(t, ids.Device))
	// Let some keepalives through before the event.
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != ": keepalive\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	events, _ := readEventsAsync(br)
	req := newID(t, ids.Request)
	mustNotify(t, hs.hub, user, req)
	if got := next(t, events); got != req {
		t.Fatalf("got %q, want %q", got, req)
	}
}

func TestHubCloseEndsStreams(t *testing.T) {
	hs := newHubServer(t, HubOptions{})
	user := newID(t, ids.User)
	d1, d2 := newID(t, ids.Device), newID(t, ids.Device)
	_, end1 := hs.subscribe(t, t.Context(), user, d1)
	_, end2 := hs.subscribe(t, t.Context(), newID(t, ids.User), d2)

	if err := hs.hub.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{d1, d2} {
		if err := hs.served(t, d); err != nil {
			t.Errorf("Serve(%s) after Close = %v, want nil", d, err)
		}
	}
	for _, end := range []<-chan error{end1, end2} {
		if err := <-end; err != nil {
			t.Errorf("ReadEvents after Close = %v, want nil at EOF", err)
		}
	}
	if err := hs.hub.Notify(t.Context(), user, newID(t, ids.Request)); !errors.Is(err, ErrClosed) {
		t.Errorf("Notify after Close = %v, want ErrClosed", err)
	}
	resp := hs.get(t, t.Context(), nil, user, d1)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("subscribe after Close: status %d, want 503", resp.StatusCode)
	}
	if err := hs.served(t, d1); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close = %v, want ErrClosed", err)
	}
	if s := hs.hub.Stats(); s.Subscribers != 0 {
		t.Errorf("%d subscribers after Close", s.Subscribers)
	}
	if err := hs.hub.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestHubCaps(t *testing.T) {
	hs := newHubServer(t, HubOptions{MaxPerUser: 2, MaxTotal: 3})
	alice, bob, carol := newID(t, ids.User), newID(t, ids.User), newID(t, ids.User)
	a1, a2, a3 := newID(t, ids.Device), newID(t, ids.Device), newID(t, ids.Device)

	a2ctx, hangUpA2 := context.WithCancel(t.Context())
	_, a1end := hs.subscribe(t, t.Context(), alice, a1)
	hs.subscribe(t, a2ctx, alice, a2)
	hs.wantRejected(t, alice, a3) // per user
	hs.subscribe(t, t.Context(), bob, newID(t, ids.Device))
	hs.wantRejected(t, carol, newID(t, ids.Device)) // in total

	// The same device reconnecting replaces its stream even at the cap.
	a1events, _ := hs.subscribe(t, t.Context(), alice, a1)
	if err := hs.served(t, a1); !errors.Is(err, ErrReplaced) {
		t.Fatalf("replaced stream's Serve = %v, want ErrReplaced", err)
	}
	if err := <-a1end; err != nil {
		t.Fatalf("replaced stream's ReadEvents = %v, want nil at EOF", err)
	}
	req := newID(t, ids.Request)
	mustNotify(t, hs.hub, alice, req)
	if got := next(t, a1events); got != req {
		t.Fatalf("new stream got %q, want %q", got, req)
	}

	// A client hanging up frees its slot.
	hangUpA2()
	if err := hs.served(t, a2); err != nil {
		t.Fatalf("Serve after hang-up = %v, want nil", err)
	}
	hs.subscribe(t, t.Context(), alice, a3)
	if s := hs.hub.Stats(); s.Subscribers != 3 {
		t.Fatalf("%d subscribers, want 3", s.Subscribers)
	}
}

func (hs *hubServer) wantRejected(t *testing.T, user, dev string) {
	t.Helper()
	resp := hs.get(t, t.Context(), nil, user, dev)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("subscribe %s/%s: status %d, want 429", user, dev, resp.StatusCode)
	}
	if err := hs.served(t, dev); !errors.Is(err, ErrTooManySubscribers) {
		t.Fatalf("Serve = %v, want ErrTooManySubscribers", err)
	}
}

// smallBuffers makes the kernel buffers of every accepted connection small,
// so that a client that does not read stalls the server's writes after a few
// KiB instead of a few MiB.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		err = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestHubSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	// A long write timeout, so that the stalled stream ends because the hub
	// dropped it and not because a write timed out.
	hs := newUnstartedHubServer(t, HubOptions{Heartbeat: time.Hour, Buffer: 4, WriteTimeout: time.Hour})
	hs.srv.Listener = smallBuffers{hs.srv.Listener}
	hs.srv.Start()

	slowUser, slowDev := newID(t, ids.User), newID(t, ids.Device)
	dialer := &net.Dialer{}
	stalled := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				err = tc.SetReadBuffer(4096)
			}
			return c, err
		},
	}}
	slow := hs.get(t, t.Context(), stalled, slowUser, slowDev)
	if slow.StatusCode != http.StatusOK {
		t.Fatalf("status %d", slow.StatusCode)
	}
	fastUser := newID(t, ids.User)
	fast, _ := hs.subscribe(t, t.Context(), fastUser, newID(t, ids.Device))

	// Nobody reads the slow stream: its socket buffers fill, then its event
	// buffer, and the hub must drop it rather than block. Each Notify
	// returns at once; the bound only turns a regression into a failure
	// instead of a hang.
	req := newID(t, ids.Request)
	for i := 0; hs.hub.Stats().Dropped == 0; i++ {
		if i == 1<<20 {
			t.Fatal("the stalled stream was never dropped")
		}
		mustNotify(t, hs.hub, slowUser, req)
	}
	if s := hs.hub.Stats(); s.Dropped != 1 || s.Subscribers != 1 {
		t.Fatalf("stats %+v, want the slow stream dropped and the fast one kept", s)
	}

	forFast := newID(t, ids.Request)
	mustNotify(t, hs.hub, fastUser, forFast)
	if got := next(t, fast); got != forFast {
		t.Fatalf("fast subscriber got %q, want %q", got, forFast)
	}

	// Once the slow client reads again, its stream ends cleanly: the hub
	// stopped feeding it.
	if _, err := io.Copy(io.Discard, slow.Body); err != nil {
		t.Fatalf("draining the dropped stream: %v", err)
	}
	if err := hs.served(t, slowDev); !errors.Is(err, ErrSlowSubscriber) {
		t.Fatalf("slow stream's Serve = %v, want ErrSlowSubscriber", err)
	}
}

// noFlushWriter is a ResponseWriter that cannot flush, like some middleware
// wrappers; the real ones in net/http all flush.
type noFlushWriter struct{ h http.Header }

func (w noFlushWriter) Header() http.Header       { return w.h }
func (noFlushWriter) Write(p []byte) (int, error) { return len(p), nil }
func (noFlushWriter) WriteHeader(int)             {}

func TestHubServeNeedsFlush(t *testing.T) {
	hub, err := NewHub(HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/device/events", nil)
	user, dev := newID(t, ids.User), newID(t, ids.Device)
	// Echo's Response panics in Flush over such a writer: Serve must
	// refuse before trying.
	for _, w := range []http.ResponseWriter{noFlushWriter{http.Header{}}, echo.NewResponse(noFlushWriter{http.Header{}}, slog.Default())} {
		if err := hub.Serve(w, r, user, dev); !errors.Is(err, ErrNoFlush) {
			t.Errorf("Serve(%T) = %v, want ErrNoFlush", w, err)
		}
	}
	if s := hub.Stats(); s.Subscribers != 0 {
		t.Fatalf("%d subscribers after refusals", s.Subscribers)
	}
}

func TestHubServeThroughEcho(t *testing.T) {
	hub, err := NewHub(HubOptions{Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	user, dev := newID(t, ids.User), newID(t, ids.Device)
	e.GET("/v1/device/events", func(c *echo.Context) error {
		return hub.Serve(c.Response(), c.Request(), user, dev)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { hub.Close() })

	resp, err := srv.Client().Get(srv.URL + "/v1/device/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, ct)
	}
	events, _ := readEventsAsync(resp.Body)
	req := newID(t, ids.Request)
	mustNotify(t, hub, user, req)
	if got := next(t, events); got != req {
		t.Fatalf("got %q, want %q", got, req)
	}
}

func TestHubConnectedUsers(t *testing.T) {
	hs := newHubServer(t, HubOptions{})
	sorted := func() []string { u := hs.hub.ConnectedUsers(); slices.Sort(u); return u }
	if u := sorted(); len(u) != 0 {
		t.Fatalf("connected users %v before any stream", u)
	}
	alice, bob := newID(t, ids.User), newID(t, ids.User)
	phone, laptop, bobs := newID(t, ids.Device), newID(t, ids.Device), newID(t, ids.Device)
	phoneCtx, hangUpPhone := context.WithCancel(t.Context())
	defer hangUpPhone()
	hs.subscribe(t, phoneCtx, alice, phone)
	laptopCtx, hangUpLaptop := context.WithCancel(t.Context())
	defer hangUpLaptop()
	hs.subscribe(t, laptopCtx, alice, laptop)
	hs.subscribe(t, t.Context(), bob, bobs)
	want := []string{alice, bob}
	slices.Sort(want)
	if u := sorted(); !slices.Equal(u, want) {
		t.Fatalf("connected users %v, want each of %v once", u, want)
	}

	// A device that reconnects replaces its stream: still one entry.
	phoneCtx2, hangUpPhone2 := context.WithCancel(t.Context())
	defer hangUpPhone2()
	hs.subscribe(t, phoneCtx2, alice, phone)
	if err := hs.served(t, phone); !errors.Is(err, ErrReplaced) {
		t.Fatalf("replaced stream ended with %v", err)
	}
	if u := sorted(); !slices.Equal(u, want) {
		t.Fatalf("connected users %v after a reconnection, want %v", u, want)
	}

	// Alice stays connected while one of her streams is open.
	hangUpLaptop()
	if err := hs.served(t, laptop); err != nil {
		t.Fatalf("laptop stream ended with %v", err)
	}
	if u := sorted(); !slices.Equal(u, want) {
		t.Fatalf("connected users %v with one of alice's streams open, want %v", u, want)
	}
	hangUpPhone2()
	if err := hs.served(t, phone); err != nil {
		t.Fatalf("phone stream ended with %v", err)
	}
	if u := sorted(); !slices.Equal(u, []string{bob}) {
		t.Fatalf("connected users %v after alice hung up, want only bob", u)
	}

	if err := hs.hub.Close(); err != nil {
		t.Fatal(err)
	}
	if u := hs.hub.ConnectedUsers(); len(u) != 0 {
		t.Fatalf("connected users %v after Close", u)
	}
}

// EndDevice ends that device's stream at once, and no other.
func TestHubEndDevice(t *testing.T) {
	hs := newHubServer(t, HubOptions{})
	alice := newID(t, ids.User)
	phone, tablet := newID(t, ids.Device), newID(t, ids.Device)
	_, phoneEnd := hs.subscribe(t, t.Context(), alice, phone)
	tabletEvents, _ := hs.subscribe(t, t.Context(), alice, tablet)
	hs.hub.EndDevice(alice, phone)
	if err := hs.served(t, phone); !errors.Is(err, ErrDeviceEnded) {
		t.Fatalf("ended device's Serve = %v, want ErrDeviceEnded", err)
	}
	if err := <-phoneEnd; err != nil {
		t.Fatalf("ended stream's ReadEvents = %v, want nil at EOF", err)
	}
	req := newID(t, ids.Request)
	if err := hs.hub.Notify(t.Context(), alice, req); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-tabletEvents:
		if got != req {
			t.Fatalf("tablet got %q, want %q", got, req)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other device's stream stopped too")
	}
}
