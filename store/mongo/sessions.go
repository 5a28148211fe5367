package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	if err := store.CheckNewSession(x); err != nil {
		return err
	}
	return s.insert(ctx, "create session", s.sessions, toSessionDoc(x))
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	if err := store.CheckID("session id", ids.Session, id); err != nil {
		return nil, err
	}
	return getByID(ctx, s, "get session", s.sessions, id, (*sessionDoc).session)
}

// OpenSession implements store.Store.
func (s *Store) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	if err := store.CheckID("session id", ids.Session, id); err != nil {
		return err
	}
	if err := store.CheckSessionOpening(&o); err != nil {
		return err
	}
	if err := store.CheckTime("now", now, true); err != nil {
		return err
	}
	return s.transition(ctx, "open session", s.sessions, id,
		bson.D{eq("state", store.SessionPendingApproval), eq("expires_at", cmp("$gt", now))},
		set(eq("state", store.SessionOpen), eq("expires_at", o.ExpiresAt), eq("downloads_left", int64(o.Downloads)),
			eq("approval", toApprovalDoc(&o.Approval)), eq("opened_at", o.OpenedAt)),
		nil, now, store.SessionPendingApproval)
}

// EndSession implements store.Store.
func (s *Store) EndSession(ctx context.Context, id, to string, now time.Time) error {
	if err := store.CheckID("session id", ids.Session, id); err != nil {
		return err
	}
	if err := store.CheckEndState(to, store.SessionDenied, store.SessionExpired, store.SessionConsumed); err != nil {
		return err
	}
	if err := store.CheckTime("now", now, true); err != nil {
		return err
	}
	from := []string{store.SessionPendingApproval, store.SessionOpen}
	return s.transition(ctx, "end session", s.sessions, id, bson.D{eq("state", in(from...))},
		set(eq("state", to)), nil, time.Time{}, from...)
}

// UseDownload implements store.Store as a compare-and-set: the session is
// read, then updated only if downloads_left still holds the value read, in
// one findOneAndUpdate that also writes the new state (consumed after the
// last download). A failed compare means another caller took a download (or
// ended the session) in between, so the loop ends after at most as many
// rounds as there were downloads left.
func (s *Store) UseDownload(ctx context.Context, id string, now time.Time) (int, error) {
	if err := store.CheckID("session id", ids.Session, id); err != nil {
		return 0, err
	}
	if err := store.CheckTime("now", now, true); err != nil {
		return 0, err
	}
	const op = "use download"
	for range store.MaxLimit + 1 {
		var d sessionDoc
		if err := s.get(ctx, op, s.sessions, bson.D{eq("_id", id)}, &d); err != nil {
			return 0, err
		}
		if d.State != store.SessionOpen || d.DownloadsLeft < 1 || !dbTime(now).Before(d.ExpiresAt) {
			return 0, whyNotDownload(op, &d, now)
		}
		left := d.DownloadsLeft - 1
		state := store.SessionOpen
		if left == 0 {
			state = store.SessionConsumed
		}
		octx, cancel := s.opContext(ctx)
		err := s.sessions.FindOneAndUpdate(octx,
			bson.D{eq("_id", id), eq("state", store.SessionOpen), eq("downloads_left", d.DownloadsLeft),
				eq("expires_at", cmp("$gt", now))},
			set(eq("downloads_left", left), eq("state", state))).Err()
		cancel()
		if err == nil {
			return int(left), nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, fail(op, err)
		}
	}
	return 0, fmt.Errorf("mongo: %s: %w: %s keeps changing", op, store.ErrConflict, id)
}

// whyNotDownload says why no download can be taken from the session d.
func whyNotDownload(op string, d *sessionDoc, now time.Time) error {
	switch {
	case d.State != store.SessionOpen:
		return fmt.Errorf("mongo: %s: %w: %s is %s", op, store.ErrConflict, d.ID, d.State)
	case !dbTime(now).Before(d.ExpiresAt):
		return fmt.Errorf("mongo: %s: %w: %s expired at %s", op, store.ErrExpired, d.ID, d.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("mongo: %s: %w: %s has no download left", op, store.ErrConflict, d.ID)
}

// SessionsToExpire implements store.Store.
func (s *Store) SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Session, error) {
	if err := store.CheckTime("now", now, true); err != nil {
		return nil, err
	}
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "sessions to expire", s.sessions,
		bson.D{eq("state", in(store.SessionPendingApproval, store.SessionOpen)), eq("expires_at", cmp("$lte", now))},
		asc("expires_at"), limit, (*sessionDoc).session)
}
