package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.ClientID, u.ExternalID, u.DisplayName, u.ShareWrapped, int64(u.ShareVersion), timeArg(u.CreatedAt))
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	if err := store.CheckID("user id", ids.User, id); err != nil {
		return nil, err
	}
	u := new(store.User)
	var version int64
	var created *int64
	err := s.get(ctx, "get user", func(r pgx.Row) error {
		return r.Scan(&u.ID, &u.ClientID, &u.ExternalID, &u.DisplayName, &u.ShareWrapped, &version, &created)
	}, `SELECT id, client_id, external_id, display_name, share_wrapped, share_version, created_at FROM users WHERE id = $1`, id)
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
		`INSERT INTO enrollments (code_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		e.CodeHash, e.UserID, timeArg(e.ExpiresAt))
}

// UseEnrollment implements store.Store.
func (s *Store) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	if err := store.CheckUseEnrollment(codeHash, now); err != nil {
		return nil, err
	}
	const op = "use enrollment"
	e := &store.Enrollment{CodeHash: append([]byte(nil), codeHash...)}
	var expires, used *int64
	ok, err := s.update(ctx, op,
		`UPDATE enrollments SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING user_id, expires_at, used_at`, []any{timeArg(now), codeHash}, &e.UserID, &expires, &used)
	if err != nil {
		return nil, err
	}
	if ok {
		e.ExpiresAt, e.UsedAt = timeCol(expires), timeCol(used)
		return e, nil
	}
	err = s.get(ctx, op, func(r pgx.Row) error { return r.Scan(&e.UserID, &expires, &used) },
		`SELECT user_id, expires_at, used_at FROM enrollments WHERE code_hash = $1`, codeHash)
	switch {
	case err != nil:
		return nil, err
	case used != nil:
		return nil, fmt.Errorf("postgres: %s: %w: enrollment code already used", op, store.ErrConflict)
	case now.UnixNano() >= *expires:
		return nil, fmt.Errorf("postgres: %s: %w: enrollment code expired at %s", op, store.ErrExpired, timeCol(expires).Format(time.RFC3339))
	}
	return nil, fmt.Errorf("postgres: %s: %w: enrollment code changed meanwhile", op, store.ErrConflict)
}

const deviceColumns = `id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at, activated_at`

func scanDevice(r pgx.Row) (*store.Device, error) {
	d := new(store.Device)
	var created, activated *int64
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &d.OPRFPublicKey, &d.SigningPublicKey, &d.KeyID, &d.State, &d.CheckBlinded, &created, &activated); err != nil {
		return nil, err
	}
	d.CheckBlinded = listArg(d.CheckBlinded)
	d.CreatedAt, d.ActivatedAt = timeCol(created), timeCol(activated)
	return d, nil
}

// CreateDevice implements store.Store.
func (s *Store) CreateDevice(ctx context.Context, d *store.Device) error {
	if err := store.CheckDevice(d); err != nil {
		return err
	}
	return s.exec(ctx, "create device",
		`INSERT INTO devices (`+deviceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		d.ID, d.UserID, d.Name, d.OPRFPublicKey, d.SigningPublicKey, d.KeyID, d.State,
		listArg(d.CheckBlinded), timeArg(d.CreatedAt), timeArg(d.ActivatedAt))
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	if err := store.CheckID("device id", ids.Device, id); err != nil {
		return nil, err
	}
	var d *store.Device
	err := s.get(ctx, "get device", func(r pgx.Row) (err error) { d, err = scanDevice(r); return err },
		`SELECT `+deviceColumns+` FROM devices WHERE id = $1`, id)
	return d, err
}

// ActivateDevice implements store.Store.
func (s *Store) ActivateDevice(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckIDAt("device id", ids.Device, id, now); err != nil {
		return err
	}
	const op = "activate device"
	var got string
	ok, err := s.update(ctx, op, `UPDATE devices SET state = 'active', activated_at = $2 WHERE id = $1 AND state = 'pending' RETURNING id`,
		[]any{id, timeArg(now)}, &got)
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
	return list(ctx, s, "active devices", scanDevice,
		`SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 AND state = 'active' ORDER BY created_at, id LIMIT $2`,
		userID, store.MaxLimit)
}

// CreateClient implements store.Store.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := store.CheckClient(c); err != nil {
		return err
	}
	return s.exec(ctx, "create client",
		`INSERT INTO clients (id, name, key_prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.Name, c.KeyPrefix, c.KeyHash, listArg(c.Scopes), timeArg(c.CreatedAt))
}

// ClientByPrefix implements store.Store.
func (s *Store) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	if err := store.CheckKeyPrefix(prefix); err != nil {
		return nil, err
	}
	c := new(store.Client)
	var created *int64
	err := s.get(ctx, "client by prefix", func(r pgx.Row) error {
		return r.Scan(&c.ID, &c.Name, &c.KeyPrefix, &c.KeyHash, &c.Scopes, &created)
	}, `SELECT id, name, key_prefix, key_hash, scopes, created_at FROM clients WHERE key_prefix = $1`, prefix)
	if err != nil {
		return nil, err
	}
	c.CreatedAt = timeCol(created)
	c.Scopes = listArg(c.Scopes)
	return c, nil
}
