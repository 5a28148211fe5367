package sqlite

import (
	"context"
	"database/sql"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// settingMasterKeyID names the master key id in the settings table.
const settingMasterKeyID = "master_key_id"

// GetEnrollment implements store.Store, on the reader pool.
func (s *Store) GetEnrollment(ctx context.Context, codeHash []byte) (*store.Enrollment, error) {
	if err := check.GetEnrollment(codeHash); err != nil {
		return nil, err
	}
	e := &store.Enrollment{CodeHash: append([]byte(nil), codeHash...)}
	var expires, used sql.NullInt64
	err := s.get(ctx, "get enrollment", func(r scanner) error { return r.Scan(&e.UserID, &expires, &used) },
		`SELECT user_id, expires_at, used_at FROM enrollments WHERE code_hash = ?`, codeHash)
	if err != nil {
		return nil, err
	}
	e.ExpiresAt, e.UsedAt = timeCol(expires), timeCol(used)
	return e, nil
}

// PinMasterKeyID implements store.Store: one insert that keeps the first
// value, then a read of what is there.
func (s *Store) PinMasterKeyID(ctx context.Context, keyID string) (string, error) {
	if err := check.PinMasterKeyID(keyID); err != nil {
		return "", err
	}
	const op = "pin master key id"
	if err := s.exec(ctx, op, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
		settingMasterKeyID, keyID); err != nil {
		return "", err
	}
	var pinned string
	if err := s.get(ctx, op, func(r scanner) error { return r.Scan(&pinned) },
		`SELECT value FROM settings WHERE name = ?`, settingMasterKeyID); err != nil {
		return "", err
	}
	return pinned, nil
}
