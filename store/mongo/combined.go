package mongo

import (
	"context"
	"time"

	"github.com/assent-dev/assent/store"
)

// The combined calls of store.Store: MongoDB uses no multi-document
// transactions here (DESIGN.md, "Storage"), so each is its single-document
// updates in order (sequentialStageAndAsk and the others say how).

// CreateRecordAudited implements store.Store.
func (s *Store) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	return sequentialCreateRecordAudited(ctx, s, r, e)
}

// StageAndAsk implements store.Store.
func (s *Store) StageAndAsk(ctx context.Context, recordID string, st store.Staging, q *store.Request, e *store.AuditEntry) error {
	return sequentialStageAndAsk(ctx, s, recordID, st, q, e)
}

// AnswerAndSeal implements store.Store.
func (s *Store) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	return sequentialAnswerAndSeal(ctx, s, a, now)
}

// AnswerAndOpen implements store.Store, as AnswerAndSeal.
func (s *Store) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	return sequentialAnswerAndOpen(ctx, s, a, now)
}

// AskAccess implements store.Store.
func (s *Store) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	return sequentialAskAccess(ctx, s, sess, q, e)
}
