package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// CreateRecord implements store.Store.
func (s *Store) CreateRecord(ctx context.Context, r *store.Record) error {
	if err := check.NewRecord(r); err != nil {
		return err
	}
	return s.insert(ctx, "create record", s.records, toRecordDoc(r))
}

// GetRecord implements store.Store.
func (s *Store) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	if err := check.RecordID("record id", id); err != nil {
		return nil, err
	}
	// Without the ciphertext a small record keeps: reads of a record are
	// many (long polls), and it can be 64 KiB.
	d := new(recordDoc)
	if err := s.get(ctx, "get record", s.records, bson.D{eq("_id", id)}, d,
		options.FindOne().SetProjection(withoutContent)); err != nil {
		return nil, err
	}
	return d.record(), nil
}

// StageRecord implements store.Store.
func (s *Store) StageRecord(ctx context.Context, id string, st store.Staging) error {
	if err := check.StageRecord(id, &st); err != nil {
		return err
	}
	fields := []bson.E{eq("state", store.RecordPendingApproval), eq("size", st.Size), eq("content_sha256", st.ContentSHA256),
		eq("blob_name", st.BlobName), eq("input", st.Input), eq("device_key_id", st.DeviceKeyID),
		eq("request_id", st.RequestID), eq("expires_at", st.ExpiresAt)}
	if st.Content != nil {
		// In the record's own document, so that staging stays one
		// single-document update (DESIGN.md "Storage").
		fields = append(fields, eq(contentField, st.Content))
	}
	return s.transition(ctx, "stage record", s.records, id, bson.D{eq("state", store.RecordAwaitingUpload)},
		set(fields...), nil, time.Time{}, store.RecordAwaitingUpload)
}

// contentField holds a small record's ciphertext (store.Staging.Content)
// in its document. recordDoc leaves it out, so that reading a record does
// not decode it.
const contentField = "content"

// withoutContent is the projection of the record reads that have no use
// for a kept ciphertext (up to store.MaxInlineContent a record) and can
// leave it out: GetRecord and the sweeper's lists (FerretDB refuses a
// projection on findOneAndUpdate, so transitions still return it).
var withoutContent = bson.D{eq(contentField, 0)}

// RecordContent implements store.Store.
func (s *Store) RecordContent(ctx context.Context, id string) ([]byte, error) {
	if err := check.RecordID("record id", id); err != nil {
		return nil, err
	}
	var d struct {
		Content []byte `bson:"content"`
	}
	if err := s.get(ctx, "record content", s.records,
		bson.D{eq("_id", id), eq(contentField, cmp("$exists", true))}, &d); err != nil {
		return nil, err
	}
	return d.Content, nil
}

// SealRecord implements store.Store.
func (s *Store) SealRecord(ctx context.Context, id string, seal store.Seal, now time.Time) error {
	if err := check.SealRecord(id, &seal, now); err != nil {
		return err
	}
	return s.transition(ctx, "seal record", s.records, id,
		bson.D{eq("state", store.RecordPendingApproval), eq("expires_at", cmp("$gt", now))},
		set(eq("state", store.RecordSealed), eq("wrapped_dek", seal.WrappedDEK),
			eq("approval", toApprovalDoc(&seal.Approval)), eq("sealed_at", seal.SealedAt)),
		nil, now, store.RecordPendingApproval)
}

// EndRecord implements store.Store.
func (s *Store) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	if err := check.EndRecord(id, to, now); err != nil {
		return err
	}
	from := []string{store.RecordAwaitingUpload, store.RecordPendingApproval}
	// The content goes in the same update as the state.
	update := append(set(eq("state", to)), eq("$unset", bson.D{eq(contentField, "")}))
	return s.transition(ctx, "end record", s.records, id, bson.D{eq("state", in(from...))},
		update, nil, time.Time{}, from...)
}

// RecordsToExpire implements store.Store. Each of the two kinds is read in
// deadline order from its index; the two lists are merged.
func (s *Store) RecordsToExpire(ctx context.Context, now, uploadDeadline time.Time, limit int) ([]*store.Record, error) {
	if err := check.RecordsToExpire(now, uploadDeadline, limit); err != nil {
		return nil, err
	}
	const op = "records to expire"
	pending, err := listProjected(ctx, s, op, s.records,
		bson.D{eq("state", store.RecordPendingApproval), eq("expires_at", cmp("$lte", now))},
		asc("expires_at"), withoutContent, limit, (*recordDoc).record)
	if err != nil {
		return nil, err
	}
	awaiting, err := listProjected(ctx, s, op, s.records,
		bson.D{eq("state", store.RecordAwaitingUpload), eq("created_at", cmp("$lt", uploadDeadline))},
		asc("created_at"), withoutContent, limit, (*recordDoc).record)
	if err != nil {
		return nil, err
	}
	return store.MergeRecordsToExpire(pending, awaiting, now, uploadDeadline, limit), nil
}

// CountRecords implements store.Store.
func (s *Store) CountRecords(ctx context.Context, userID string) (int, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return 0, err
	}
	return s.count(ctx, "count records", s.records, bson.D{eq("user_id", userID)})
}
