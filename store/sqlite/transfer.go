package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// ApproveTransfer implements store.Store: the device's conditional update
// and the bundle's insert in one savepoint (a second bundle for the device
// fails on the primary key, which rolls the update back).
func (s *Store) ApproveTransfer(ctx context.Context, t *store.Transfer, now time.Time) error {
	if err := check.Transfer(t, now); err != nil {
		return err
	}
	const op = "approve transfer"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		if err := changed(c.exec(ctx,
			`UPDATE devices SET state = 'pending', state_at = ?, add_statement = ?, add_signature = ?
			WHERE id = ? AND state = 'awaiting_transfer'`,
			timeArg(now), t.Statement, t.Signature, t.DeviceID)); err != nil {
			return err
		}
		_, err := c.exec(ctx,
			`INSERT INTO transfers (device_id, user_id, request_id, sender_id, bundle, statement, signature, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.DeviceID, t.UserID, t.RequestID, t.SenderID, t.Bundle, t.Statement, t.Signature, timeArg(t.ExpiresAt))
		return err
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
	var t *store.Transfer
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		t = nil
		st, err := c.stmt(ctx, `DELETE FROM transfers WHERE device_id = ? AND expires_at > ?
			RETURNING device_id, user_id, request_id, sender_id, bundle, statement, signature, expires_at`)
		if err != nil {
			return err
		}
		var got store.Transfer
		var expires sql.NullInt64
		err = st.QueryRowContext(ctx, deviceID, timeArg(now)).Scan(&got.DeviceID, &got.UserID, &got.RequestID, &got.SenderID,
			&got.Bundle, &got.Statement, &got.Signature, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		got.ExpiresAt = timeCol(expires)
		t = &got
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t != nil {
		return t, nil
	}
	var n int
	err = s.get(ctx, op, func(r scanner) error { return r.Scan(&n) }, `SELECT count(*) FROM transfers WHERE device_id = ?`, deviceID)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, fmt.Errorf("sqlite: %s: %w: the bundle of %s has expired", op, store.ErrExpired, deviceID)
	}
	return nil, fmt.Errorf("sqlite: %s: %w: no bundle for %s", op, store.ErrNotFound, deviceID)
}

// DeleteExpiredTransfers implements store.Store.
func (s *Store) DeleteExpiredTransfers(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := check.ExpireTransfers(now, limit); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, "delete expired transfers", func(ctx context.Context, c *wconn) error {
		r, err := c.exec(ctx, `DELETE FROM transfers WHERE device_id IN
			(SELECT device_id FROM transfers WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, timeArg(now), limit)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	return int(n), err
}
