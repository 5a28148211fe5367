package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

const recordColumns = `id, user_id, client_id, title, content_type, purpose, state, created_at,
	size, content_sha256, blob_name, input, device_key_id, request_id, expires_at,
	wrapped_dek, approval_device_id, approval_statement, approval_signature, sealed_at, approval_evaluated, approval_proof`

func scanRecord(r scanner) (*store.Record, error) {
	x := new(store.Record)
	var created, expires, sealed, size sql.NullInt64
	var blob, keyID, request, device, evaluated sql.NullString
	if err := r.Scan(&x.ID, &x.UserID, &x.ClientID, &x.Title, &x.ContentType, &x.Purpose, &x.State, &created,
		&size, &x.ContentSHA256, &blob, &x.Input, &keyID, &request, &expires,
		&x.WrappedDEK, &device, &x.Approval.Statement, &x.Approval.Signature, &sealed, &evaluated, &x.Approval.Proof); err != nil {
		return nil, err
	}
	var err error
	if x.Approval.EvaluatedElements, err = listCol[[]byte](evaluated); err != nil {
		return nil, err
	}
	x.Approval.Proof = bytesCol(x.Approval.Proof)
	x.CreatedAt, x.ExpiresAt, x.SealedAt = timeCol(created), timeCol(expires), timeCol(sealed)
	x.Size = size.Int64
	x.BlobName, x.DeviceKeyID, x.RequestID, x.Approval.DeviceID = blob.String, keyID.String, request.String, device.String
	x.ContentSHA256, x.Input, x.WrappedDEK = bytesCol(x.ContentSHA256), bytesCol(x.Input), bytesCol(x.WrappedDEK)
	x.Approval.Statement, x.Approval.Signature = bytesCol(x.Approval.Statement), bytesCol(x.Approval.Signature)
	return x, nil
}

// CreateRecord implements store.Store.
func (s *Store) CreateRecord(ctx context.Context, r *store.Record) error {
	if err := check.NewRecord(r); err != nil {
		return err
	}
	return s.write(ctx, "create record", func(ctx context.Context, c *wconn) error { return insertRecord(ctx, c, r) })
}

func insertRecord(ctx context.Context, c *wconn, r *store.Record) error {
	_, err := c.exec(ctx,
		`INSERT INTO records (id, user_id, client_id, title, content_type, purpose, state, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'awaiting_upload', ?)`,
		r.ID, r.UserID, r.ClientID, r.Title, r.ContentType, r.Purpose, timeArg(r.CreatedAt))
	return err
}

// GetRecord implements store.Store.
func (s *Store) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	if err := check.RecordID("record id", id); err != nil {
		return nil, err
	}
	var x *store.Record
	err := s.get(ctx, "get record", func(r scanner) (err error) { x, err = scanRecord(r); return err },
		`SELECT `+recordColumns+` FROM records WHERE id = ?`, id)
	return x, err
}

// StageRecord implements store.Store.
func (s *Store) StageRecord(ctx context.Context, id string, st store.Staging) error {
	if err := check.StageRecord(id, &st); err != nil {
		return err
	}
	const op = "stage record"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error { return stageRecord(ctx, c, id, &st) })
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "records", id, time.Time{}, store.RecordAwaitingUpload)
}

// stageRecord is StageRecord's update (and the insert of its content, if
// it brings it): errUnchanged if it changed nothing.
func stageRecord(ctx context.Context, c *wconn, id string, st *store.Staging) error {
	err := changed(c.exec(ctx,
		`UPDATE records SET state = 'pending_approval', size = ?, content_sha256 = ?, blob_name = ?, input = ?,
			device_key_id = ?, request_id = ?, expires_at = ?
		WHERE id = ? AND state = 'awaiting_upload'`,
		st.Size, st.ContentSHA256, sql.NullString{String: st.BlobName, Valid: st.BlobName != ""}, st.Input,
		st.DeviceKeyID, st.RequestID, timeArg(st.ExpiresAt), id))
	if err != nil || st.Content == nil {
		return err
	}
	// A row left by an earlier life of the record cannot exist: EndRecord
	// deletes it, and a record is staged once.
	_, err = c.exec(ctx, `INSERT INTO record_contents (record_id, content) VALUES (?, ?)`, id, st.Content)
	return err
}

// SealRecord implements store.Store.
func (s *Store) SealRecord(ctx context.Context, id string, seal store.Seal, now time.Time) error {
	if err := check.SealRecord(id, &seal, now); err != nil {
		return err
	}
	const op = "seal record"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error { return sealRecord(ctx, c, id, &seal, now) })
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "records", id, now, store.RecordPendingApproval)
}

// sealRecord is SealRecord's update: errUnchanged if it changed nothing.
func sealRecord(ctx context.Context, c *wconn, id string, seal *store.Seal, now time.Time) error {
	return changed(c.exec(ctx,
		`UPDATE records SET state = 'sealed', wrapped_dek = ?, approval_device_id = ?, approval_statement = ?,
			approval_signature = ?, sealed_at = ?, approval_evaluated = ?, approval_proof = ?
		WHERE id = ? AND state = 'pending_approval' AND expires_at > ?`,
		seal.WrappedDEK, seal.Approval.DeviceID, seal.Approval.Statement, seal.Approval.Signature, timeArg(seal.SealedAt),
		listArg(seal.Approval.EvaluatedElements), bytesArg(seal.Approval.Proof),
		id, timeArg(now)))
}

// EndRecord implements store.Store.
func (s *Store) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	if err := check.EndRecord(id, to, now); err != nil {
		return err
	}
	const op = "end record"
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		err := changed(c.exec(ctx,
			`UPDATE records SET state = ? WHERE id = ? AND state IN ('awaiting_upload', 'pending_approval')`, to, id))
		if err != nil {
			return err
		}
		_, err = c.exec(ctx, `DELETE FROM record_contents WHERE record_id = ?`, id)
		return err
	})
	if !errors.Is(err, errUnchanged) {
		return err
	}
	return s.whyNot(ctx, op, "records", id, time.Time{}, store.RecordAwaitingUpload, store.RecordPendingApproval)
}

// RecordContent implements store.Store.
func (s *Store) RecordContent(ctx context.Context, id string) ([]byte, error) {
	if err := check.RecordID("record id", id); err != nil {
		return nil, err
	}
	var b []byte
	err := s.get(ctx, "record content", func(r scanner) error { return r.Scan(&b) },
		`SELECT content FROM record_contents WHERE record_id = ?`, id)
	return b, err
}

// RecordsToExpire implements store.Store. Each of the two kinds is read in
// deadline order from its partial index; the two lists are merged.
func (s *Store) RecordsToExpire(ctx context.Context, now, uploadDeadline time.Time, limit int) ([]*store.Record, error) {
	if err := check.RecordsToExpire(now, uploadDeadline, limit); err != nil {
		return nil, err
	}
	const op = "records to expire"
	pending, err := s.records(ctx, op,
		`SELECT `+recordColumns+` FROM records WHERE state = 'pending_approval' AND expires_at <= ?
		ORDER BY expires_at, rowid LIMIT ?`, timeArg(now), limit)
	if err != nil {
		return nil, err
	}
	awaiting, err := s.records(ctx, op,
		`SELECT `+recordColumns+` FROM records WHERE state = 'awaiting_upload' AND created_at < ?
		ORDER BY created_at, rowid LIMIT ?`, timeArg(uploadDeadline), limit)
	if err != nil {
		return nil, err
	}
	return store.MergeRecordsToExpire(pending, awaiting, now, uploadDeadline, limit), nil
}

func (s *Store) records(ctx context.Context, op, query string, args ...any) ([]*store.Record, error) {
	var out []*store.Record
	err := s.list(ctx, op, func(r scanner) error {
		x, err := scanRecord(r)
		out = append(out, x)
		return err
	}, query, args...)
	return out, err
}

// CountRecords implements store.Store.
func (s *Store) CountRecords(ctx context.Context, userID string) (int, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return 0, err
	}
	var n int
	err := s.get(ctx, "count records", func(r scanner) error { return r.Scan(&n) },
		`SELECT count(*) FROM records WHERE user_id = ?`, userID)
	return n, err
}
