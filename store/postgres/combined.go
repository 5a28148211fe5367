package postgres

import (
	"context"
	"time"

	"github.com/assent-dev/assent/store"
)

// The combined calls of store.Store, for now as their methods one after the
// other (store.SequentialStageAndAsk and the others say how, and what a
// failure half-way leaves), so that the store implements the interface;
// each is to become one transaction here, all or nothing.

// CreateRecordAudited implements store.Store.
func (s *Store) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	return store.SequentialCreateRecordAudited(ctx, s, r, e)
}

// StageAndAsk implements store.Store.
func (s *Store) StageAndAsk(ctx context.Context, recordID string, st store.Staging, q *store.Request, e *store.AuditEntry) error {
	return store.SequentialStageAndAsk(ctx, s, recordID, st, q, e)
}

// AnswerAndSeal implements store.Store.
func (s *Store) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	return store.SequentialAnswerAndSeal(ctx, s, a, now)
}
