package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

const sessionColumns = `id, record_id, user_id, requester_id, purpose, request_id, state, created_at, expires_at,
	downloads_left, approval_device_id, approval_statement, approval_signature, opened_at, approval_evaluated, approval_proof`

func scanSession(r pgx.Row) (*store.Session, error) {
	x := new(store.Session)
	var created, expires, opened *int64
	var device *string
	if err := r.Scan(&x.ID, &x.RecordID, &x.UserID, &x.RequesterID, &x.Purpose, &x.RequestID, &x.State, &created, &expires,
		&x.DownloadsLeft, &device, &x.Approval.Statement, &x.Approval.Signature, &opened, &x.Approval.EvaluatedElements, &x.Approval.Proof); err != nil {
		return nil, err
	}
	x.CreatedAt, x.ExpiresAt, x.OpenedAt = timeCol(created), timeCol(expires), timeCol(opened)
	x.Approval.DeviceID = textCol(device)
	x.Approval.Statement, x.Approval.Signature = bytesCol(x.Approval.Statement), bytesCol(x.Approval.Signature)
	x.Approval.EvaluatedElements, x.Approval.Proof = listArg(x.Approval.EvaluatedElements), bytesCol(x.Approval.Proof)
	return x, nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	if err := check.NewSession(x); err != nil {
		return err
	}
	return s.exec(ctx, "create session", insertSession, insertSessionArgs(x)...)
}

const insertSession = `INSERT INTO sessions (id, record_id, user_id, requester_id, purpose, request_id, state, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, 'pending_approval', $7, $8)`

func insertSessionArgs(x *store.Session) []any {
	return []any{x.ID, x.RecordID, x.UserID, x.RequesterID, x.Purpose, x.RequestID, timeArg(x.CreatedAt), timeArg(x.ExpiresAt)}
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	if err := check.ID("session id", ids.Session, id); err != nil {
		return nil, err
	}
	var x *store.Session
	err := s.get(ctx, "get session", func(r pgx.Row) (err error) { x, err = scanSession(r); return err },
		`SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id)
	return x, err
}

// OpenSession implements store.Store.
func (s *Store) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	if err := check.OpenSession(id, &o, now); err != nil {
		return err
	}
	const op = "open session"
	var got string
	ok, err := s.update(ctx, op, openSession, openSessionArgs(id, &o, now), &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "sessions", id, now, store.SessionPendingApproval)
}

const openSession = `UPDATE sessions SET state = 'open', expires_at = $3, downloads_left = $4, approval_device_id = $5,
		approval_statement = $6, approval_signature = $7, opened_at = $8, approval_evaluated = $9, approval_proof = $10
	WHERE id = $1 AND state = 'pending_approval' AND expires_at > $2 RETURNING id`

func openSessionArgs(id string, o *store.SessionOpening, now time.Time) []any {
	return []any{id, timeArg(now), timeArg(o.ExpiresAt), o.Downloads, o.Approval.DeviceID, o.Approval.Statement, o.Approval.Signature,
		timeArg(o.OpenedAt), listArg(o.Approval.EvaluatedElements), bytesArg(o.Approval.Proof)}
}

// EndSession implements store.Store.
func (s *Store) EndSession(ctx context.Context, id, to string, now time.Time) error {
	if err := check.EndSession(id, to, now); err != nil {
		return err
	}
	const op = "end session"
	var got string
	ok, err := s.update(ctx, op,
		`UPDATE sessions SET state = $2 WHERE id = $1 AND state IN ('pending_approval', 'open') RETURNING id`, []any{id, to}, &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "sessions", id, time.Time{}, store.SessionPendingApproval, store.SessionOpen)
}

// UseDownload implements store.Store: one UPDATE takes the download and,
// for the last one, moves the session to consumed.
func (s *Store) UseDownload(ctx context.Context, id string, now time.Time) (int, error) {
	if err := check.IDAt("session id", ids.Session, id, now); err != nil {
		return 0, err
	}
	const op = "use download"
	left := 0
	ok, err := s.update(ctx, op,
		`UPDATE sessions SET downloads_left = downloads_left - 1,
			state = CASE WHEN downloads_left = 1 THEN 'consumed' ELSE state END
		WHERE id = $1 AND state = 'open' AND downloads_left > 0 AND expires_at > $2
		RETURNING downloads_left`, []any{id, timeArg(now)}, &left)
	if err != nil || ok {
		return left, err
	}
	return 0, s.whyNot(ctx, op, "sessions", id, now, store.SessionOpen)
}

// SessionsToExpire implements store.Store.
func (s *Store) SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Session, error) {
	if err := check.Due(now, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "sessions to expire", scanSession,
		`SELECT `+sessionColumns+` FROM sessions WHERE state IN ('pending_approval', 'open') AND expires_at <= $1
		ORDER BY expires_at, id LIMIT $2`, timeArg(now), limit)
}
