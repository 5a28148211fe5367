package mongo

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	if err := check.NewSession(x); err != nil {
		return err
	}
	return s.insert(ctx, "create session", s.sessions, toSessionDoc(x))
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	if err := check.ID("session id", ids.Session, id); err != nil {
		return nil, err
	}
	return getByID(ctx, s, "get session", s.sessions, id, (*sessionDoc).session)
}

// OpenSession implements store.Store.
func (s *Store) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	if err := check.OpenSession(id, &o, now); err != nil {
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
	if err := check.EndSession(id, to, now); err != nil {
		return err
	}
	from := []string{store.SessionPendingApproval, store.SessionOpen}
	return s.transition(ctx, "end session", s.sessions, id, bson.D{eq("state", in(from...))},
		set(eq("state", to)), nil, time.Time{}, from...)
}

// UseDownload implements store.Store with two single-document
// transitions, tried in turn: take a download from an open session that has
// more than one left, else take the last one and move the session to
// consumed in the same update. Each is atomic and downloads_left only
// decreases, so of concurrent callers exactly as many succeed as there were
// downloads left. (One update computing both the count and the state would
// need an aggregation-pipeline update, which FerretDB v1 lacks.)
func (s *Store) UseDownload(ctx context.Context, id string, now time.Time) (int, error) {
	if err := check.IDAt("session id", ids.Session, id, now); err != nil {
		return 0, err
	}
	const op = "use download"
	open := bson.D{eq("_id", id), eq("state", store.SessionOpen), eq("expires_at", cmp("$gt", now))}
	for _, take := range []struct {
		left   bson.D
		update bson.D
	}{
		{cmp("$gt", 1), bson.D{eq("$inc", bson.D{eq("downloads_left", -1)})}},
		{cmp("$eq", 1), set(eq("downloads_left", 0), eq("state", store.SessionConsumed))},
	} {
		var d sessionDoc
		octx, cancel := s.opContext(ctx)
		err := s.sessions.FindOneAndUpdate(octx, slices.Concat(open, bson.D{eq("downloads_left", take.left)}), take.update,
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
		cancel()
		if err == nil {
			return int(d.DownloadsLeft), nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, fail(op, err)
		}
	}
	return 0, s.whyNot(ctx, op, s.sessions, id, now, store.SessionOpen)
}

// SessionsToExpire implements store.Store.
func (s *Store) SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Session, error) {
	if err := check.Due(now, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "sessions to expire", s.sessions,
		bson.D{eq("state", in(store.SessionPendingApproval, store.SessionOpen)), eq("expires_at", cmp("$lte", now))},
		asc("expires_at"), limit, (*sessionDoc).session)
}
