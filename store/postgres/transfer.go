package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// ApproveTransfer implements store.Store: the device's conditional update
// and the bundle's insert in one transaction (a second bundle for the
// device fails on the primary key, which rolls the update back).
func (s *Store) ApproveTransfer(ctx context.Context, t *store.Transfer, now time.Time) error {
	if err := check.Transfer(t, now); err != nil {
		return err
	}
	const op = "approve transfer"
	err := s.inTx(ctx, op, func(ctx context.Context, q txQuerier) error {
		if err := q.changed(ctx, `UPDATE devices SET state = 'pending', state_at = $1, add_statement = $2, add_signature = $3
			WHERE id = $4 AND state = 'awaiting_transfer' RETURNING id`,
			timeArg(now), t.Statement, t.Signature, t.DeviceID); err != nil {
			return err
		}
		return q.exec(ctx, "", `INSERT INTO transfers (device_id, user_id, request_id, sender_id, bundle, statement, signature, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.DeviceID, t.UserID, t.RequestID, t.SenderID, t.Bundle, t.Statement, t.Signature, timeArg(t.ExpiresAt))
	})
	if errors.Is(err, errUnchanged) {
		return s.whyNot(ctx, op, "devices", t.DeviceID, time.Time{}, store.DeviceAwaitingTransfer)
	}
	return err
}

// TakeTransfer implements store.Store: one DELETE ... RETURNING of an
// unexpired bundle, so that of racing callers one gets it.
func (s *Store) TakeTransfer(ctx context.Context, deviceID string, now time.Time) (*store.Transfer, error) {
	if err := check.IDAt("device id", ids.Device, deviceID, now); err != nil {
		return nil, err
	}
	const op = "take transfer"
	var t store.Transfer
	var expires *int64
	ok, err := s.update(ctx, op, `DELETE FROM transfers WHERE device_id = $1 AND expires_at > $2
		RETURNING device_id, user_id, request_id, sender_id, bundle, statement, signature, expires_at`,
		[]any{deviceID, timeArg(now)}, &t.DeviceID, &t.UserID, &t.RequestID, &t.SenderID, &t.Bundle, &t.Statement, &t.Signature, &expires)
	if err != nil {
		return nil, err
	}
	if ok {
		t.ExpiresAt = timeCol(expires)
		return &t, nil
	}
	var n int
	err = s.get(ctx, op, func(r pgx.Row) error { return r.Scan(&n) }, `SELECT count(*) FROM transfers WHERE device_id = $1`, deviceID)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, fmt.Errorf("postgres: %s: %w: the bundle of %s has expired", op, store.ErrExpired, deviceID)
	}
	return nil, fmt.Errorf("postgres: %s: %w: no bundle for %s", op, store.ErrNotFound, deviceID)
}

// DeleteExpiredTransfers implements store.Store.
func (s *Store) DeleteExpiredTransfers(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := check.ExpireTransfers(now, limit); err != nil {
		return 0, err
	}
	var n int
	err := s.write(ctx, "delete expired transfers", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM transfers WHERE device_id IN
			(SELECT device_id FROM transfers WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`, timeArg(now), limit)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
