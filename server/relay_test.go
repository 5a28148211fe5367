package server

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// peerNode starts a second API node named nodeID on e's store, blobs and
// master key (mutate may change its deps) and returns an env whose calls go
// to it.
func (e *testEnv) peerNode(t *testing.T, nodeID string, mutate func(*Deps)) *testEnv {
	t.Helper()
	cfg := e.cfg
	cfg.NodeID = nodeID
	deps := Deps{
		Store: e.st, Blobs: e.blobs, MasterKey: e.mk, Clock: e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)).With("node", nodeID),
	}
	if mutate != nil {
		mutate(&deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	peer := *e
	peer.cfg, peer.srv, peer.ts = cfg, srv, httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.endStreams(); peer.ts.Close(); srv.Close() })
	return &peer
}

// on returns d making its calls to the node of env.
func (d *testDevice) on(env *testEnv) *testDevice {
	c := *d
	c.env = env
	return &c
}

// events opens d's event stream on its node and returns the request ids
// it receives, in order.
func (d *testDevice) events(t *testing.T) <-chan string {
	t.Helper()
	req := d.signed(t, http.MethodGet, "/v1/device/events", nil, d.env.clock.Now(), newNonce(t)).WithContext(t.Context())
	res, err := d.env.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		t.Fatalf("events: status %d", res.StatusCode)
	}
	out := make(chan string, 64)
	go func() {
		defer close(out)
		defer res.Body.Close()
		_ = push.ReadEvents(res.Body, func(event string, data []byte) error {
			id, err := push.DecodePayload(data)
			if event != push.EventRequest || err != nil {
				id = "unexpected: " + event + " " + string(data)
			}
			out <- id
			return nil
		})
	}()
	return out
}

// nextEvent waits up to five seconds (a liveness bound, not a speed
// requirement) for the next event on events.
func nextEvent(t *testing.T, events <-chan string, what string) string {
	t.Helper()
	select {
	case id, ok := <-events:
		if !ok {
			t.Fatalf("the stream ended before the event for %s", what)
		}
		return id
	case <-time.After(5 * time.Second):
		t.Fatalf("no event for %s", what)
		return ""
	}
}

// uploadOn has the writer create and upload a record of d's user on env's
// node, and returns the request id.
func uploadOn(t *testing.T, env *testEnv, d *testDevice) string {
	t.Helper()
	return env.upload(t, env.createRecord(t, d.userID), []byte("push me across nodes")).RequestID
}

// TestPushRelayAcrossNodes: a device streaming from node B hears of the
// requests node A makes for its user, each exactly once, and of no other
// user's; requests B makes itself reach it once, from B's own push.
func TestPushRelayAcrossNodes(t *testing.T) {
	const tick = 20 * time.Millisecond
	a := newEnv(t, func(c *Config) { c.NodeID, c.PushPollInterval = "node-a", tick })
	var pushed recorder // node-b's other notifiers (a webhook)
	b := a.peerNode(t, "node-b", func(d *Deps) { d.Notifiers = []push.Notifier{&pushed} })
	d, stranger := a.userWithDevice(t), a.userWithDevice(t)
	events, strangerEvents := d.on(b).events(t), stranger.on(b).events(t)
	waitFor(t, func() bool { return b.srv.hub.Stats().Subscribers == 2 }, "both streams on node-b")

	fromA := uploadOn(t, a, d)
	if got := nextEvent(t, events, "a request made on node-a"); got != fromA {
		t.Fatalf("node-b pushed %q, want %q", got, fromA)
	}
	strangers := uploadOn(t, a, stranger)
	if got := nextEvent(t, strangerEvents, "the other user's request"); got != strangers {
		t.Fatalf("node-b pushed %q to the other user, want %q", got, strangers)
	}
	fromB := uploadOn(t, b, d)
	if got := nextEvent(t, events, "a request made on node-b"); got != fromB {
		t.Fatalf("node-b pushed %q, want %q (its own request)", got, fromB)
	}

	// Each marker is made after the previous event arrived, so it is relayed
	// by a later tick than the one before: by the last marker two ticks
	// have listed every earlier request again. The stream delivers in
	// order, so a duplicate or a stranger's id would come before a marker.
	for i := range 2 {
		marker := uploadOn(t, a, d)
		if got := nextEvent(t, events, "a marker request"); got != marker {
			t.Fatalf("marker %d: node-b pushed %q, want the marker %q (seen: %q, %q, %q)", i, got, marker, fromA, fromB, strangers)
		}
	}
	select {
	case id := <-strangerEvents:
		t.Fatalf("the other user's stream got %q besides its own request", id)
	default:
	}

	// Webhooks are the making node's job: the relay only feeds the hub, so
	// node-b's notifiers heard only of node-b's request.
	waitFor(t, func() bool { return len(pushed.ids()) > 0 }, "node-b's notifier")
	if got := pushed.ids(); !slices.Equal(got, []string{fromB}) {
		t.Fatalf("node-b's notifiers were told of %q, want only %q", got, fromB)
	}
}

// recorder is a Notifier that records the request ids it is given.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Notify(_ context.Context, _, requestID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, requestID)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// failingStore fails PendingRequests for one user.
type failingStore struct {
	store.Store
	user string
}

var errListing = errors.New("listing failed")

func (f failingStore) PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*store.Request, error) {
	if userID == f.user {
		return nil, errListing
	}
	return f.Store.PendingRequests(ctx, userID, now, limit)
}

// TestPushRelayTurns drives one relay by hand: it serves a bounded number
// of users per tick in turn, a store failure for one user neither stalls
// the others nor loses that user's turn for good, answered requests are
// forgotten at the user's next turn, and a user who left is forgotten once
// the requests relayed to them expired.
func TestPushRelayTurns(t *testing.T) {
	a := newEnv(t, func(c *Config) { c.NodeID, c.PushPollInterval = "node-a", time.Hour })
	devs := []*testDevice{a.userWithDevice(t), a.userWithDevice(t), a.userWithDevice(t)}
	slices.SortFunc(devs, func(x, y *testDevice) int { return cmp.Compare(x.userID, y.userID) })
	b := a.peerNode(t, "node-b", func(d *Deps) { d.Store = failingStore{Store: a.st, user: devs[1].userID} })
	r := newRelay(b.srv)
	r.perTick = 1

	streams := make([]<-chan string, len(devs))
	reqs := make([]string, len(devs))
	for i, d := range devs {
		streams[i] = d.on(b).events(t)
		reqs[i] = uploadOn(t, a, d)
	}
	waitFor(t, func() bool { return b.srv.hub.Stats().Subscribers == len(devs) }, "the streams on node-b")

	if err := r.tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := nextEvent(t, streams[0], "the first user's turn"); got != reqs[0] {
		t.Fatalf("first turn pushed %q, want %q", got, reqs[0])
	}
	if err := r.tick(t.Context()); !errors.Is(err, errListing) {
		t.Fatalf("second turn (failing store) = %v, want the store's error", err)
	}
	if err := r.tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := nextEvent(t, streams[2], "the third user's turn, past the failing one"); got != reqs[2] {
		t.Fatalf("third turn pushed %q, want %q", got, reqs[2])
	}
	if r.after != devs[2].userID {
		t.Fatalf("relay stopped at %q, want %q", r.after, devs[2].userID)
	}
	if err := r.tick(t.Context()); err != nil {
		t.Fatalf("the turn came round again to the first user: %v", err)
	}
	if err := r.tick(t.Context()); !errors.Is(err, errListing) {
		t.Fatalf("the failing user lost its turn: %v", err)
	}

	// Answered: forgotten at the user's next turn.
	d0 := devs[0].on(a)
	d0.answer(t, d0.request(t, reqs[0]), threshold.DecisionDeny).want(t, http.StatusOK)
	r.perTick = len(devs)
	if err := r.tick(t.Context()); !errors.Is(err, errListing) {
		t.Fatal(err)
	}
	if _, ok := r.users[devs[0].userID]; ok {
		t.Fatal("the relay still tracks a user whose requests were all answered")
	}
	if set := r.users[devs[2].userID]; set == nil || len(set.ids) != 1 {
		t.Fatalf("third user's relayed set %+v, want its one pending request", set)
	}

	// A user who left is remembered while the request may still be pending
	// (so that a reconnection brings no second push), and forgotten after.
	if err := b.srv.hub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.users[devs[2].userID] == nil {
		t.Fatal("the relay forgot a disconnected user's unexpired request")
	}
	a.clock.Advance(a.cfg.ApprovalTTL)
	if err := r.tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(r.users) != 0 {
		t.Fatalf("the relay still tracks %d users after their requests expired", len(r.users))
	}
	// Nothing was pushed twice, nor to the user whose listing failed.
	for i, s := range streams {
		for id := range s {
			t.Fatalf("stream %d also got %q", i, id)
		}
	}
}
