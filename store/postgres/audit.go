package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// appendTries bounds the retries of an audit append that lost a race for
// the next sequence number.
const appendTries = 64

// errAuditRace: another append took the sequence number first (the insert
// met the primary key); the append, or the transaction holding it, is
// tried again.
var errAuditRace = errors.New("postgres: audit sequence number taken")

// AppendAudit implements store.Store: read the user's last entry, insert
// the next under the primary key (user_id, seq); a racer that took the
// number first makes the insert fail with a unique violation, and the loser
// reads again after a short random pause. No transaction is held open.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	if err := check.AuditEntry(e); err != nil {
		return nil, err
	}
	var n *store.AuditEntry
	err := s.retryAudit(ctx, func() error {
		var err error
		n, err = appendAudit(ctx, s, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// retryAudit runs f again, after a short random pause, while it fails with
// errAuditRace.
func (s *Store) retryAudit(ctx context.Context, f func() error) error {
	for try := 0; ; try++ {
		err := f()
		if !errors.Is(err, errAuditRace) {
			return err
		}
		if try == appendTries || ctx.Err() != nil {
			return fmt.Errorf("postgres: append audit: %w: %d appends in a row lost the race for the next number", store.ErrUnavailable, try+1)
		}
		time.Sleep(time.Duration(rand.N(200*(try+1))) * time.Microsecond)
	}
}

// appendAudit appends e through q: the store (each statement on its own)
// or a transaction (see combined.go).
func appendAudit(ctx context.Context, q querier, e *store.AuditEntry) (*store.AuditEntry, error) {
	const op = "append audit"
	prev := &store.AuditEntry{UserID: e.UserID}
	err := q.get(ctx, op, func(r pgx.Row) error { return r.Scan(&prev.Seq, &prev.Hash) },
		`SELECT seq, hash FROM audit WHERE user_id = $1 ORDER BY seq DESC LIMIT 1`, e.UserID)
	if errors.Is(err, store.ErrNotFound) {
		prev, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	n, err := check.NextAuditEntry(prev, e)
	if err != nil {
		return nil, err
	}
	err = q.exec(ctx, op,
		`INSERT INTO audit (user_id, seq, event, actor, subject, details, at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		n.UserID, n.Seq, n.Event, n.Actor, n.Subject, bytesArg(n.Details), n.At.Unix(), n.PrevHash, n.Hash)
	if errors.Is(err, store.ErrConflict) {
		return nil, errAuditRace
	}
	return n, err
}

// AuditEntries implements store.Store.
func (s *Store) AuditEntries(ctx context.Context, userID string, afterSeq int64, limit int) ([]*store.AuditEntry, error) {
	if err := check.AuditEntries(userID, afterSeq, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "audit entries", func(r pgx.Row) (*store.AuditEntry, error) {
		e := new(store.AuditEntry)
		var at int64
		if err := r.Scan(&e.UserID, &e.Seq, &e.Event, &e.Actor, &e.Subject, &e.Details, &at, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = time.Unix(at, 0).UTC()
		e.Details = bytesCol(e.Details)
		return e, nil
	}, `SELECT user_id, seq, event, actor, subject, details, at, prev_hash, hash FROM audit
		WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, userID, afterSeq, limit)
}

// nonceSweepEvery is how many remembered nonces pass between purges of
// expired ones.
const nonceSweepEvery = 64

// RememberNonce implements store.Store: one upsert that replaces the
// (device, nonce) row only if it has expired, so that exactly one of any
// number of concurrent callers with the same nonce succeeds.
func (s *Store) RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error {
	if err := check.Nonce(deviceID, nonce, expires, now); err != nil {
		return err
	}
	const op = "remember nonce"
	var one int
	ok, err := s.update(ctx, op,
		`INSERT INTO nonces (device_id, nonce, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (device_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $4
		RETURNING 1`, []any{deviceID, nonce, timeArg(expires), timeArg(now)}, &one)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("postgres: %s: %w: nonce already seen", op, store.ErrConflict)
	}
	if s.writes.Add(1)%nonceSweepEvery == 0 {
		// Forgetting expired nonces is housekeeping: a failure here leaves
		// them for the next sweep and does not undo the nonce just stored.
		_ = s.exec(ctx, "purge nonces",
			`DELETE FROM nonces WHERE ctid = ANY (ARRAY(SELECT ctid FROM nonces WHERE expires_at <= $1 LIMIT $2))`,
			timeArg(now), 4*nonceSweepEvery)
	}
	return nil
}
