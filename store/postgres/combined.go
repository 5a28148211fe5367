package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// The combined calls of store.Store: each runs its statements in one READ
// COMMITTED transaction, so either all of them are committed or none (this
// store never returns ErrAuditNotWritten). Each transition in them is the
// same conditional UPDATE as the single method's; a transaction whose audit
// insert lost the race for the sequence number is rolled back and run
// again from the start.

// querier runs the statements of one step: the Store itself (each
// statement on its own, as a read or a write) or a transaction.
type querier interface {
	get(ctx context.Context, op string, scan func(pgx.Row) error, query string, args ...any) error
	exec(ctx context.Context, op, query string, args ...any) error
}

// txQuerier runs statements in tx.
type txQuerier struct{ tx pgx.Tx }

func (q txQuerier) get(ctx context.Context, _ string, scan func(pgx.Row) error, query string, args ...any) error {
	return mapErr(scan(q.tx.QueryRow(ctx, query, args...)))
}

func (q txQuerier) exec(ctx context.Context, _ string, query string, args ...any) error {
	_, err := q.tx.Exec(ctx, query, args...)
	return mapErr(err)
}

// changed runs a conditional statement that returns a row when it changed
// one: errUnchanged when it did not.
func (q txQuerier) changed(ctx context.Context, query string, args ...any) error {
	var id string
	err := q.tx.QueryRow(ctx, query, args...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return errUnchanged
	}
	return mapErr(err)
}

// errUnchanged: a conditional statement of a transaction matched no row.
var errUnchanged = errors.New("postgres: conditional statement changed nothing")

// inTx runs f in one transaction, as a write (without the caller's
// cancellation, bounded), trying it again when its audit append lost a
// race.
func (s *Store) inTx(ctx context.Context, op string, f func(ctx context.Context, q txQuerier) error) error {
	return s.retryAudit(ctx, func() error {
		return s.write(ctx, op, func(ctx context.Context) error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return f(ctx, txQuerier{tx}) })
		})
	})
}

// CreateRecordAudited implements store.Store.
func (s *Store) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	if err := check.CreateRecordAudited(r, e); err != nil {
		return err
	}
	return s.inTx(ctx, "create record audited", func(ctx context.Context, q txQuerier) error {
		if err := q.exec(ctx, "", insertRecord, insertRecordArgs(r)...); err != nil {
			return err
		}
		_, err := appendAudit(ctx, q, e)
		return err
	})
}

// StageAndAsk implements store.Store.
func (s *Store) StageAndAsk(ctx context.Context, recordID string, st store.Staging, r *store.Request, e *store.AuditEntry) error {
	if err := check.StageAndAsk(recordID, &st, r, e); err != nil {
		return err
	}
	const op = "stage and ask"
	err := s.inTx(ctx, op, func(ctx context.Context, q txQuerier) error {
		query, args := stageRecord(recordID, &st)
		if err := q.changed(ctx, query, args...); err != nil {
			return err
		}
		if err := q.exec(ctx, "", insertRequest, insertRequestArgs(r)...); err != nil {
			return err
		}
		_, err := appendAudit(ctx, q, e)
		return err
	})
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "records", recordID, time.Time{}, store.RecordAwaitingUpload)
}

// AskAccess implements store.Store.
func (s *Store) AskAccess(ctx context.Context, sess *store.Session, r *store.Request, e *store.AuditEntry) error {
	if err := check.AskAccess(sess, r, e); err != nil {
		return err
	}
	return s.inTx(ctx, "ask access", func(ctx context.Context, q txQuerier) error {
		if err := q.exec(ctx, "", insertSession, insertSessionArgs(sess)...); err != nil {
			return err
		}
		if err := q.exec(ctx, "", insertRequest, insertRequestArgs(r)...); err != nil {
			return err
		}
		_, err := appendAudit(ctx, q, e)
		return err
	})
}

// AnswerAndSeal implements store.Store. A record that cannot be sealed
// (its UPDATE matches nothing) leaves the answer and its audit entry to be
// committed, as the contract asks.
func (s *Store) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndSeal(a, now); err != nil {
		return false, err
	}
	return s.answerThen(ctx, "answer and seal", a.RequestID, &a.Answer, a.AnswerAudit, a.SealAudit, now,
		sealRecord, sealRecordArgs(a.RecordID, &a.Seal, now))
}

// AnswerAndOpen implements store.Store, as AnswerAndSeal.
func (s *Store) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	if err := check.AnswerAndOpen(a, now); err != nil {
		return false, err
	}
	return s.answerThen(ctx, "answer and open", a.RequestID, &a.Answer, a.AnswerAudit, a.OpenAudit, now,
		openSession, openSessionArgs(a.SessionID, &a.Opening, now))
}

// answerThen is the transaction of AnswerAndSeal and AnswerAndOpen: the
// answer and its audit entry, then the conditional update then (with
// thenArgs) it allows, the processed mark and then's audit entry. It
// reports whether then made its change.
func (s *Store) answerThen(ctx context.Context, op, requestID string, answer *store.Answer, answerAudit, thenAudit *store.AuditEntry,
	now time.Time, then string, thenArgs []any) (bool, error) {
	done := false
	err := s.inTx(ctx, op, func(ctx context.Context, q txQuerier) error {
		done = false
		if err := q.changed(ctx, answerRequest, answerRequestArgs(requestID, answer, now)...); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, q, answerAudit); err != nil {
			return err
		}
		err := q.changed(ctx, then, thenArgs...)
		if errors.Is(err, errUnchanged) {
			return nil // answered, left for the usual processing
		}
		if err != nil {
			return err
		}
		if err := q.changed(ctx, markProcessed, requestID); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, q, thenAudit); err != nil {
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
