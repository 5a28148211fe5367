package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The combined calls of Store, for a store that makes them without a
// multi-document transaction (MongoDB, DESIGN.md "Storage"): each is its
// methods one after the other, each one conditional update: the first
// write is the arbiter of every race, and what follows it either cannot
// fail on state or leaves what the server already recovers from (an
// answered, unprocessed request). An audit entry that cannot be appended
// after the change is reported as ErrAuditNotWritten. A store implements
// CreateRecordAudited, StageAndAsk and AnswerAndSeal by calling these with
// itself.

// auditAfter appends e after a change that stands, reporting a failure as
// ErrAuditNotWritten.
func auditAfter(ctx context.Context, s Store, op string, e *AuditEntry) error {
	if _, err := s.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("store: %s: %w: %w", op, ErrAuditNotWritten, err)
	}
	return nil
}

// SequentialCreateRecordAudited is CreateRecordAudited on s: the record's
// insert, then the audit entry.
func SequentialCreateRecordAudited(ctx context.Context, s Store, r *Record, e *AuditEntry) error {
	if err := CheckCreateRecordAudited(r, e); err != nil {
		return err
	}
	if err := s.CreateRecord(ctx, r); err != nil {
		return err
	}
	return auditAfter(ctx, s, "create record audited", e)
}

// SequentialStageAndAsk is StageAndAsk on s: the request is inserted first (a
// duplicate id changes nothing), then the record is staged; if it cannot
// be, the request is expired again, so that no answer to it is ever used.
func SequentialStageAndAsk(ctx context.Context, s Store, recordID string, st Staging, q *Request, e *AuditEntry) error {
	if err := CheckStageAndAsk(recordID, &st, q, e); err != nil {
		return err
	}
	if err := s.CreateRequest(ctx, q); err != nil {
		return err
	}
	if err := s.StageRecord(ctx, recordID, st); err != nil {
		if xerr := s.ExpireRequest(context.WithoutCancel(ctx), q.ID, q.CreatedAt); xerr != nil {
			return errors.Join(err, fmt.Errorf("store: stage and ask: expiring the request again: %w", xerr))
		}
		return err
	}
	return auditAfter(ctx, s, "stage and ask", e)
}

// SequentialAnswerAndSeal is AnswerAndSeal on s: the answer (the arbiter), its
// audit entry, the seal, the processed mark and the seal's audit entry.
// Once the answer is stored, a seal that fails for any reason (also an
// outage) leaves the answer unprocessed and reports sealed false with no
// error, so that the server processes it the usual way; a processed mark
// that fails leaves an answered request whose record is sealed, which the
// server's processing marks without changing the record.
func SequentialAnswerAndSeal(ctx context.Context, s Store, a *SealingAnswer, now time.Time) (bool, error) {
	if err := CheckAnswerAndSeal(a, now); err != nil {
		return false, err
	}
	const op = "answer and seal"
	if err := s.AnswerRequest(ctx, a.RequestID, a.Answer, now); err != nil {
		return false, err
	}
	ctx = context.WithoutCancel(ctx) // the answer stands: finish what follows it
	auditErr := auditAfter(ctx, s, op, a.AnswerAudit)
	if err := s.SealRecord(ctx, a.RecordID, a.Seal, now); err != nil {
		return false, auditErr
	}
	_ = s.MarkProcessed(ctx, a.RequestID)
	return true, errors.Join(auditErr, auditAfter(ctx, s, op, a.SealAudit))
}
