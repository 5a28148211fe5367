package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

const requestColumns = `id, kind, user_id, record_id, session_id, device_id, device_key_id, requester_id, requester_name,
	purpose, record_title, record_content_type, record_size, record_content_sha256, blinded_elements, state,
	created_at, expires_at, owner_node, answer_decision, answer_evaluated, answer_proof, answer_device_id,
	answer_statement, answer_signature, answered_at, processed`

func scanRequest(r pgx.Row) (*store.Request, error) {
	q := new(store.Request)
	var decision, device *string
	var created, expires, answered *int64
	var a store.Answer
	if err := r.Scan(&q.ID, &q.Kind, &q.UserID, &q.RecordID, &q.SessionID, &q.DeviceID, &q.DeviceKeyID, &q.Requester.ID, &q.Requester.Name,
		&q.Purpose, &q.Record.Title, &q.Record.ContentType, &q.Record.Size, &q.Record.ContentSHA256, &q.BlindedElements, &q.State,
		&created, &expires, &q.OwnerNode, &decision, &a.EvaluatedElements, &a.Proof, &device,
		&a.Approval.Statement, &a.Approval.Signature, &answered, &q.Processed); err != nil {
		return nil, err
	}
	q.CreatedAt, q.ExpiresAt = timeCol(created), timeCol(expires)
	q.Record.ContentSHA256 = bytesCol(q.Record.ContentSHA256)
	q.BlindedElements = listArg(q.BlindedElements)
	if decision != nil {
		a.Decision, a.Approval.DeviceID, a.AnsweredAt = *decision, textCol(device), timeCol(answered)
		a.Proof, a.Approval.Statement, a.Approval.Signature = bytesCol(a.Proof), bytesCol(a.Approval.Statement), bytesCol(a.Approval.Signature)
		a.EvaluatedElements = listArg(a.EvaluatedElements)
		q.Answer = &a
	}
	return q, nil
}

// CreateRequest implements store.Store.
func (s *Store) CreateRequest(ctx context.Context, q *store.Request) error {
	if err := check.NewRequest(q); err != nil {
		return err
	}
	return s.exec(ctx, "create request", insertRequest, insertRequestArgs(q)...)
}

const insertRequest = `INSERT INTO requests (id, kind, user_id, record_id, session_id, device_id, device_key_id, requester_id, requester_name,
		purpose, record_title, record_content_type, record_size, record_content_sha256, blinded_elements, state,
		created_at, expires_at, owner_node)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'pending', $16, $17, $18)`

func insertRequestArgs(q *store.Request) []any {
	blinded := q.BlindedElements
	if blinded == nil {
		blinded = [][]byte{} // the column is not null; an add_device request has none
	}
	return []any{q.ID, q.Kind, q.UserID, q.RecordID, q.SessionID, q.DeviceID, q.DeviceKeyID, q.Requester.ID, q.Requester.Name,
		q.Purpose, q.Record.Title, q.Record.ContentType, q.Record.Size, bytesArg(q.Record.ContentSHA256), blinded,
		timeArg(q.CreatedAt), timeArg(q.ExpiresAt), q.OwnerNode}
}

// GetRequest implements store.Store.
func (s *Store) GetRequest(ctx context.Context, id string) (*store.Request, error) {
	if err := check.ID("request id", ids.Request, id); err != nil {
		return nil, err
	}
	var q *store.Request
	err := s.get(ctx, "get request", func(r pgx.Row) (err error) { q, err = scanRequest(r); return err },
		`SELECT `+requestColumns+` FROM requests WHERE id = $1`, id)
	return q, err
}

// PendingRequests implements store.Store.
func (s *Store) PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*store.Request, error) {
	if err := check.PendingRequests(userID, now, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "pending requests", scanRequest,
		`SELECT `+requestColumns+` FROM requests WHERE user_id = $1 AND state = 'pending' AND expires_at > $2
		ORDER BY created_at, expires_at, id LIMIT $3`, userID, timeArg(now), limit)
}

// CountPendingRequests implements store.Store.
func (s *Store) CountPendingRequests(ctx context.Context, userID string, now time.Time) (int, error) {
	if err := check.UserAt(userID, now); err != nil {
		return 0, err
	}
	var n int
	err := s.get(ctx, "count pending requests", func(r pgx.Row) error { return r.Scan(&n) },
		`SELECT count(*) FROM requests WHERE user_id = $1 AND state = 'pending' AND expires_at > $2`, userID, timeArg(now))
	return n, err
}

// AnswerRequest implements store.Store.
func (s *Store) AnswerRequest(ctx context.Context, id string, a store.Answer, now time.Time) error {
	if err := check.AnswerRequest(id, &a, now); err != nil {
		return err
	}
	const op = "answer request"
	var got string
	ok, err := s.update(ctx, op, answerRequest, answerRequestArgs(id, &a, now), &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "requests", id, now, store.RequestPending)
}

const answerRequest = `UPDATE requests SET state = $3, answer_decision = $4, answer_evaluated = $5, answer_proof = $6,
		answer_device_id = $7, answer_statement = $8, answer_signature = $9, answered_at = $10
	WHERE id = $1 AND state = 'pending' AND expires_at > $2 RETURNING id`

func answerRequestArgs(id string, a *store.Answer, now time.Time) []any {
	return []any{id, timeArg(now), store.AnswerState(a.Decision), a.Decision, listArg(a.EvaluatedElements), bytesArg(a.Proof),
		a.Approval.DeviceID, a.Approval.Statement, a.Approval.Signature, timeArg(a.AnsweredAt)}
}

// ExpireRequest implements store.Store.
func (s *Store) ExpireRequest(ctx context.Context, id string, now time.Time) error {
	if err := check.IDAt("request id", ids.Request, id, now); err != nil {
		return err
	}
	const op = "expire request"
	var got string
	ok, err := s.update(ctx, op, `UPDATE requests SET state = 'expired' WHERE id = $1 AND state = 'pending' RETURNING id`,
		[]any{id}, &got)
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
	return list(ctx, s, "requests to expire", scanRequest,
		`SELECT `+requestColumns+` FROM requests WHERE state = 'pending' AND expires_at <= $1
		ORDER BY expires_at, id LIMIT $2`, timeArg(now), limit)
}

// AnsweredRequests implements store.Store.
func (s *Store) AnsweredRequests(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	if err := check.NodeLimit(node, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "answered requests", scanRequest,
		`SELECT `+requestColumns+` FROM requests
		WHERE owner_node = $1 AND state IN ('approved', 'denied') AND NOT processed
		ORDER BY created_at, id LIMIT $2`, node, limit)
}

// MarkProcessed implements store.Store.
func (s *Store) MarkProcessed(ctx context.Context, id string) error {
	if err := check.ID("request id", ids.Request, id); err != nil {
		return err
	}
	const op = "mark processed"
	var got string
	ok, err := s.update(ctx, op, markProcessed, []any{id}, &got)
	if err != nil || ok {
		return err
	}
	// Processed or never answered: both are conflicts, unless the id is unknown.
	return s.whyNot(ctx, op, "requests", id, time.Time{})
}

const markProcessed = `UPDATE requests SET processed = true WHERE id = $1 AND state IN ('approved', 'denied') AND NOT processed
	RETURNING id`

// PendingOwnedBy implements store.Store.
func (s *Store) PendingOwnedBy(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	if err := check.NodeLimit(node, limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "pending owned by", scanRequest,
		`SELECT `+requestColumns+` FROM requests WHERE owner_node = $1 AND state = 'pending'
		ORDER BY created_at, id LIMIT $2`, node, limit)
}
