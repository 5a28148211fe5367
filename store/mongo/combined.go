package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/store"
)

// The combined calls of store.Store. MongoDB uses no multi-document
// transactions here (DESIGN.md, "Storage"), so each is its methods one
// after the other, each one single-document conditional update: the first
// write is the arbiter of every race, and what follows it either cannot
// fail on state or leaves what the server already recovers from (an
// answered, unprocessed request). An audit entry that cannot be appended
// after the change is reported as store.ErrAuditNotWritten.

// auditAfter appends e after a change that stands, reporting a failure as
// ErrAuditNotWritten.
func (s *Store) auditAfter(ctx context.Context, op string, e *store.AuditEntry) error {
	if _, err := s.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("mongo: %s: %w: %w", op, store.ErrAuditNotWritten, err)
	}
	return nil
}

// CreateRecordAudited implements store.Store: the record's insert, then
// the audit entry.
func (s *Store) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	if err := store.CheckCreateRecordAudited(r, e); err != nil {
		return err
	}
	if err := s.CreateRecord(ctx, r); err != nil {
		return err
	}
	return s.auditAfter(ctx, "create record audited", e)
}

// StageAndAsk implements store.Store: the request is inserted first (a
// duplicate id changes nothing), then the record is staged; if it cannot
// be, the request is expired again, so that no answer to it is ever used.
func (s *Store) StageAndAsk(ctx context.Context, recordID string, st store.Staging, q *store.Request, e *store.AuditEntry) error {
	if err := store.CheckStageAndAsk(recordID, &st, q, e); err != nil {
		return err
	}
	if err := s.CreateRequest(ctx, q); err != nil {
		return err
	}
	if err := s.StageRecord(ctx, recordID, st); err != nil {
		if xerr := s.ExpireRequest(context.WithoutCancel(ctx), q.ID, q.CreatedAt); xerr != nil {
			return errors.Join(err, fmt.Errorf("mongo: stage and ask: expiring the request again: %w", xerr))
		}
		return err
	}
	return s.auditAfter(ctx, "stage and ask", e)
}

// AnswerAndSeal implements store.Store: the answer (the arbiter), its
// audit entry, the seal, the processed mark and the seal's audit entry.
// Once the answer is stored, a seal that fails for any reason (also an
// outage) leaves the answer unprocessed and reports sealed false with no
// error, so that the server processes it the usual way; a processed mark
// that fails leaves an answered request whose record is sealed, which the
// server's processing marks without changing the record.
func (s *Store) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	if err := store.CheckAnswerAndSeal(a, now); err != nil {
		return false, err
	}
	const op = "answer and seal"
	if err := s.AnswerRequest(ctx, a.RequestID, a.Answer, now); err != nil {
		return false, err
	}
	ctx = context.WithoutCancel(ctx) // the answer stands: finish what follows it
	auditErr := s.auditAfter(ctx, op, a.AnswerAudit)
	if err := s.SealRecord(ctx, a.RecordID, a.Seal, now); err != nil {
		return false, auditErr
	}
	_ = s.MarkProcessed(ctx, a.RequestID)
	return true, errors.Join(auditErr, s.auditAfter(ctx, op, a.SealAudit))
}
