package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// answered are the states of an answered request.
var answered = []string{store.RequestApproved, store.RequestDenied}

// CreateRequest implements store.Store.
func (s *Store) CreateRequest(ctx context.Context, q *store.Request) error {
	if err := check.NewRequest(q); err != nil {
		return err
	}
	return s.insert(ctx, "create request", s.requests, toRequestDoc(q))
}

// GetRequest implements store.Store.
func (s *Store) GetRequest(ctx context.Context, id string) (*store.Request, error) {
	if err := check.ID("request id", ids.Request, id); err != nil {
		return nil, err
	}
	return getByID(ctx, s, "get request", s.requests, id, (*requestDoc).request)
}

// pendingOf selects the user's pending, unexpired requests.
func pendingOf(userID string, now time.Time) bson.D {
	return bson.D{eq("user_id", userID), eq("state", store.RequestPending), eq("expires_at", cmp("$gt", now))}
}

// PendingRequests implements store.Store.
func (s *Store) PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*store.Request, error) {
	if err := check.PendingRequests(userID, now, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "pending requests", s.requests, pendingOf(userID, now), asc("created_at"), limit, (*requestDoc).request)
}

// CountPendingRequests implements store.Store.
func (s *Store) CountPendingRequests(ctx context.Context, userID string, now time.Time) (int, error) {
	if err := check.UserAt(userID, now); err != nil {
		return 0, err
	}
	return s.count(ctx, "count pending requests", s.requests, pendingOf(userID, now))
}

// AnswerRequest implements store.Store.
func (s *Store) AnswerRequest(ctx context.Context, id string, a store.Answer, now time.Time) error {
	if err := check.AnswerRequest(id, &a, now); err != nil {
		return err
	}
	return s.transition(ctx, "answer request", s.requests, id,
		bson.D{eq("state", store.RequestPending), eq("expires_at", cmp("$gt", now))},
		set(eq("state", store.AnswerState(a.Decision)), eq("answer", toAnswerDoc(&a))),
		nil, now, store.RequestPending)
}

// ExpireRequest implements store.Store.
func (s *Store) ExpireRequest(ctx context.Context, id string, now time.Time) error {
	if err := check.IDAt("request id", ids.Request, id, now); err != nil {
		return err
	}
	return s.transition(ctx, "expire request", s.requests, id, bson.D{eq("state", store.RequestPending)},
		set(eq("state", store.RequestExpired)), nil, time.Time{}, store.RequestPending)
}

// RequestsToExpire implements store.Store.
func (s *Store) RequestsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Request, error) {
	if err := check.Due(now, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "requests to expire", s.requests,
		bson.D{eq("state", store.RequestPending), eq("expires_at", cmp("$lte", now))},
		asc("expires_at"), limit, (*requestDoc).request)
}

// AnsweredRequests implements store.Store.
func (s *Store) AnsweredRequests(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	if err := check.NodeLimit(node, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "answered requests", s.requests,
		bson.D{eq("owner_node", node), eq("state", in(answered...)), eq("processed", false)},
		asc("created_at"), limit, (*requestDoc).request)
}

// MarkProcessed implements store.Store.
func (s *Store) MarkProcessed(ctx context.Context, id string) error {
	if err := check.ID("request id", ids.Request, id); err != nil {
		return err
	}
	// Processed or never answered: both are conflicts, unless the id is
	// unknown, so whyNot gets no state to accept.
	return s.transition(ctx, "mark processed", s.requests, id,
		bson.D{eq("state", in(answered...)), eq("processed", false)},
		set(eq("processed", true)), nil, time.Time{})
}

// PendingOwnedBy implements store.Store.
func (s *Store) PendingOwnedBy(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	if err := check.NodeLimit(node, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "pending owned by", s.requests,
		bson.D{eq("owner_node", node), eq("state", store.RequestPending)},
		asc("created_at"), limit, (*requestDoc).request)
}
