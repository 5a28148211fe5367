package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
)

// relayUsersPerTick bounds the store listings of one relay tick; past it
// the connected users are served round-robin over several ticks.
const relayUsersPerTick = 256

// relay tells the event streams of this node about the requests other
// nodes made for the users connected here: the hub that a request's own
// node notifies lives in that node's memory only (DESIGN.md, "Push" and
// "Scale-out"). Every PushPollInterval it lists the pending requests of the
// connected users and notifies the hub of each one it has not relayed yet;
// it also ends the streams of connected devices that are no longer active.
// Only the hub is notified: the node that made a request has run the other
// notifiers (webhooks) already.
//
// A relay is driven by one loop goroutine and is not safe for concurrent
// use.
type relay struct {
	s       *Server
	perTick int
	after   string                 // the last user served; the next tick starts past it
	users   map[string]*relayedSet // what was relayed, by user id
}

// relayedSet is what the relay knows of one user's pending requests: the
// ids it relayed or left to their own node, and when the last of them
// expires. It is rebuilt from every listing of the user, so an answered
// or expired request is forgotten at the user's next turn, and dropped
// whole once all its requests have expired, connected or not: a device
// that reconnects meanwhile is not told twice. Memory is thus bounded by
// maxDeviceList ids per user connected within the approval TTL.
type relayedSet struct {
	ids   map[string]struct{}
	until time.Time
}

func newRelay(s *Server) *relay {
	return &relay{s: s, perTick: relayUsersPerTick, users: make(map[string]*relayedSet)}
}

// tick serves up to perTick connected users, in user id order starting past
// the last one served. It stops at the first store failure (the next tick
// starts past that user, so that one bad user cannot stall the others).
func (r *relay) tick(ctx context.Context) error {
	now := r.s.now()
	for u, set := range r.users {
		if !now.Before(set.until) {
			delete(r.users, u) // all its requests have expired
		}
	}
	connected := r.s.hub.ConnectedUsers()
	slices.Sort(connected)
	if len(connected) == 0 {
		return nil
	}
	start, found := slices.BinarySearch(connected, r.after)
	if found {
		start++
	}
	for i := range min(r.perTick, len(connected)) {
		userID := connected[(start+i)%len(connected)]
		r.after = userID
		if err := r.s.guard("push relay", func() error { return r.relayUser(ctx, userID, now) }); err != nil {
			return err
		}
	}
	return nil
}

// relayUser ends the streams of userID's devices that are no longer active,
// then notifies the hub of each pending request of userID that another
// node made and that was not relayed before.
func (r *relay) relayUser(ctx context.Context, userID string, now time.Time) error {
	if err := r.endInactive(ctx, userID); err != nil {
		return err
	}
	reqs, err := r.s.store.PendingRequests(ctx, userID, now, maxDeviceList)
	if err != nil {
		return fmt.Errorf("listing the pending requests of %s: %w", userID, err)
	}
	if len(reqs) == 0 {
		delete(r.users, userID)
		return nil
	}
	old := r.users[userID]
	set := &relayedSet{ids: make(map[string]struct{}, len(reqs))}
	for _, q := range reqs {
		set.ids[q.ID] = struct{}{}
		if q.ExpiresAt.After(set.until) {
			set.until = q.ExpiresAt
		}
		if q.OwnerNode == r.s.cfg.NodeID {
			continue // notified when this node made it
		}
		if old != nil {
			if _, done := old.ids[q.ID]; done {
				continue
			}
		}
		// A push is a hint: a request the hub refuses (only a malformed
		// id could be) is still listed by the device.
		if err := r.s.hub.Notify(ctx, userID, q.ID); errors.Is(err, push.ErrClosed) {
			return nil
		} else if err != nil {
			r.s.log.Warn("push relay: event hub did not take a notification", "request_id", q.ID, "error", err)
		}
	}
	r.users[userID] = set
	return nil
}

// endInactive ends the open streams of userID's devices that are not
// active: a device revoked or suspended through another node (whose
// EndDevice ended only that node's streams) stops hearing of its user's
// requests within one relay turn of the user, as on the node that changed
// it. A device's later calls are refused by every node at once anyway.
func (r *relay) endInactive(ctx context.Context, userID string) error {
	connected := r.s.hub.ConnectedDevices(userID)
	if len(connected) == 0 {
		return nil
	}
	active, err := r.s.store.ActiveDevices(ctx, userID)
	if err != nil {
		return fmt.Errorf("listing the active devices of %s: %w", userID, err)
	}
	for _, id := range connected {
		if !slices.ContainsFunc(active, func(d *store.Device) bool { return d.ID == id }) {
			r.s.hub.EndDevice(userID, id)
		}
	}
	return nil
}
