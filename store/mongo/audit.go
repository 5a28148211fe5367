package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// maxAuditAttempts bounds the retries of one append. Each lost attempt means
// another append to the same user's chain won, so only a burst of more than
// this many concurrent appends to one user can exhaust it.
const maxAuditAttempts = 64

// AppendAudit implements store.Store: read the user's last entry, build the
// next one, insert it. The unique index (user_id, seq) lets exactly one of
// several concurrent appends take a sequence number; the others get a
// duplicate key and start over from the new last entry, so the chain never
// forks. Exhausting the attempts gives ErrUnavailable (try again later).
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	if err := check.AuditEntry(e); err != nil {
		return nil, err
	}
	const op = "append audit"
	for attempt := range maxAuditAttempts {
		prev, err := s.lastAudit(ctx, e.UserID)
		if err != nil {
			return nil, err
		}
		n, err := check.NextAuditEntry(prev, e)
		if err != nil {
			return nil, err
		}
		err = s.insert(ctx, op, s.audit, toAuditDoc(n))
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fail(op, err)
		}
	}
	return nil, fmt.Errorf("mongo: %s: %w: chain of %s busy after %d attempts", op, store.ErrUnavailable, e.UserID, maxAuditAttempts)
}

// lastAudit returns the user's last entry (only Seq, Hash and UserID), or nil
// for a user with none.
func (s *Store) lastAudit(ctx context.Context, userID string) (*store.AuditEntry, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var d auditDoc
	err := s.audit.FindOne(ctx, bson.D{eq("user_id", userID)},
		options.FindOne().SetSort(bson.D{eq("seq", -1)}).SetProjection(bson.D{eq("user_id", 1), eq("seq", 1), eq("hash", 1)})).
		Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fail("append audit", err)
	}
	return &store.AuditEntry{UserID: d.UserID, Seq: d.Seq, Hash: d.Hash}, nil
}

// AuditEntries implements store.Store.
func (s *Store) AuditEntries(ctx context.Context, userID string, afterSeq int64, limit int) ([]*store.AuditEntry, error) {
	if err := check.AuditEntries(userID, afterSeq, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "audit entries", s.audit, bson.D{eq("user_id", userID), eq("seq", cmp("$gt", afterSeq))},
		bson.D{eq("seq", 1)}, limit, (*auditDoc).entry)
}

// backoff waits a random time of up to 0.1 ms << attempt (at most 20 ms)
// before the next attempt of a lost race. The winner's entry may take a
// moment to reach the majority snapshot the next read sees; without a pause
// a loser could spend its attempts reading the same stale last entry.
func backoff(ctx context.Context, attempt int) error {
	limit := min(100*time.Microsecond<<min(attempt, 8), 20*time.Millisecond)
	t := time.NewTimer(rand.N(limit)) // jitter, not a secret: math/rand is fine

	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nonceSweepEvery is how many remembered nonces pass between purges of
// expired ones.
const nonceSweepEvery = 64

// RememberNonce implements store.Store: one upsert whose filter matches the
// (device, nonce) entry only if it has expired. An unexpired entry is not
// matched, so the upsert tries to insert a second one and the unique index
// (device_id, nonce) refuses it: ErrConflict. Of any number of concurrent
// callers with the same nonce exactly one succeeds.
func (s *Store) RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error {
	if err := check.Nonce(deviceID, nonce, expires, now); err != nil {
		return err
	}
	const op = "remember nonce"
	octx, cancel := s.opContext(ctx)
	_, err := s.nonces.UpdateOne(octx,
		bson.D{eq("device_id", deviceID), eq("nonce", nonce), eq("expires_at", cmp("$lte", now))},
		set(eq("expires_at", expires)), options.UpdateOne().SetUpsert(true))
	cancel()
	if err = fail(op, err); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("mongo: %s: %w: nonce already seen", op, store.ErrConflict)
		}
		return err
	}
	if s.writes.Add(1)%nonceSweepEvery == 0 {
		// Forgetting expired nonces is housekeeping: a failure here leaves
		// them for the next sweep and does not undo the nonce just stored.
		octx, cancel := s.opContext(ctx)
		_, _ = s.nonces.DeleteMany(octx, bson.D{eq("expires_at", cmp("$lte", now))})
		cancel()
	}
	return nil
}
