package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/assent-dev/assent/store"
)

// changeNotifier wakes the long polls (?wait=S) of this node when a record
// or session they watch changes here. Changes made by other nodes are seen
// by polling the store (Config.LongPollInterval).
type changeNotifier struct {
	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
}

func newChangeNotifier() *changeNotifier {
	return &changeNotifier{watchers: make(map[string]map[chan struct{}]struct{})}
}

// watch returns a channel that receives after the next change of id, and a
// function to stop watching.
func (n *changeNotifier) watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.watchers[id] == nil {
		n.watchers[id] = make(map[chan struct{}]struct{})
	}
	n.watchers[id][ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.watchers[id], ch)
		if len(n.watchers[id]) == 0 {
			delete(n.watchers, id)
		}
	}
}

// changed wakes the watchers of each id.
func (n *changeNotifier) changed(ids ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range ids {
		for ch := range n.watchers[id] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// pendingApproval is the state, of a record and of a session alike, in
// which it waits for the device.
const pendingApproval = store.RecordPendingApproval

// longPoll loads an object and, while it is pending approval (the state in
// which it waits for the device) and wait has not passed, waits for its
// state to change; it returns the last load. A change on this node wakes
// it at once; the store is reread every LongPollInterval for changes made
// by other nodes. It stops early when ctx ends or the server shuts down.
// A client may hold MaxLongPollsPerClient waits at once on this node; past
// that the answer is 429.
func longPoll[T any](ctx context.Context, s *Server, clientID, id string, wait time.Duration,
	load func(context.Context) (T, error), state func(T) string) (T, error) {
	ch, stop := s.changes.watch(id)
	defer stop()
	obj, err := load(ctx)
	if err != nil || wait <= 0 || state(obj) != pendingApproval {
		return obj, err
	}
	if !s.polls.enter(clientID) {
		var zero T
		return zero, &apiError{kind: errRateLimited, retryAfter: time.Second,
			msg: "too many long polls open for this client (max-long-polls " + strconv.Itoa(s.cfg.MaxLongPollsPerClient) + ")"}
	}
	defer s.polls.leave(clientID)
	start := state(obj)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(s.cfg.LongPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return obj, nil
		case <-s.closing:
			return obj, nil
		case <-deadline.C:
			return obj, nil
		case <-ch:
		case <-tick.C:
		}
		next, err := load(ctx)
		if err != nil {
			// The last good answer stands; a failing store shows on the next
			// call.
			return obj, nil
		}
		obj = next
		if state(obj) != start {
			return obj, nil
		}
	}
}

// pollCounter counts the long polls each client has open on this node.
type pollCounter struct {
	mu  sync.Mutex
	max int
	n   map[string]int
}

func newPollCounter(max int) *pollCounter {
	return &pollCounter{max: max, n: make(map[string]int)}
}

// enter takes one of clientID's long polls, or reports false at the cap.
func (p *pollCounter) enter(clientID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[clientID] >= p.max {
		return false
	}
	p.n[clientID]++
	return true
}

// leave gives back one of clientID's long polls.
func (p *pollCounter) leave(clientID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[clientID]--; p.n[clientID] <= 0 {
		delete(p.n, clientID)
	}
}

// count is how many long polls clientID has open.
func (p *pollCounter) count(clientID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[clientID]
}
