package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

const recordColumns = `id, user_id, client_id, title, content_type, purpose, state, created_at,
	size, content_sha256, blob_name, input, device_key_id, request_id, expires_at,
	wrapped_dek, approval_device_id, approval_statement, approval_signature, sealed_at, approval_evaluated, approval_proof`

func scanRecord(r pgx.Row) (*store.Record, error) {
	x := new(store.Record)
	var created, expires, sealed, size *int64
	var blob, keyID, request, device *string
	if err := r.Scan(&x.ID, &x.UserID, &x.ClientID, &x.Title, &x.ContentType, &x.Purpose, &x.State, &created,
		&size, &x.ContentSHA256, &blob, &x.Input, &keyID, &request, &expires,
		&x.WrappedDEK, &device, &x.Approval.Statement, &x.Approval.Signature, &sealed, &x.Approval.EvaluatedElements, &x.Approval.Proof); err != nil {
		return nil, err
	}
	x.CreatedAt, x.ExpiresAt, x.SealedAt = timeCol(created), timeCol(expires), timeCol(sealed)
	if size != nil {
		x.Size = *size
	}
	x.BlobName, x.DeviceKeyID, x.RequestID, x.Approval.DeviceID = textCol(blob), textCol(keyID), textCol(request), textCol(device)
	x.ContentSHA256, x.Input, x.WrappedDEK = bytesCol(x.ContentSHA256), bytesCol(x.Input), bytesCol(x.WrappedDEK)
	x.Approval.Statement, x.Approval.Signature = bytesCol(x.Approval.Statement), bytesCol(x.Approval.Signature)
	x.Approval.EvaluatedElements, x.Approval.Proof = listArg(x.Approval.EvaluatedElements), bytesCol(x.Approval.Proof)
	return x, nil
}

// CreateRecord implements store.Store.
func (s *Store) CreateRecord(ctx context.Context, r *store.Record) error {
	if err := check.NewRecord(r); err != nil {
		return err
	}
	return s.exec(ctx, "create record", insertRecord, insertRecordArgs(r)...)
}

const insertRecord = `INSERT INTO records (id, user_id, client_id, title, content_type, purpose, state, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, 'awaiting_upload', $7)`

func insertRecordArgs(r *store.Record) []any {
	return []any{r.ID, r.UserID, r.ClientID, r.Title, r.ContentType, r.Purpose, timeArg(r.CreatedAt)}
}

// GetRecord implements store.Store.
func (s *Store) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	if err := check.RecordID("record id", id); err != nil {
		return nil, err
	}
	var x *store.Record
	err := s.get(ctx, "get record", func(r pgx.Row) (err error) { x, err = scanRecord(r); return err },
		`SELECT `+recordColumns+` FROM records WHERE id = $1`, id)
	return x, err
}

// StageRecord implements store.Store.
func (s *Store) StageRecord(ctx context.Context, id string, st store.Staging) error {
	if err := check.StageRecord(id, &st); err != nil {
		return err
	}
	const op = "stage record"
	var got string
	query, args := stageRecord(id, &st)
	ok, err := s.update(ctx, op, query, args, &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "records", id, time.Time{}, store.RecordAwaitingUpload)
}

const stageRecordUpdate = `UPDATE records SET state = 'pending_approval', size = $2, content_sha256 = $3, blob_name = $4, input = $5,
		device_key_id = $6, request_id = $7, expires_at = $8
	WHERE id = $1 AND state = 'awaiting_upload' RETURNING id`

// stageRecordContent stages a record and inserts its content in one
// statement, so that the content exists exactly when the staging does.
const stageRecordContent = `WITH staged AS (` + stageRecordUpdate + `),
	content AS (INSERT INTO record_contents (record_id, content) SELECT id, $9 FROM staged)
	SELECT id FROM staged`

// stageRecord is StageRecord's statement and arguments: it returns the id
// if it staged the record, no row otherwise.
func stageRecord(id string, st *store.Staging) (string, []any) {
	args := []any{id, st.Size, st.ContentSHA256, st.BlobName, st.Input, st.DeviceKeyID, st.RequestID, timeArg(st.ExpiresAt)}
	if st.Content == nil {
		return stageRecordUpdate, args
	}
	return stageRecordContent, append(args, st.Content)
}

// SealRecord implements store.Store.
func (s *Store) SealRecord(ctx context.Context, id string, seal store.Seal, now time.Time) error {
	if err := check.SealRecord(id, &seal, now); err != nil {
		return err
	}
	const op = "seal record"
	var got string
	ok, err := s.update(ctx, op, sealRecord, sealRecordArgs(id, &seal, now), &got)
	if err != nil || ok {
		return err
	}
	return s.whyNot(ctx, op, "records", id, now, store.RecordPendingApproval)
}

const sealRecord = `UPDATE records SET state = 'sealed', wrapped_dek = $3, approval_device_id = $4, approval_statement = $5,
		approval_signature = $6, sealed_at = $7, approval_evaluated = $8, approval_proof = $9
	WHERE id = $1 AND state = 'pending_approval' AND expires_at > $2 RETURNING id`

func sealRecordArgs(id string, seal *store.Seal, now time.Time) []any {
	return []any{id, timeArg(now), seal.WrappedDEK, seal.Approval.DeviceID, seal.Approval.Statement, seal.Approval.Signature,
		timeArg(seal.SealedAt), listArg(seal.Approval.EvaluatedElements), bytesArg(seal.Approval.Proof)}
}

// EndRecord implements store.Store.
func (s *Store) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	if err := check.EndRecord(id, to, now); err != nil {
		return err
	}
	const op = "end record"
	var got string
	// One statement ends the record and deletes its content.
	ok, err := s.update(ctx, op,
		`WITH ended AS (UPDATE records SET state = $2 WHERE id = $1 AND state IN ('awaiting_upload', 'pending_approval') RETURNING id),
			content AS (DELETE FROM record_contents WHERE record_id IN (SELECT id FROM ended))
		SELECT id FROM ended`,
		[]any{id, to}, &got)
	if err != nil || ok {
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
	err := s.get(ctx, "record content", func(r pgx.Row) error { return r.Scan(&b) },
		`SELECT content FROM record_contents WHERE record_id = $1`, id)
	return b, err
}

// RecordsToExpire implements store.Store. Each of the two kinds is read in
// deadline order from its partial index; the two lists are merged.
func (s *Store) RecordsToExpire(ctx context.Context, now, uploadDeadline time.Time, limit int) ([]*store.Record, error) {
	if err := check.RecordsToExpire(now, uploadDeadline, limit); err != nil {
		return nil, err
	}
	const op = "records to expire"
	pending, err := list(ctx, s, op, scanRecord,
		`SELECT `+recordColumns+` FROM records WHERE state = 'pending_approval' AND expires_at <= $1
		ORDER BY expires_at, id LIMIT $2`, timeArg(now), limit)
	if err != nil {
		return nil, err
	}
	awaiting, err := list(ctx, s, op, scanRecord,
		`SELECT `+recordColumns+` FROM records WHERE state = 'awaiting_upload' AND created_at < $1
		ORDER BY created_at, id LIMIT $2`, timeArg(uploadDeadline), limit)
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
	var n int
	err := s.get(ctx, "count records", func(r pgx.Row) error { return r.Scan(&n) },
		`SELECT count(*) FROM records WHERE user_id = $1`, userID)
	return n, err
}
