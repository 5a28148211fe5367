package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.ClientID, u.ExternalID, u.DisplayName, u.ShareWrapped, int64(u.ShareVersion), timeArg(u.CreatedAt))
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	if err := check.ID("user id", ids.User, id); err != nil {
		return nil, err
	}
	return s.getUser(ctx, "get user", `id = ?`, id)
}

// getUser reads the user matching where.
func (s *Store) getUser(ctx context.Context, op, where string, args ...any) (*store.User, error) {
	u := new(store.User)
	var version int64
	var created sql.NullInt64
	var keyID sql.NullString
	err := s.get(ctx, op, func(r scanner) error {
		return r.Scan(&u.ID, &u.ClientID, &u.ExternalID, &u.DisplayName, &u.ShareWrapped, &version, &created, &u.DevicePublicKey, &keyID)
	}, `SELECT id, client_id, external_id, display_name, share_wrapped, share_version, created_at, device_public_key, device_key_id
		FROM users WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	u.ShareVersion = uint32(version)
	u.DevicePublicKey, u.DeviceKeyID = bytesCol(u.DevicePublicKey), keyID.String
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
	return s.getUser(ctx, "user by external id", `client_id = ? AND external_id = ?`, clientID, externalID)
}

// CreateEnrollment implements store.Store.
func (s *Store) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	if err := check.Enrollment(e); err != nil {
		return err
	}
	return s.exec(ctx, "create enrollment",
		`INSERT INTO enrollments (code_hash, user_id, expires_at) VALUES (?, ?, ?)`,
		e.CodeHash, e.UserID, timeArg(e.ExpiresAt))
}

// UseEnrollment implements store.Store.
func (s *Store) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	if err := check.UseEnrollment(codeHash, now); err != nil {
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

const deviceColumns = `id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at,
	activated_at, state_at, enroll_signature, check_evaluated, check_proof, add_statement, add_signature, platform`

func scanDevice(r scanner) (*store.Device, error) {
	d := new(store.Device)
	ev := &d.Evidence
	var blinded, evaluated sql.NullString
	var created, activated, stateAt sql.NullInt64
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &d.OPRFPublicKey, &d.SigningPublicKey, &d.KeyID, &d.State, &blinded, &created,
		&activated, &stateAt, &ev.EnrollSignature, &evaluated, &ev.Proof, &ev.AddStatement, &ev.AddSignature, &d.Platform); err != nil {
		return nil, err
	}
	var err error
	if d.CheckBlinded, err = listCol[[]byte](blinded); err != nil {
		return nil, err
	}
	if ev.EvaluatedElements, err = listCol[[]byte](evaluated); err != nil {
		return nil, err
	}
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
			activated_at, state_at, platform) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Name, d.OPRFPublicKey, d.SigningPublicKey, d.KeyID, d.State,
		listArg(d.CheckBlinded), timeArg(d.CreatedAt), timeArg(d.ActivatedAt), timeArg(d.StateAt), d.Platform)
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	if err := check.ID("device id", ids.Device, id); err != nil {
		return nil, err
	}
	var d *store.Device
	err := s.get(ctx, "get device", func(r scanner) (err error) { d, err = scanDevice(r); return err },
		`SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id)
	return d, err
}

// ConfirmDevice implements store.Store.
func (s *Store) ConfirmDevice(ctx context.Context, id, to string, ev store.DeviceEvidence, now time.Time) error {
	if err := check.ConfirmDevice(id, to, &ev, now); err != nil {
		return err
	}
	var activated any
	if to == store.DeviceActive {
		activated = timeArg(now)
	}
	const op = "confirm device"
	ok, err := s.update(ctx, op,
		`UPDATE devices SET state = ?, state_at = ?, activated_at = ?, enroll_signature = ?, check_evaluated = ?,
			check_proof = ?, add_statement = ?, add_signature = ?
		WHERE id = ? AND state = 'pending'`,
		to, timeArg(now), activated, ev.EnrollSignature, listArg(ev.EvaluatedElements), ev.Proof,
		bytesArg(ev.AddStatement), bytesArg(ev.AddSignature), id)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "devices", id, time.Time{}, store.DevicePending)
}

// SetDeviceState implements store.Store.
func (s *Store) SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error {
	if err := check.SetDeviceState(id, from, to, now); err != nil {
		return err
	}
	var activated any
	if from == store.DeviceRecoveryPending && to == store.DeviceActive {
		activated = timeArg(now)
	}
	const op = "set device state"
	ok, err := s.update(ctx, op,
		`UPDATE devices SET state = ?, state_at = ?, activated_at = coalesce(activated_at, ?) WHERE id = ? AND state = ?`,
		to, timeArg(now), activated, id, from)
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
	var out []*store.Device
	err := s.list(ctx, op, func(r scanner) error {
		d, err := scanDevice(r)
		out = append(out, d)
		return err
	}, `SELECT `+deviceColumns+` FROM devices WHERE user_id = ? `+cond+` ORDER BY created_at, rowid LIMIT ?`, userID, store.MaxLimit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PinUserKey implements store.Store.
func (s *Store) PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error {
	if err := check.PinUserKey(userID, pkD, keyID); err != nil {
		return err
	}
	const op = "pin user key"
	ok, err := s.update(ctx, op, `UPDATE users SET device_public_key = ?, device_key_id = ? WHERE id = ? AND device_key_id IS NULL`,
		pkD, keyID, userID)
	if err != nil || ok {
		return err
	}
	var pinned sql.NullString
	if err := s.get(ctx, op, func(r scanner) error { return r.Scan(&pinned) }, `SELECT device_key_id FROM users WHERE id = ?`, userID); err != nil {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w: the user's device key is pinned already", op, store.ErrConflict)
}

// CreateClient implements store.Store.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := check.Client(c); err != nil {
		return err
	}
	return s.exec(ctx, "create client",
		`INSERT INTO clients (id, name, key_prefix, key_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.KeyPrefix, c.KeyHash, listArg(c.Scopes), timeArg(c.CreatedAt))
}

// ClientByPrefix implements store.Store.
func (s *Store) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	if err := check.KeyPrefix(prefix); err != nil {
		return nil, err
	}
	var c *store.Client
	err := s.get(ctx, "client by prefix", func(r scanner) (err error) {
		c, err = scanClient(r)
		return err
	}, `SELECT `+clientColumns+` FROM clients WHERE key_prefix = ?`, prefix)
	if err != nil {
		return nil, err
	}
	return c, nil
}

const clientColumns = `id, name, key_prefix, key_hash, scopes, created_at`

func scanClient(r scanner) (*store.Client, error) {
	c := new(store.Client)
	var scopes sql.NullString
	var created sql.NullInt64
	if err := r.Scan(&c.ID, &c.Name, &c.KeyPrefix, &c.KeyHash, &scopes, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = timeCol(created)
	var err error
	if c.Scopes, err = listCol[string](scopes); err != nil {
		return nil, err
	}
	return c, nil
}

// Clients implements store.Store.
func (s *Store) Clients(ctx context.Context, limit int) ([]*store.Client, error) {
	if err := check.Limit(limit); err != nil {
		return nil, err
	}
	var out []*store.Client
	err := s.list(ctx, "clients", func(r scanner) error {
		c, err := scanClient(r)
		out = append(out, c)
		return err
	}, `SELECT `+clientColumns+` FROM clients ORDER BY created_at, rowid LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteClient implements store.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := check.ID("client id", ids.Client, id); err != nil {
		return err
	}
	ok, err := s.update(ctx, "delete client", `DELETE FROM clients WHERE id = ?`, id)
	if err == nil && !ok {
		err = fmt.Errorf("sqlite: delete client: %w", store.ErrNotFound)
	}
	return err
}
