package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := check.User(u); err != nil {
		return err
	}
	return s.exec(ctx, "create user",
		`INSERT INTO users (id, client_id, external_id, display_name, share_wrapped, share_version, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.ClientID, u.ExternalID, u.DisplayName, u.ShareWrapped, int64(u.ShareVersion), timeArg(u.CreatedAt))
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	if err := check.ID("user id", ids.User, id); err != nil {
		return nil, err
	}
	return s.getUser(ctx, "get user", `id = $1`, id)
}

// getUser reads the user matching where.
func (s *Store) getUser(ctx context.Context, op, where string, args ...any) (*store.User, error) {
	u := new(store.User)
	var version int64
	var created *int64
	var keyID *string
	err := s.get(ctx, op, func(r pgx.Row) error {
		return r.Scan(&u.ID, &u.ClientID, &u.ExternalID, &u.DisplayName, &u.ShareWrapped, &version, &created, &u.DevicePublicKey, &keyID)
	}, `SELECT id, client_id, external_id, display_name, share_wrapped, share_version, created_at, device_public_key, device_key_id
		FROM users WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	u.ShareVersion = uint32(version)
	u.DevicePublicKey, u.DeviceKeyID = bytesCol(u.DevicePublicKey), textCol(keyID)
	u.CreatedAt = timeCol(created)
	return u, nil
}

// UserByExternalID implements store.Store.
func (s *Store) UserByExternalID(ctx context.Context, clientID, externalID string) (*store.User, error) {
	if err := check.ID("client id", ids.Client, clientID); err != nil {
		return nil, err
	}
	if err := check.Text("external id", externalID, true); err != nil {
		return nil, err
	}
	return s.getUser(ctx, "user by external id", `client_id = $1 AND external_id = $2`, clientID, externalID)
}

// PinUserKey implements store.Store.
func (s *Store) PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error {
	if err := check.PinUserKey(userID, pkD, keyID); err != nil {
		return err
	}
	const op = "pin user key"
	var got string
	ok, err := s.update(ctx, op, `UPDATE users SET device_public_key = $2, device_key_id = $3 WHERE id = $1 AND device_key_id IS NULL RETURNING id`,
		[]any{userID, pkD, keyID}, &got)
	if err != nil || ok {
		return err
	}
	if err := s.get(ctx, op, func(r pgx.Row) error { return r.Scan(&got) }, `SELECT id FROM users WHERE id = $1`, userID); err != nil {
		return err
	}
	return fmt.Errorf("postgres: %s: %w: the user's device key is pinned already", op, store.ErrConflict)
}

// CreateEnrollment implements store.Store.
func (s *Store) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	if err := check.Enrollment(e); err != nil {
		return err
	}
	return s.exec(ctx, "create enrollment",
		`INSERT INTO enrollments (code_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		e.CodeHash, e.UserID, timeArg(e.ExpiresAt))
}

// UseEnrollment implements store.Store.
func (s *Store) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	if err := check.UseEnrollment(codeHash, now); err != nil {
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

const deviceColumns = `id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at,
	activated_at, state_at, enroll_signature, check_evaluated, check_proof, add_statement, add_signature, platform`

func scanDevice(r pgx.Row) (*store.Device, error) {
	d := new(store.Device)
	ev := &d.Evidence
	var created, activated, stateAt *int64
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &d.OPRFPublicKey, &d.SigningPublicKey, &d.KeyID, &d.State, &d.CheckBlinded, &created,
		&activated, &stateAt, &ev.EnrollSignature, &ev.EvaluatedElements, &ev.Proof, &ev.AddStatement, &ev.AddSignature, &d.Platform); err != nil {
		return nil, err
	}
	d.CheckBlinded, ev.EvaluatedElements = listArg(d.CheckBlinded), listArg(ev.EvaluatedElements)
	ev.EnrollSignature, ev.Proof = bytesCol(ev.EnrollSignature), bytesCol(ev.Proof)
	ev.AddStatement, ev.AddSignature = bytesCol(ev.AddStatement), bytesCol(ev.AddSignature)
	d.CreatedAt, d.ActivatedAt, d.StateAt = timeCol(created), timeCol(activated), timeCol(stateAt)
	return d, nil
}

// CreateDevice implements store.Store.
func (s *Store) CreateDevice(ctx context.Context, d *store.Device) error {
	if err := check.Device(d); err != nil {
		return err
	}
	return s.exec(ctx, "create device",
		`INSERT INTO devices (id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at,
			activated_at, state_at, platform) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		d.ID, d.UserID, d.Name, d.OPRFPublicKey, d.SigningPublicKey, d.KeyID, d.State,
		listArg(d.CheckBlinded), timeArg(d.CreatedAt), timeArg(d.ActivatedAt), timeArg(d.StateAt), d.Platform)
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	if err := check.ID("device id", ids.Device, id); err != nil {
		return nil, err
	}
	var d *store.Device
	err := s.get(ctx, "get device", func(r pgx.Row) (err error) { d, err = scanDevice(r); return err },
		`SELECT `+deviceColumns+` FROM devices WHERE id = $1`, id)
	return d, err
}

// ConfirmDevice implements store.Store.
func (s *Store) ConfirmDevice(ctx context.Context, id, to string, ev store.DeviceEvidence, now time.Time) error {
	if err := check.ConfirmDevice(id, to, &ev, now); err != nil {
		return err
	}
	var activated *int64
	if to == store.DeviceActive {
		activated = timeArg(now)
	}
	const op = "confirm device"
	var got string
	ok, err := s.update(ctx, op,
		`UPDATE devices SET state = $2, state_at = $3, activated_at = $4, enroll_signature = $5, check_evaluated = $6,
			check_proof = $7, add_statement = $8, add_signature = $9
		WHERE id = $1 AND state = 'pending' RETURNING id`,
		[]any{id, to, timeArg(now), activated, ev.EnrollSignature, listArg(ev.EvaluatedElements), ev.Proof,
			bytesArg(ev.AddStatement), bytesArg(ev.AddSignature)}, &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "devices", id, time.Time{}, store.DevicePending)
}

// SetDeviceState implements store.Store. The state it starts from is a
// parameter here (the transitions are a table, not one per statement); the
// devices table has no partial index on state for a generic plan to miss.
func (s *Store) SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error {
	if err := check.SetDeviceState(id, from, to, now); err != nil {
		return err
	}
	var activated *int64
	if from == store.DeviceRecoveryPending && to == store.DeviceActive {
		activated = timeArg(now)
	}
	const op = "set device state"
	var got string
	ok, err := s.update(ctx, op,
		`UPDATE devices SET state = $3, state_at = $4, activated_at = coalesce(activated_at, $5) WHERE id = $1 AND state = $2
		RETURNING id`, []any{id, from, to, timeArg(now), activated}, &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "devices", id, time.Time{}, from)
}

// ActiveDevices implements store.Store.
func (s *Store) ActiveDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	return s.devices(ctx, "active devices", userID, `AND state = 'active'`)
}

// UserDevices implements store.Store.
func (s *Store) UserDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	return s.devices(ctx, "user devices", userID, "")
}

// devices lists the user's devices that match the SQL condition cond (a
// constant of this package), oldest first.
func (s *Store) devices(ctx context.Context, op, userID, cond string) ([]*store.Device, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return nil, err
	}
	return list(ctx, s, op, scanDevice,
		`SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 `+cond+` ORDER BY created_at, id LIMIT $2`, userID, store.MaxLimit)
}

// CreateClient implements store.Store.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := check.Client(c); err != nil {
		return err
	}
	return s.exec(ctx, "create client",
		`INSERT INTO clients (id, name, key_prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.Name, c.KeyPrefix, c.KeyHash, listArg(c.Scopes), timeArg(c.CreatedAt))
}

// ClientByPrefix implements store.Store.
func (s *Store) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	if err := check.KeyPrefix(prefix); err != nil {
		return nil, err
	}
	var c *store.Client
	err := s.get(ctx, "client by prefix", func(r pgx.Row) (err error) { c, err = scanClient(r); return err },
		`SELECT `+clientColumns+` FROM clients WHERE key_prefix = $1`, prefix)
	return c, err
}

const clientColumns = `id, name, key_prefix, key_hash, scopes, created_at`

func scanClient(r pgx.Row) (*store.Client, error) {
	c := new(store.Client)
	var created *int64
	if err := r.Scan(&c.ID, &c.Name, &c.KeyPrefix, &c.KeyHash, &c.Scopes, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = timeCol(created)
	c.Scopes = listArg(c.Scopes)
	return c, nil
}

// Clients implements store.Store.
func (s *Store) Clients(ctx context.Context, limit int) ([]*store.Client, error) {
	if err := check.Limit(limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "clients", scanClient, `SELECT `+clientColumns+` FROM clients ORDER BY created_at, id LIMIT $1`, limit)
}

// DeleteClient implements store.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := check.ID("client id", ids.Client, id); err != nil {
		return err
	}
	var got string
	ok, err := s.update(ctx, "delete client", `DELETE FROM clients WHERE id = $1 RETURNING id`, []any{id}, &got)
	if err == nil && !ok {
		err = fmt.Errorf("postgres: delete client: %w", store.ErrNotFound)
	}
	return err
}
