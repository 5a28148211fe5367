package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := store.CheckUser(u); err != nil {
		return err
	}
	return s.exec(ctx, "create user",
		`INSERT INTO users (id, client_id, external_id, display_name, share_wrapped, share_version, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.ClientID, u.ExternalID, u.DisplayName, u.ShareWrapped, int64(u.ShareVersion), timeArg(u.CreatedAt))
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	if err := store.CheckID("user id", ids.User, id); err != nil {
		return nil, err
	}
	u := new(store.User)
	var version int64
	var created sql.NullInt64
	err := s.get(ctx, "get user", func(r scanner) error {
		return r.Scan(&u.ID, &u.ClientID, &u.ExternalID, &u.DisplayName, &u.ShareWrapped, &version, &created)
	}, `SELECT id, client_id, external_id, display_name, share_wrapped, share_version, created_at FROM users WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	u.ShareVersion = uint32(version)
	u.CreatedAt = timeCol(created)
	return u, nil
}

// CreateEnrollment implements store.Store.
func (s *Store) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	if err := store.CheckEnrollment(e); err != nil {
		return err
	}
	return s.exec(ctx, "create enrollment",
		`INSERT INTO enrollments (code_hash, user_id, expires_at) VALUES (?, ?, ?)`,
		e.CodeHash, e.UserID, timeArg(e.ExpiresAt))
}

// UseEnrollment implements store.Store.
func (s *Store) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	if err := store.CheckUseEnrollment(codeHash, now); err != nil {
		return nil, err
	}
	const op = "use enrollment"
	e := &store.Enrollment{CodeHash: append([]byte(nil), codeHash...)}
	var expires, used sql.NullInt64
	scan := func(r scanner) error { return r.Scan(&e.UserID, &expires, &used) }
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		return c.queryRow(ctx, scan,
			`UPDATE enrollments SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING user_id, expires_at, used_at`, timeArg(now), codeHash, timeArg(now))
	})
	if err == nil {
		e.ExpiresAt, e.UsedAt = timeCol(expires), timeCol(used)
		return e, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if err := s.get(ctx, op, scan, `SELECT user_id, expires_at, used_at FROM enrollments WHERE code_hash = ?`, codeHash); err != nil {
		return nil, err
	}
	if used.Valid {
		return nil, fmt.Errorf("sqlite: %s: %w: enrollment code already used", op, store.ErrConflict)
	}
	if now.UnixNano() >= expires.Int64 {
		return nil, fmt.Errorf("sqlite: %s: %w: enrollment code expired at %s", op, store.ErrExpired, timeCol(expires).Format(time.RFC3339))
	}
	return nil, fmt.Errorf("sqlite: %s: %w: enrollment code changed meanwhile", op, store.ErrConflict)
}

const deviceColumns = `id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at, activated_at`

func scanDevice(r scanner) (*store.Device, error) {
	d := new(store.Device)
	var blinded sql.NullString
	var created, activated sql.NullInt64
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &d.OPRFPublicKey, &d.SigningPublicKey, &d.KeyID, &d.State, &blinded, &created, &activated); err != nil {
		return nil, err
	}
	var err error
	d.CheckBlinded, err = listCol[[]byte](blinded)
	d.CreatedAt, d.ActivatedAt = timeCol(created), timeCol(activated)
	return d, err
}

// CreateDevice implements store.Store.
func (s *Store) CreateDevice(ctx context.Context, d *store.Device) error {
	if err := store.CheckDevice(d); err != nil {
		return err
	}
	return s.exec(ctx, "create device",
		`INSERT INTO devices (`+deviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Name, d.OPRFPublicKey, d.SigningPublicKey, d.KeyID, d.State,
		listArg(d.CheckBlinded), timeArg(d.CreatedAt), timeArg(d.ActivatedAt))
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	if err := store.CheckID("device id", ids.Device, id); err != nil {
		return nil, err
	}
	var d *store.Device
	err := s.get(ctx, "get device", func(r scanner) (err error) { d, err = scanDevice(r); return err },
		`SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id)
	return d, err
}

// ActivateDevice implements store.Store.
func (s *Store) ActivateDevice(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckIDAt("device id", ids.Device, id, now); err != nil {
		return err
	}
	const op = "activate device"
	ok, err := s.update(ctx, op, `UPDATE devices SET state = 'active', activated_at = ? WHERE id = ? AND state = 'pending'`, timeArg(now), id)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "devices", id, time.Time{}, store.DevicePending)
}

// ActiveDevices implements store.Store.
func (s *Store) ActiveDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	if err := store.CheckID("user id", ids.User, userID); err != nil {
		return nil, err
	}
	var out []*store.Device
	err := s.list(ctx, "active devices", func(r scanner) error {
		d, err := scanDevice(r)
		out = append(out, d)
		return err
	}, `SELECT `+deviceColumns+` FROM devices WHERE user_id = ? AND state = 'active' ORDER BY created_at, rowid LIMIT ?`, userID, store.MaxLimit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateClient implements store.Store.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := store.CheckClient(c); err != nil {
		return err
	}
	return s.exec(ctx, "create client",
		`INSERT INTO clients (id, name, key_prefix, key_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.KeyPrefix, c.KeyHash, listArg(c.Scopes), timeArg(c.CreatedAt))
}

// ClientByPrefix implements store.Store.
func (s *Store) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	if err := store.CheckKeyPrefix(prefix); err != nil {
		return nil, err
	}
	c := new(store.Client)
	var scopes sql.NullString
	var created sql.NullInt64
	err := s.get(ctx, "client by prefix", func(r scanner) error {
		return r.Scan(&c.ID, &c.Name, &c.KeyPrefix, &c.KeyHash, &scopes, &created)
	}, `SELECT id, name, key_prefix, key_hash, scopes, created_at FROM clients WHERE key_prefix = ?`, prefix)
	if err != nil {
		return nil, err
	}
	c.CreatedAt = timeCol(created)
	if c.Scopes, err = listCol[string](scopes); err != nil {
		return nil, err
	}
	return c, nil
}
