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

// AskAccess implements store.Store.
func (s *Store) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	if err := check.AskAccess(sess, q, e); err != nil {
		return err
	}
	return s.write(ctx, "ask access", func(ctx context.Context, c *wconn) error {
		if err := insertSession(ctx, c, sess); err != nil {
			return err
		}
		if err := insertRequest(ctx, c, q); err != nil {
			return err
		}
		_, err := appendAudit(ctx, c, e)
		return err
	})
}

// AnswerAndSeal implements store.Store.
func (s *Store) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndSeal(a, now); err != nil {
		return false, err
	}
	return s.answerThen(ctx, "answer and seal", a.RequestID, &a.Answer, a.AnswerAudit, a.SealAudit, now,
		func(ctx context.Context, c *wconn) error { return sealRecord(ctx, c, a.RecordID, &a.Seal, now) })
}

// AnswerAndOpen implements store.Store.
func (s *Store) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndOpen(a, now); err != nil {
		return false, err
	}
	return s.answerThen(ctx, "answer and open", a.RequestID, &a.Answer, a.AnswerAudit, a.OpenAudit, now,
		func(ctx context.Context, c *wconn) error { return openSession(ctx, c, a.SessionID, &a.Opening, now) })
}

// answerThen is the write call of AnswerAndSeal and AnswerAndOpen: the
// answer and its audit entry, then the change it allows (then, which
// returns errUnchanged when it cannot be made), the processed mark and
// then's audit entry. It reports whether then made its change.
func (s *Store) answerThen(ctx context.Context, op, requestID string, answer *store.Answer, answerAudit, thenAudit *store.AuditEntry,
	now time.Time, then func(ctx context.Context, c *wconn) error) (bool, error) {
	done := false
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		done = false
		if err := answerRequest(ctx, c, requestID, answer, now); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, c, answerAudit); err != nil {
			return err
		}
		err := then(ctx, c)
		if errors.Is(err, errUnchanged) {
			return nil // answered, left for the usual processing
		}
		if err != nil {
			return err
		}
		if err := changed(c.exec(ctx, `UPDATE requests SET processed = 1 WHERE id = ?`, requestID)); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, c, thenAudit); err != nil {
			return err
		}
		done = true
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return false, s.whyNot(ctx, op, "requests", requestID, now, store.RequestPending)
	case err != nil:
		return false, err
	}
	return done, nil
}
