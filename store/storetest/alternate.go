package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/assent-dev/assent/store"
)

// Alternate returns a Store that sends each call to the next of stores in
// turn. Given several handles on the same data (two processes' view of one
// database), running the suite on it checks every contract across handles:
// what one handle writes, another reads, and racers on different handles
// still have exactly one winner. Close closes them all.
func Alternate(stores ...store.Store) store.Store {
	return &alternate{rotation[store.Store]{stores: stores}}
}

// rotation hands out its stores in turn.
type rotation[T any] struct {
	stores []T
	n      atomic.Uint64
}

func (r *rotation[T]) next() T {
	if len(r.stores) == 0 {
		panic("storetest: Alternate of no stores")
	}
	return r.stores[(r.n.Add(1)-1)%uint64(len(r.stores))]
}

type alternate struct{ rotation[store.Store] }

func (a *alternate) CreateUser(ctx context.Context, u *store.User) error {
	return a.next().CreateUser(ctx, u)
}

func (a *alternate) GetUser(ctx context.Context, id string) (*store.User, error) {
	return a.next().GetUser(ctx, id)
}

func (a *alternate) UserByExternalID(ctx context.Context, clientID, externalID string) (*store.User, error) {
	return a.next().UserByExternalID(ctx, clientID, externalID)
}

func (a *alternate) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	return a.next().CreateEnrollment(ctx, e)
}

func (a *alternate) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	return a.next().UseEnrollment(ctx, codeHash, now)
}

func (a *alternate) GetEnrollment(ctx context.Context, codeHash []byte) (*store.Enrollment, error) {
	return a.next().GetEnrollment(ctx, codeHash)
}

func (a *alternate) PinMasterKeyID(ctx context.Context, keyID string) (string, error) {
	return a.next().PinMasterKeyID(ctx, keyID)
}

func (a *alternate) CreateDevice(ctx context.Context, d *store.Device) error {
	return a.next().CreateDevice(ctx, d)
}

func (a *alternate) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	return a.next().GetDevice(ctx, id)
}

func (a *alternate) ConfirmDevice(ctx context.Context, id, to string, ev store.DeviceEvidence, now time.Time) error {
	return a.next().ConfirmDevice(ctx, id, to, ev, now)
}

func (a *alternate) SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error {
	return a.next().SetDeviceState(ctx, id, from, to, now)
}

func (a *alternate) UserDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	return a.next().UserDevices(ctx, userID)
}

func (a *alternate) PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error {
	return a.next().PinUserKey(ctx, userID, pkD, keyID)
}

func (a *alternate) ActiveDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	return a.next().ActiveDevices(ctx, userID)
}

func (a *alternate) CreateClient(ctx context.Context, c *store.Client) error {
	return a.next().CreateClient(ctx, c)
}

func (a *alternate) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	return a.next().ClientByPrefix(ctx, prefix)
}

func (a *alternate) Clients(ctx context.Context, limit int) ([]*store.Client, error) {
	return a.next().Clients(ctx, limit)
}

func (a *alternate) DeleteClient(ctx context.Context, id string) error {
	return a.next().DeleteClient(ctx, id)
}

func (a *alternate) CreateRecord(ctx context.Context, r *store.Record) error {
	return a.next().CreateRecord(ctx, r)
}

func (a *alternate) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	return a.next().GetRecord(ctx, id)
}

func (a *alternate) StageRecord(ctx context.Context, id string, s store.Staging) error {
	return a.next().StageRecord(ctx, id, s)
}

func (a *alternate) SealRecord(ctx context.Context, id string, s store.Seal, now time.Time) error {
	return a.next().SealRecord(ctx, id, s, now)
}

func (a *alternate) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	return a.next().EndRecord(ctx, id, to, now)
}

func (a *alternate) RecordsToExpire(ctx context.Context, now, uploadDeadline time.Time, limit int) ([]*store.Record, error) {
	return a.next().RecordsToExpire(ctx, now, uploadDeadline, limit)
}

func (a *alternate) CountRecords(ctx context.Context, userID string) (int, error) {
	return a.next().CountRecords(ctx, userID)
}

func (a *alternate) CreateRequest(ctx context.Context, q *store.Request) error {
	return a.next().CreateRequest(ctx, q)
}

func (a *alternate) GetRequest(ctx context.Context, id string) (*store.Request, error) {
	return a.next().GetRequest(ctx, id)
}

func (a *alternate) PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*store.Request, error) {
	return a.next().PendingRequests(ctx, userID, now, limit)
}

func (a *alternate) CountPendingRequests(ctx context.Context, userID string, now time.Time) (int, error) {
	return a.next().CountPendingRequests(ctx, userID, now)
}

func (a *alternate) AnswerRequest(ctx context.Context, id string, ans store.Answer, now time.Time) error {
	return a.next().AnswerRequest(ctx, id, ans, now)
}

func (a *alternate) ExpireRequest(ctx context.Context, id string, now time.Time) error {
	return a.next().ExpireRequest(ctx, id, now)
}

func (a *alternate) RequestsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Request, error) {
	return a.next().RequestsToExpire(ctx, now, limit)
}

func (a *alternate) AnsweredRequests(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	return a.next().AnsweredRequests(ctx, node, limit)
}

func (a *alternate) MarkProcessed(ctx context.Context, id string) error {
	return a.next().MarkProcessed(ctx, id)
}

func (a *alternate) PendingOwnedBy(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	return a.next().PendingOwnedBy(ctx, node, limit)
}

func (a *alternate) CreateSession(ctx context.Context, s *store.Session) error {
	return a.next().CreateSession(ctx, s)
}

func (a *alternate) GetSession(ctx context.Context, id string) (*store.Session, error) {
	return a.next().GetSession(ctx, id)
}

func (a *alternate) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	return a.next().OpenSession(ctx, id, o, now)
}

func (a *alternate) EndSession(ctx context.Context, id, to string, now time.Time) error {
	return a.next().EndSession(ctx, id, to, now)
}

func (a *alternate) UseDownload(ctx context.Context, id string, now time.Time) (int, error) {
	return a.next().UseDownload(ctx, id, now)
}

func (a *alternate) SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Session, error) {
	return a.next().SessionsToExpire(ctx, now, limit)
}

func (a *alternate) RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error {
	return a.next().RememberNonce(ctx, deviceID, nonce, expires, now)
}

func (a *alternate) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	return a.next().AppendAudit(ctx, e)
}

func (a *alternate) AuditEntries(ctx context.Context, userID string, afterSeq int64, limit int) ([]*store.AuditEntry, error) {
	return a.next().AuditEntries(ctx, userID, afterSeq, limit)
}

// Ping pings every store.
func (a *alternate) Ping(ctx context.Context) error {
	var errs []error
	for _, s := range a.stores {
		errs = append(errs, s.Ping(ctx))
	}
	return errors.Join(errs...)
}

// Close closes every store.
func (a *alternate) Close() error {
	var errs []error
	for _, s := range a.stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// AlternateBlobs is Alternate for blob stores: each call goes to the next of
// stores in turn (a staged blob is written through the store that staged it).
func AlternateBlobs(stores ...store.BlobStore) store.BlobStore {
	return &alternateBlobs{rotation[store.BlobStore]{stores: stores}}
}

type alternateBlobs struct{ rotation[store.BlobStore] }

func (a *alternateBlobs) Stage(ctx context.Context, name string) (store.StagedBlob, error) {
	return a.next().Stage(ctx, name)
}

func (a *alternateBlobs) Commit(ctx context.Context, name string) error {
	return a.next().Commit(ctx, name)
}

func (a *alternateBlobs) Open(ctx context.Context, name string) (store.Blob, error) {
	return a.next().Open(ctx, name)
}

func (a *alternateBlobs) Delete(ctx context.Context, name string) error {
	return a.next().Delete(ctx, name)
}

func (a *alternateBlobs) StagedBefore(ctx context.Context, t time.Time) ([]string, error) {
	return a.next().StagedBefore(ctx, t)
}

func (a *alternate) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	return a.next().CreateRecordAudited(ctx, r, e)
}

func (a *alternate) RecordContent(ctx context.Context, id string) ([]byte, error) {
	return a.next().RecordContent(ctx, id)
}

func (a *alternate) StageAndAsk(ctx context.Context, recordID string, s store.Staging, q *store.Request, e *store.AuditEntry) error {
	return a.next().StageAndAsk(ctx, recordID, s, q, e)
}

func (a *alternate) AnswerAndSeal(ctx context.Context, x *store.SealingAnswer, now time.Time) (bool, error) {
	return a.next().AnswerAndSeal(ctx, x, now)
}

func (a *alternate) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	return a.next().AskAccess(ctx, sess, q, e)
}

func (a *alternate) AnswerAndOpen(ctx context.Context, x *store.OpeningAnswer, now time.Time) (bool, error) {
	return a.next().AnswerAndOpen(ctx, x, now)
}

func (a *alternate) PutPushSubscription(ctx context.Context, p *store.PushSubscription) (bool, error) {
	return a.next().PutPushSubscription(ctx, p)
}

func (a *alternate) PushSubscriptions(ctx context.Context, userID string) ([]*store.PushSubscription, error) {
	return a.next().PushSubscriptions(ctx, userID)
}

func (a *alternate) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	return a.next().DeletePushSubscription(ctx, deviceID, endpoint)
}

func (a *alternate) ApproveTransfer(ctx context.Context, t *store.Transfer, now time.Time) error {
	return a.next().ApproveTransfer(ctx, t, now)
}

func (a *alternate) TakeTransfer(ctx context.Context, deviceID string, now time.Time) (*store.Transfer, error) {
	return a.next().TakeTransfer(ctx, deviceID, now)
}

func (a *alternate) DeleteExpiredTransfers(ctx context.Context, now time.Time, limit int) (int, error) {
	return a.next().DeleteExpiredTransfers(ctx, now, limit)
}
