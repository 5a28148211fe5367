package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// settingMasterKeyID names the master key id in the settings table.
const settingMasterKeyID = "master_key_id"

// GetEnrollment implements store.Store.
func (s *Store) GetEnrollment(ctx context.Context, codeHash []byte) (*store.Enrollment, error) {
	if err := check.GetEnrollment(codeHash); err != nil {
		return nil, err
	}
	e := &store.Enrollment{CodeHash: append([]byte(nil), codeHash...)}
	var expires, used *int64
	err := s.get(ctx, "get enrollment", func(r pgx.Row) error { return r.Scan(&e.UserID, &expires, &used) },
		`SELECT user_id, expires_at, used_at FROM enrollments WHERE code_hash = $1`, codeHash)
	if err != nil {
		return nil, err
	}
	e.ExpiresAt, e.UsedAt = timeCol(expires), timeCol(used)
	return e, nil
}

// PinMasterKeyID implements store.Store: one upsert that keeps the first
// value and returns whichever is stored. ON CONFLICT DO UPDATE (setting the
// value to itself) rather than DO NOTHING, so that RETURNING always yields
// the row, also to the losers of concurrent first calls.
func (s *Store) PinMasterKeyID(ctx context.Context, keyID string) (string, error) {
	if err := check.PinMasterKeyID(keyID); err != nil {
		return "", err
	}
	var pinned string
	_, err := s.update(ctx, "pin master key id",
		`INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value`,
		[]any{settingMasterKeyID, keyID}, &pinned)
	if err != nil {
		return "", err
	}
	return pinned, nil
}
