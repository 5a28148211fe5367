package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

const sessionColumns = `id, record_id, user_id, requester_id, purpose, request_id, state, created_at, expires_at,
	downloads_left, approval_device_id, approval_statement, approval_signature, opened_at, approval_evaluated, approval_proof`

func scanSession(r scanner) (*store.Session, error) {
	x := new(store.Session)
	var created, expires, opened sql.NullInt64
	var device, evaluated sql.NullString
	if err := r.Scan(&x.ID, &x.RecordID, &x.UserID, &x.RequesterID, &x.Purpose, &x.RequestID, &x.State, &created, &expires,
		&x.DownloadsLeft, &device, &x.Approval.Statement, &x.Approval.Signature, &opened, &evaluated, &x.Approval.Proof); err != nil {
		return nil, err
	}
	var err error
	if x.Approval.EvaluatedElements, err = listCol[[]byte](evaluated); err != nil {
		return nil, err
	}
	x.Approval.Proof = bytesCol(x.Approval.Proof)
	x.CreatedAt, x.ExpiresAt, x.OpenedAt = timeCol(created), timeCol(expires), timeCol(opened)
	x.Approval.DeviceID = device.String
	x.Approval.Statement, x.Approval.Signature = bytesCol(x.Approval.Statement), bytesCol(x.Approval.Signature)
	return x, nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	if err := check.NewSession(x); err != nil {
		return err
	}
	return s.write(ctx, "create session", func(ctx context.Context, c *wconn) error { return insertSession(ctx, c, x) })
}

func insertSession(ctx context.Context, c *wconn, x *store.Session) error {
	_, err := c.exec(ctx,
		`INSERT INTO sessions (id, record_id, user_id, requester_id, purpose, request_id, state, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending_approval', ?, ?)`,
		x.ID, x.RecordID, x.UserID, x.RequesterID, x.Purpose, x.RequestID, timeArg(x.CreatedAt), timeArg(x.ExpiresAt))
	return err
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	if err := check.ID("session id", ids.Session, id); err != nil {
		return nil, err
	}
	var x *store.Session
	err := s.get(ctx, "get session", func(r scanner) (err error) { x, err = scanSession(r); return err },
		`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id)
	return x, err
}

// OpenSession implements store.Store.
func (s *Store) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	if err := check.OpenSession(id, &o, now); err != nil {
		return err
	}
	const op = "open session"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error { return openSession(ctx, c, id, &o, now) })
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "sessions", id, now, store.SessionPendingApproval)
}

// openSession is OpenSession's update: errUnchanged if it changed nothing.
func openSession(ctx context.Context, c *wconn, id string, o *store.SessionOpening, now time.Time) error {
	return changed(c.exec(ctx,
		`UPDATE sessions SET state = 'open', expires_at = ?, downloads_left = ?, approval_device_id = ?,
			approval_statement = ?, approval_signature = ?, opened_at = ?, approval_evaluated = ?, approval_proof = ?
		WHERE id = ? AND state = 'pending_approval' AND expires_at > ?`,
		timeArg(o.ExpiresAt), o.Downloads, o.Approval.DeviceID, o.Approval.Statement, o.Approval.Signature, timeArg(o.OpenedAt),
		listArg(o.Approval.EvaluatedElements), bytesArg(o.Approval.Proof),
		id, timeArg(now)))
}

// EndSession implements store.Store.
func (s *Store) EndSession(ctx context.Context, id, to string, now time.Time) error {
	if err := check.EndSession(id, to, now); err != nil {
		return err
	}
	const op = "end session"
	ok, err := s.update(ctx, op,
		`UPDATE sessions SET state = ? WHERE id = ? AND state IN ('pending_approval', 'open')`, to, id)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "sessions", id, time.Time{}, store.SessionPendingApproval, store.SessionOpen)
}

// UseDownload implements store.Store.
func (s *Store) UseDownload(ctx context.Context, id string, now time.Time) (int, error) {
	if err := check.IDAt("session id", ids.Session, id, now); err != nil {
		return 0, err
	}
	const op = "use download"
	left := 0
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		return c.queryRow(ctx, func(r scanner) error { return r.Scan(&left) },
			`UPDATE sessions SET downloads_left = downloads_left - 1,
				state = CASE WHEN downloads_left = 1 THEN 'consumed' ELSE state END
			WHERE id = ? AND state = 'open' AND downloads_left > 0 AND expires_at > ?
			RETURNING downloads_left`, id, timeArg(now))
	})
	if !errors.Is(err, sql.ErrNoRows) {
		return left, err
	}
	return 0, s.whyNot(ctx, op, "sessions", id, now, store.SessionOpen)
}

// SessionsToExpire implements store.Store.
func (s *Store) SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Session, error) {
	if err := check.Due(now, limit); err != nil {
		return nil, err
	}
	var out []*store.Session
	err := s.list(ctx, "sessions to expire", func(r scanner) error {
		x, err := scanSession(r)
		out = append(out, x)
		return err
	}, `SELECT `+sessionColumns+` FROM sessions WHERE state IN ('pending_approval', 'open') AND expires_at <= ?
		ORDER BY expires_at, rowid LIMIT ?`, timeArg(now), limit)
	return out, err
}
