package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// PutPushSubscription implements store.Store: one upsert on the device id
// that changes nothing when the row is already p; the unique endpoint
// column refuses another device's endpoint.
func (s *Store) PutPushSubscription(ctx context.Context, p *store.PushSubscription) (bool, error) {
	if err := check.PushSubscription(p); err != nil {
		return false, err
	}
	var id string
	return s.update(ctx, "put push subscription",
		`INSERT INTO push_subscriptions AS p (device_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4)
		ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth
		WHERE p.endpoint <> excluded.endpoint OR p.p256dh <> excluded.p256dh OR p.auth <> excluded.auth
		RETURNING p.device_id`,
		[]any{p.DeviceID, p.Endpoint, p.P256dh, p.Auth}, &id)
}

// PushSubscriptions implements store.Store.
func (s *Store) PushSubscriptions(ctx context.Context, userID string) ([]*store.PushSubscription, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return nil, err
	}
	return list(ctx, s, "push subscriptions", func(r pgx.Row) (*store.PushSubscription, error) {
		p := new(store.PushSubscription)
		return p, r.Scan(&p.DeviceID, &p.Endpoint, &p.P256dh, &p.Auth)
	}, `SELECT p.device_id, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p JOIN devices d ON d.id = p.device_id
		WHERE d.user_id = $1 AND d.state = 'active' ORDER BY d.created_at, d.id LIMIT $2`, userID, store.MaxLimit)
}

// DeletePushSubscription implements store.Store.
func (s *Store) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	if err := check.ID("device id", ids.Device, deviceID); err != nil {
		return err
	}
	if err := check.PushEndpoint(endpoint); err != nil {
		return err
	}
	var id string
	ok, err := s.update(ctx, "delete push subscription",
		`DELETE FROM push_subscriptions WHERE device_id = $1 AND endpoint = $2 RETURNING device_id`,
		[]any{deviceID, endpoint}, &id)
	if err == nil && !ok {
		err = fmt.Errorf("postgres: delete push subscription: %w", store.ErrNotFound)
	}
	return err
}
