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

const requestColumns = `id, kind, user_id, record_id, session_id, device_id, device_key_id, requester_id, requester_name,
	purpose, record_title, record_content_type, record_size, record_content_sha256, blinded_elements, state,
	created_at, expires_at, owner_node, answer_decision, answer_evaluated, answer_proof, answer_device_id,
	answer_statement, answer_signature, answered_at, processed`

func scanRequest(r scanner) (*store.Request, error) {
	q := new(store.Request)
	var blinded, decision, evaluated, device sql.NullString
	var created, expires, answered sql.NullInt64
	var a store.Answer
	if err := r.Scan(&q.ID, &q.Kind, &q.UserID, &q.RecordID, &q.SessionID, &q.DeviceID, &q.DeviceKeyID, &q.Requester.ID, &q.Requester.Name,
		&q.Purpose, &q.Record.Title, &q.Record.ContentType, &q.Record.Size, &q.Record.ContentSHA256, &blinded, &q.State,
		&created, &expires, &q.OwnerNode, &decision, &evaluated, &a.Proof, &device,
		&a.Approval.Statement, &a.Approval.Signature, &answered, &q.Processed); err != nil {
		return nil, err
	}
	q.CreatedAt, q.ExpiresAt = timeCol(created), timeCol(expires)
	q.Record.ContentSHA256 = bytesCol(q.Record.ContentSHA256)
	var err error
	if q.BlindedElements, err = listCol[[]byte](blinded); err != nil {
		return nil, err
	}
	if decision.Valid {
		a.Decision, a.Approval.DeviceID, a.AnsweredAt = decision.String, device.String, timeCol(answered)
		a.Proof, a.Approval.Statement, a.Approval.Signature = bytesCol(a.Proof), bytesCol(a.Approval.Statement), bytesCol(a.Approval.Signature)
		if a.EvaluatedElements, err = listCol[[]byte](evaluated); err != nil {
			return nil, err
		}
		q.Answer = &a
	}
	return q, nil
}

func (s *Store) requests(ctx context.Context, op, query string, args ...any) ([]*store.Request, error) {
	var out []*store.Request
	err := s.list(ctx, op, func(r scanner) error {
		q, err := scanRequest(r)
		out = append(out, q)
		return err
	}, query, args...)
	return out, err
}

// CreateRequest implements store.Store.
func (s *Store) CreateRequest(ctx context.Context, q *store.Request) error {
	if err := check.NewRequest(q); err != nil {
		return err
	}
	return s.write(ctx, "create request", func(ctx context.Context, c *wconn) error { return insertRequest(ctx, c, q) })
}

func insertRequest(ctx context.Context, c *wconn, q *store.Request) error {
	_, err := c.exec(ctx,
		`INSERT INTO requests (id, kind, user_id, record_id, session_id, device_id, device_key_id, requester_id, requester_name,
			purpose, record_title, record_content_type, record_size, record_content_sha256, blinded_elements, state,
			created_at, expires_at, owner_node)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		q.ID, q.Kind, q.UserID, q.RecordID, q.SessionID, q.DeviceID, q.DeviceKeyID, q.Requester.ID, q.Requester.Name,
		q.Purpose, q.Record.Title, q.Record.ContentType, q.Record.Size, bytesArg(q.Record.ContentSHA256), blindedArg(q.BlindedElements),
		timeArg(q.CreatedAt), timeArg(q.ExpiresAt), q.OwnerNode)
	return err
}

// blindedArg is the column of a request's blinded elements, which is not
// null: empty for an add_device request, which has none.
func blindedArg(l [][]byte) any {
	if v := listArg(l); v != nil {
		return v
	}
	return ""
}

// GetRequest implements store.Store.
func (s *Store) GetRequest(ctx context.Context, id string) (*store.Request, error) {
	if err := check.ID("request id", ids.Request, id); err != nil {
		return nil, err
	}
	var q *store.Request
	err := s.get(ctx, "get request", func(r scanner) (err error) { q, err = scanRequest(r); return err },
		`SELECT `+requestColumns+` FROM requests WHERE id = ?`, id)
	return q, err
}

// PendingRequests implements store.Store.
func (s *Store) PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*store.Request, error) {
	if err := check.PendingRequests(userID, now, limit); err != nil {
		return nil, err
	}
	return s.requests(ctx, "pending requests",
		`SELECT `+requestColumns+` FROM requests WHERE user_id = ? AND state = 'pending' AND expires_at > ?
		ORDER BY created_at, expires_at, rowid LIMIT ?`, userID, timeArg(now), limit)
}

// CountPendingRequests implements store.Store.
func (s *Store) CountPendingRequests(ctx context.Context, userID string, now time.Time) (int, error) {
	if err := check.UserAt(userID, now); err != nil {
		return 0, err
	}
	var n int
	err := s.get(ctx, "count pending requests", func(r scanner) error { return r.Scan(&n) },
		`SELECT count(*) FROM requests WHERE user_id = ? AND state = 'pending' AND expires_at > ?`, userID, timeArg(now))
	return n, err
}

// AnswerRequest implements store.Store.
func (s *Store) AnswerRequest(ctx context.Context, id string, a store.Answer, now time.Time) error {
	if err := check.AnswerRequest(id, &a, now); err != nil {
		return err
	}
	const op = "answer request"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error { return answerRequest(ctx, c, id, &a, now) })
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "requests", id, now, store.RequestPending)
}

// answerRequest is AnswerRequest's update: errUnchanged if it changed
// nothing.
func answerRequest(ctx context.Context, c *wconn, id string, a *store.Answer, now time.Time) error {
	return changed(c.exec(ctx,
		`UPDATE requests SET state = ?, answer_decision = ?, answer_evaluated = ?, answer_proof = ?, answer_device_id = ?,
			answer_statement = ?, answer_signature = ?, answered_at = ?
		WHERE id = ? AND state = 'pending' AND expires_at > ?`,
		store.AnswerState(a.Decision), a.Decision, listArg(a.EvaluatedElements), bytesArg(a.Proof), a.Approval.DeviceID,
		a.Approval.Statement, a.Approval.Signature, timeArg(a.AnsweredAt), id, timeArg(now)))
}

// ExpireRequest implements store.Store.
func (s *Store) ExpireRequest(ctx context.Context, id string, now time.Time) error {
	if err := check.IDAt("request id", ids.Request, id, now); err != nil {
		return err
	}
	const op = "expire request"
	ok, err := s.update(ctx, op, `UPDATE requests SET state = 'expired' WHERE id = ? AND state = 'pending'`, id)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "requests", id, time.Time{}, store.RequestPending)
}

// RequestsToExpire implements store.Store.
func (s *Store) RequestsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Request, error) {
	if err := check.Due(now, limit); err != nil {
		return nil, err
	}
	return s.requests(ctx, "requests to expire",
		`SELECT `+requestColumns+` FROM requests WHERE state = 'pending' AND expires_at <= ?
		ORDER BY expires_at, rowid LIMIT ?`, timeArg(now), limit)
}

// AnsweredRequests implements store.Store.
func (s *Store) AnsweredRequests(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	if err := check.NodeLimit(node, limit); err != nil {
		return nil, err
	}
	return s.requests(ctx, "answered requests",
		`SELECT `+requestColumns+` FROM requests
		WHERE owner_node = ? AND state IN ('approved', 'denied') AND processed = 0
		ORDER BY created_at, rowid LIMIT ?`, node, limit)
}

// MarkProcessed implements store.Store.
func (s *Store) MarkProcessed(ctx context.Context, id string) error {
	if err := check.ID("request id", ids.Request, id); err != nil {
		return err
	}
	const op = "mark processed"
	ok, err := s.update(ctx, op,
		`UPDATE requests SET processed = 1 WHERE id = ? AND state IN ('approved', 'denied') AND processed = 0`, id)
	if err != nil || ok {
		return err
	}
	// Processed or never answered: both are conflicts, unless the id is unknown.
	return s.whyNot(ctx, op, "requests", id, time.Time{})
}

// PendingOwnedBy implements store.Store.
func (s *Store) PendingOwnedBy(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	if err := check.NodeLimit(node, limit); err != nil {
		return nil, err
	}
	return s.requests(ctx, "pending owned by",
		`SELECT `+requestColumns+` FROM requests WHERE owner_node = ? AND state = 'pending'
		ORDER BY created_at, rowid LIMIT ?`, node, limit)
}
