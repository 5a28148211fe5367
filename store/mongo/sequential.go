package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// The combined calls of store.Store made without a multi-document
// transaction (DESIGN.md "Storage"): each is its methods one after the
// other, each one conditional update: the first
// write is the arbiter of every race, and what follows it either cannot
// fail on state or leaves what the server already recovers from (an
// answered, unprocessed request). An audit entry that cannot be appended
// after the change is reported as store.ErrAuditNotWritten. A store implements
// CreateRecordAudited, StageAndAsk and AnswerAndSeal by calling these with
// itself.

// auditAfter appends e after a change that stands, reporting a failure as
// store.ErrAuditNotWritten.
func auditAfter(ctx context.Context, s store.Store, op string, e *store.AuditEntry) error {
	if _, err := s.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("store: %s: %w: %w", op, store.ErrAuditNotWritten, err)
	}
	return nil
}

// sequentialCreateRecordAudited is CreateRecordAudited on s: the record's
// insert, then the audit entry.
func sequentialCreateRecordAudited(ctx context.Context, s store.Store, r *store.Record, e *store.AuditEntry) error {
	if err := check.CreateRecordAudited(r, e); err != nil {
		return err
	}
	if err := s.CreateRecord(ctx, r); err != nil {
		return err
	}
	return auditAfter(ctx, s, "create record audited", e)
}

// sequentialStageAndAsk is StageAndAsk on s: the request is inserted first (a
// duplicate id changes nothing), then the record is staged; if it cannot
// be, the request is expired again, so that no answer to it is ever used.
func sequentialStageAndAsk(ctx context.Context, s store.Store, recordID string, st store.Staging, q *store.Request, e *store.AuditEntry) error {
	if err := check.StageAndAsk(recordID, &st, q, e); err != nil {
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

// sequentialAskAccess is AskAccess on s: the session is inserted first (a
// duplicate id changes nothing), then its request; if the request cannot
// be, the session is ended again (expired), so that it never opens.
func sequentialAskAccess(ctx context.Context, s store.Store, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	if err := check.AskAccess(sess, q, e); err != nil {
		return err
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		return err
	}
	if err := s.CreateRequest(ctx, q); err != nil {
		if xerr := s.EndSession(context.WithoutCancel(ctx), sess.ID, store.SessionExpired, sess.CreatedAt); xerr != nil {
			return errors.Join(err, fmt.Errorf("store: ask access: ending the session again: %w", xerr))
		}
		return err
	}
	return auditAfter(ctx, s, "ask access", e)
}

// sequentialAnswerAndSeal is AnswerAndSeal on s: the answer (the arbiter), its
// audit entry, the seal, the processed mark and the seal's audit entry.
// Once the answer is stored, a seal that fails for any reason (also an
// outage) leaves the answer unprocessed and reports sealed false with no
// error, so that the server processes it the usual way; a processed mark
// that fails leaves an answered request whose record is sealed, which the
// server's processing marks without changing the record.
func sequentialAnswerAndSeal(ctx context.Context, s store.Store, a *store.SealingAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndSeal(a, now); err != nil {
		return false, err
	}
	return sequentialAnswerThen(ctx, s, "answer and seal", a.RequestID, a.Answer, a.AnswerAudit, a.SealAudit, now,
		func(ctx context.Context) error { return s.SealRecord(ctx, a.RecordID, a.Seal, now) })
}

// sequentialAnswerAndOpen is AnswerAndOpen on s, as sequentialAnswerAndSeal
// with OpenSession in the place of SealRecord.
func sequentialAnswerAndOpen(ctx context.Context, s store.Store, a *store.OpeningAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndOpen(a, now); err != nil {
		return false, err
	}
	return sequentialAnswerThen(ctx, s, "answer and open", a.RequestID, a.Answer, a.AnswerAudit, a.OpenAudit, now,
		func(ctx context.Context) error { return s.OpenSession(ctx, a.SessionID, a.Opening, now) })
}

// sequentialAnswerThen stores the answer (the arbiter) and its audit entry,
// then makes the change it allows (then), the processed mark and then's
// audit entry, reporting whether then made its change.
func sequentialAnswerThen(ctx context.Context, s store.Store, op, requestID string, answer store.Answer,
	answerAudit, thenAudit *store.AuditEntry, now time.Time, then func(ctx context.Context) error) (bool, error) {
	if err := s.AnswerRequest(ctx, requestID, answer, now); err != nil {
		return false, err
	}
	ctx = context.WithoutCancel(ctx) // the answer stands: finish what follows it
	auditErr := auditAfter(ctx, s, op, answerAudit)
	if err := then(ctx); err != nil {
		return false, auditErr
	}
	_ = s.MarkProcessed(ctx, requestID)
	return true, errors.Join(auditErr, auditAfter(ctx, s, op, thenAudit))
}
