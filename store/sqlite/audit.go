package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// AppendAudit implements store.Store. The previous entry is read and the new
// one inserted in one savepoint of the writer's BEGIN IMMEDIATE transaction, so appends from any number
// of processes are serialized by SQLite's write lock; the primary key
// (user_id, seq) would refuse a second entry with the same number anyway.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	if err := check.AuditEntry(e); err != nil {
		return nil, err
	}
	var n *store.AuditEntry
	err := s.write(ctx, "append audit", func(ctx context.Context, c *wconn) (err error) {
		n, err = appendAudit(ctx, c, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// appendAudit is AppendAudit's statements, on the writer's transaction.
func appendAudit(ctx context.Context, c *wconn, e *store.AuditEntry) (*store.AuditEntry, error) {
	prev := &store.AuditEntry{UserID: e.UserID}
	err := c.queryRow(ctx, func(r scanner) error { return r.Scan(&prev.Seq, &prev.Hash) },
		`SELECT seq, hash FROM audit WHERE user_id = ? ORDER BY seq DESC LIMIT 1`, e.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		prev, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	n, err := check.NextAuditEntry(prev, e)
	if err != nil {
		return nil, err
	}
	_, err = c.exec(ctx,
		`INSERT INTO audit (user_id, seq, event, actor, subject, details, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.UserID, n.Seq, n.Event, n.Actor, n.Subject, bytesArg(n.Details), n.At.Unix(), n.PrevHash, n.Hash)
	return n, err
}

// AuditEntries implements store.Store.
func (s *Store) AuditEntries(ctx context.Context, userID string, afterSeq int64, limit int) ([]*store.AuditEntry, error) {
	if err := check.AuditEntries(userID, afterSeq, limit); err != nil {
		return nil, err
	}
	var out []*store.AuditEntry
	err := s.list(ctx, "audit entries", func(r scanner) error {
		e := new(store.AuditEntry)
		var at int64
		if err := r.Scan(&e.UserID, &e.Seq, &e.Event, &e.Actor, &e.Subject, &e.Details, &at, &e.PrevHash, &e.Hash); err != nil {
			return err
		}
		e.At = time.Unix(at, 0).UTC()
		e.Details = bytesCol(e.Details)
		out = append(out, e)
		return nil
	}, `SELECT user_id, seq, event, actor, subject, details, at, prev_hash, hash FROM audit
		WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`, userID, afterSeq, limit)
	return out, err
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
	ok, err := s.update(ctx, op,
		`INSERT INTO nonces (device_id, nonce, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (device_id, nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?`,
		deviceID, nonce, timeArg(expires), timeArg(now))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("sqlite: %s: %w: nonce already seen", op, store.ErrConflict)
	}
	if s.writes.Add(1)%nonceSweepEvery == 0 {
		// Forgetting expired nonces is housekeeping: a failure here leaves
		// them for the next sweep and does not undo the nonce just stored.
		_ = s.exec(ctx, "purge nonces",
			`DELETE FROM nonces WHERE rowid IN (SELECT rowid FROM nonces WHERE expires_at <= ? LIMIT ?)`,
			timeArg(now), 4*nonceSweepEvery)
	}
	return nil
}
