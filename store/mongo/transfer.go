package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// transferDoc is a transfer bundle, keyed by the new device's id (one per
// device).
type transferDoc struct {
	DeviceID  string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	RequestID string    `bson:"request_id"`
	SenderID  string    `bson:"sender_id"`
	Bundle    []byte    `bson:"bundle"`
	Statement []byte    `bson:"statement"`
	Signature []byte    `bson:"signature"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func (d *transferDoc) transfer() *store.Transfer {
	return &store.Transfer{DeviceID: d.DeviceID, UserID: d.UserID, RequestID: d.RequestID, SenderID: d.SenderID,
		Bundle: d.Bundle, Statement: d.Statement, Signature: d.Signature, ExpiresAt: utc(d.ExpiresAt)}
}

// ApproveTransfer implements store.Store without a multi-document
// transaction: the bundle's insert first (its _id refuses a second one),
// then the device's conditional update, the arbiter; if that fails the
// bundle is deleted again. A crash between the two leaves a bundle for a
// device still awaiting transfer, which nobody can take (the device's
// signed call finds it only once the device is pending) and the sweeper
// deletes at its expiry.
func (s *Store) ApproveTransfer(ctx context.Context, t *store.Transfer, now time.Time) error {
	if err := check.Transfer(t, now); err != nil {
		return err
	}
	const op = "approve transfer"
	c := s.db.Collection(collTransfers)
	doc := transferDoc{DeviceID: t.DeviceID, UserID: t.UserID, RequestID: t.RequestID, SenderID: t.SenderID,
		Bundle: t.Bundle, Statement: t.Statement, Signature: t.Signature, ExpiresAt: t.ExpiresAt}
	if err := s.insert(ctx, op, c, &doc); err != nil {
		return err
	}
	err := s.transition(ctx, op, s.devices, t.DeviceID, bson.D{eq("state", store.DeviceAwaitingTransfer)},
		set(eq("state", store.DevicePending), eq("state_at", now),
			eq("evidence.add_statement", t.Statement), eq("evidence.add_signature", t.Signature)),
		nil, time.Time{}, store.DeviceAwaitingTransfer)
	if err != nil {
		dctx, cancel := s.opContext(context.WithoutCancel(ctx))
		defer cancel()
		if _, derr := c.DeleteOne(dctx, bson.D{eq("_id", t.DeviceID)}); derr != nil {
			return errors.Join(err, fail(op, derr))
		}
	}
	return err
}

// TakeTransfer implements store.Store: one findOneAndDelete of an
// unexpired bundle, so that of racing callers one gets it.
func (s *Store) TakeTransfer(ctx context.Context, deviceID string, now time.Time) (*store.Transfer, error) {
	if err := check.IDAt("device id", ids.Device, deviceID, now); err != nil {
		return nil, err
	}
	const op = "take transfer"
	c := s.db.Collection(collTransfers)
	octx, cancel := s.opContext(ctx)
	defer cancel()
	var d transferDoc
	err := c.FindOneAndDelete(octx, bson.D{eq("_id", deviceID), eq("expires_at", cmp("$gt", now))}).Decode(&d)
	if err == nil {
		return d.transfer(), nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fail(op, err)
	}
	n, err := s.count(ctx, op, c, bson.D{eq("_id", deviceID)})
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, fmt.Errorf("mongo: %s: %w: the bundle of %s has expired", op, store.ErrExpired, deviceID)
	}
	return nil, fmt.Errorf("mongo: %s: %w: no bundle for %s", op, store.ErrNotFound, deviceID)
}

// DeleteExpiredTransfers implements store.Store: the expired ids, then one
// delete of those still expired.
func (s *Store) DeleteExpiredTransfers(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := check.ExpireTransfers(now, limit); err != nil {
		return 0, err
	}
	const op = "delete expired transfers"
	c := s.db.Collection(collTransfers)
	due := bson.D{eq("expires_at", cmp("$lte", now))}
	docs, err := list(ctx, s, op, c, due, asc("expires_at"), limit, func(d *transferDoc) string { return d.DeviceID })
	if err != nil || len(docs) == 0 {
		return 0, err
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	r, err := c.DeleteMany(octx, append(due, eq("_id", cmp("$in", docs))))
	if err != nil {
		return 0, fail(op, err)
	}
	return int(r.DeletedCount), nil
}
