package server

import (
	"context"
	"sync"
	"time"

	"github.com/assent-dev/assent/store"
)

// changeNotifier wakes the long polls (?wait=S) of this node when a record
// or session they watch changes here. Changes made by other nodes are seen
// by polling the store (longPollInterval).
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

// longPollInterval is how often a long poll rereads the store, to see
// changes made by other nodes.
const longPollInterval = 500 * time.Millisecond

// longPoll loads an object and, while it is pending approval (the state in
// which it waits for the device) and wait has not passed, waits for its
// state to change; it returns the last load. It stops early when ctx ends
// or the server shuts down.
func longPoll[T any](ctx context.Context, s *Server, id string, wait time.Duration,
	load func(context.Context) (T, error), state func(T) string) (T, error) {
	ch, stop := s.changes.watch(id)
	defer stop()
	obj, err := load(ctx)
	if err != nil || wait <= 0 || state(obj) != pendingApproval {
		return obj, err
	}
	start := state(obj)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(longPollInterval)
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
