package mongo

import (
	"context"
	"encoding/hex"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// settingMasterKeyID is the _id of the master key id's document in the
// settings collection.
const settingMasterKeyID = "master_key_id"

type settingDoc struct {
	ID    string `bson:"_id"`
	Value string `bson:"value"`
}

// GetEnrollment implements store.Store.
func (s *Store) GetEnrollment(ctx context.Context, codeHash []byte) (*store.Enrollment, error) {
	if err := check.GetEnrollment(codeHash); err != nil {
		return nil, err
	}
	var d enrollmentDoc
	if err := s.get(ctx, "get enrollment", s.enrollments, bson.D{eq("_id", hex.EncodeToString(codeHash))}, &d); err != nil {
		return nil, err
	}
	e := &store.Enrollment{CodeHash: append([]byte(nil), codeHash...), UserID: d.UserID, ExpiresAt: utc(d.ExpiresAt)}
	if d.State == enrollmentUsed {
		e.UsedAt = utc(d.UsedAt)
	}
	return e, nil
}

// PinMasterKeyID implements store.Store: one upsert that writes the value
// only on insert ($setOnInsert) and returns the document as it is after.
// Two first upserts racing on the same _id: one inserts, the other gets a
// duplicate key error and reads the winner's value.
func (s *Store) PinMasterKeyID(ctx context.Context, keyID string) (string, error) {
	if err := check.PinMasterKeyID(keyID); err != nil {
		return "", err
	}
	const op = "pin master key id"
	c := s.db.Collection(collSettings)
	var d settingDoc
	octx, cancel := s.opContext(ctx)
	err := c.FindOneAndUpdate(octx, bson.D{eq("_id", settingMasterKeyID)},
		bson.D{{Key: "$setOnInsert", Value: bson.D{eq("value", keyID)}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
	cancel()
	switch {
	case mongo.IsDuplicateKeyError(err):
		if err := s.get(ctx, op, c, bson.D{eq("_id", settingMasterKeyID)}, &d); err != nil {
			return "", err
		}
	case err != nil:
		return "", fail(op, err)
	}
	if d.Value == "" {
		return "", fmt.Errorf("mongo: %s: %w: empty master key id stored", op, store.ErrUnavailable)
	}
	return d.Value, nil
}
