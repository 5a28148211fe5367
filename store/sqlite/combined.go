package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// The combined calls of store.Store: each is one write call, so its
// statements share one savepoint of one batch, and either all of them are
// committed or none (this store never returns ErrAuditNotWritten).

// CreateRecordAudited implements store.Store.
func (s *Store) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	if err := check.CreateRecordAudited(r, e); err != nil {
		return err
	}
	return s.write(ctx, "create record audited", func(ctx context.Context, c *wconn) error {
		if err := insertRecord(ctx, c, r); err != nil {
			return err
		}
		_, err := appendAudit(ctx, c, e)
		return err
	})
}

// StageAndAsk implements store.Store.
func (s *Store) StageAndAsk(ctx context.Context, recordID string, st store.Staging, q *store.Request, e *store.AuditEntry) error {
	if err := check.StageAndAsk(recordID, &st, q, e); err != nil {
		return err
	}
	const op = "stage and ask"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		if err := stageRecord(ctx, c, recordID, &st); err != nil {
			return err
		}
		if err := insertRequest(ctx, c, q); err != nil {
			return err
		}
		_, err := appendAudit(ctx, c, e)
		return err
	})
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "records", recordID, time.Time{}, store.RecordAwaitingUpload)
}

// AnswerAndSeal implements store.Store.
func (s *Store) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndSeal(a, now); err != nil {
		return false, err
	}
	const op = "answer and seal"
	sealed := false
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		sealed = false
		if err := answerRequest(ctx, c, a.RequestID, &a.Answer, now); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, c, a.AnswerAudit); err != nil {
			return err
		}
		err := sealRecord(ctx, c, a.RecordID, &a.Seal, now)
		if errors.Is(err, errUnchanged) {
			return nil // answered, left for the usual processing
		}
		if err != nil {
			return err
		}
		if err := changed(c.exec(ctx, `UPDATE requests SET processed = 1 WHERE id = ?`, a.RequestID)); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, c, a.SealAudit); err != nil {
			return err
		}
		sealed = true
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return false, s.whyNot(ctx, op, "requests", a.RequestID, now, store.RequestPending)
	case err != nil:
		return false, err
	}
	return sealed, nil
}
