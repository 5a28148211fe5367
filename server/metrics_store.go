package server

// The methods of meteredStore: one per store.Store method, each timed and
// counted by meter or run (metrics.go). A method added to the interface and
// not here is served, unmetered, by the embedded Store.

import (
	"context"
	"errors"
	"time"

	"github.com/assent-dev/assent/store"
)

func (m *meteredStore) CreateUser(ctx context.Context, u *store.User) error {
	return m.run("CreateUser", func() error { return m.Store.CreateUser(ctx, u) })
}

func (m *meteredStore) GetUser(ctx context.Context, id string) (*store.User, error) {
	return meter(m, "GetUser", func() (*store.User, error) { return m.Store.GetUser(ctx, id) })
}

func (m *meteredStore) UserByExternalID(ctx context.Context, clientID, externalID string) (*store.User, error) {
	return meter(m, "UserByExternalID", func() (*store.User, error) { return m.Store.UserByExternalID(ctx, clientID, externalID) })
}

func (m *meteredStore) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	return m.run("CreateEnrollment", func() error { return m.Store.CreateEnrollment(ctx, e) })
}

func (m *meteredStore) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	return meter(m, "UseEnrollment", func() (*store.Enrollment, error) { return m.Store.UseEnrollment(ctx, codeHash, now) })
}

func (m *meteredStore) GetEnrollment(ctx context.Context, codeHash []byte) (*store.Enrollment, error) {
	return meter(m, "GetEnrollment", func() (*store.Enrollment, error) { return m.Store.GetEnrollment(ctx, codeHash) })
}

func (m *meteredStore) CreateDevice(ctx context.Context, d *store.Device) error {
	return m.run("CreateDevice", func() error { return m.Store.CreateDevice(ctx, d) })
}

func (m *meteredStore) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	return meter(m, "GetDevice", func() (*store.Device, error) { return m.Store.GetDevice(ctx, id) })
}

func (m *meteredStore) ConfirmDevice(ctx context.Context, id, to string, ev store.DeviceEvidence, now time.Time) error {
	return m.run("ConfirmDevice", func() error { return m.Store.ConfirmDevice(ctx, id, to, ev, now) })
}

func (m *meteredStore) SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error {
	return m.run("SetDeviceState", func() error { return m.Store.SetDeviceState(ctx, id, from, to, now) })
}

func (m *meteredStore) ActiveDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	return meter(m, "ActiveDevices", func() ([]*store.Device, error) { return m.Store.ActiveDevices(ctx, userID) })
}

func (m *meteredStore) UserDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	return meter(m, "UserDevices", func() ([]*store.Device, error) { return m.Store.UserDevices(ctx, userID) })
}

func (m *meteredStore) PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error {
	return m.run("PinUserKey", func() error { return m.Store.PinUserKey(ctx, userID, pkD, keyID) })
}

func (m *meteredStore) CreateClient(ctx context.Context, c *store.Client) error {
	return m.run("CreateClient", func() error { return m.Store.CreateClient(ctx, c) })
}

func (m *meteredStore) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	return meter(m, "ClientByPrefix", func() (*store.Client, error) { return m.Store.ClientByPrefix(ctx, prefix) })
}

func (m *meteredStore) Clients(ctx context.Context, limit int) ([]*store.Client, error) {
	return meter(m, "Clients", func() ([]*store.Client, error) { return m.Store.Clients(ctx, limit) })
}

func (m *meteredStore) DeleteClient(ctx context.Context, id string) error {
	return m.run("DeleteClient", func() error { return m.Store.DeleteClient(ctx, id) })
}

func (m *meteredStore) CreateRecord(ctx context.Context, r *store.Record) error {
	return m.run("CreateRecord", func() error { return m.Store.CreateRecord(ctx, r) })
}

func (m *meteredStore) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	return meter(m, "GetRecord", func() (*store.Record, error) { return m.Store.GetRecord(ctx, id) })
}

func (m *meteredStore) RecordContent(ctx context.Context, id string) ([]byte, error) {
	return meter(m, "RecordContent", func() ([]byte, error) { return m.Store.RecordContent(ctx, id) })
}

func (m *meteredStore) StageRecord(ctx context.Context, id string, s store.Staging) error {
	err := m.run("StageRecord", func() error { return m.Store.StageRecord(ctx, id, s) })
	if err == nil {
		m.staged.Store(id, s.Size)
	}
	return err
}

func (m *meteredStore) SealRecord(ctx context.Context, id string, s store.Seal, now time.Time) error {
	err := m.run("SealRecord", func() error { return m.Store.SealRecord(ctx, id, s, now) })
	if err == nil {
		m.sealed(id)
	}
	return err
}

func (m *meteredStore) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	m.staged.Delete(id)
	return m.run("EndRecord", func() error { return m.Store.EndRecord(ctx, id, to, now) })
}

func (m *meteredStore) RecordsToExpire(ctx context.Context, now, uploadDeadline time.Time, limit int) ([]*store.Record, error) {
	return meter(m, "RecordsToExpire", func() ([]*store.Record, error) { return m.Store.RecordsToExpire(ctx, now, uploadDeadline, limit) })
}

func (m *meteredStore) CountRecords(ctx context.Context, userID string) (int, error) {
	return meter(m, "CountRecords", func() (int, error) { return m.Store.CountRecords(ctx, userID) })
}

func (m *meteredStore) CreateRequest(ctx context.Context, q *store.Request) error {
	return m.run("CreateRequest", func() error { return m.Store.CreateRequest(ctx, q) })
}

func (m *meteredStore) GetRequest(ctx context.Context, id string) (*store.Request, error) {
	return meter(m, "GetRequest", func() (*store.Request, error) { return m.Store.GetRequest(ctx, id) })
}

func (m *meteredStore) PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*store.Request, error) {
	return meter(m, "PendingRequests", func() ([]*store.Request, error) { return m.Store.PendingRequests(ctx, userID, now, limit) })
}

func (m *meteredStore) CountPendingRequests(ctx context.Context, userID string, now time.Time) (int, error) {
	return meter(m, "CountPendingRequests", func() (int, error) { return m.Store.CountPendingRequests(ctx, userID, now) })
}

func (m *meteredStore) AnswerRequest(ctx context.Context, id string, a store.Answer, now time.Time) error {
	return m.run("AnswerRequest", func() error { return m.Store.AnswerRequest(ctx, id, a, now) })
}

func (m *meteredStore) ExpireRequest(ctx context.Context, id string, now time.Time) error {
	return m.run("ExpireRequest", func() error { return m.Store.ExpireRequest(ctx, id, now) })
}

func (m *meteredStore) RequestsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Request, error) {
	return meter(m, "RequestsToExpire", func() ([]*store.Request, error) { return m.Store.RequestsToExpire(ctx, now, limit) })
}

func (m *meteredStore) AnsweredRequests(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	return meter(m, "AnsweredRequests", func() ([]*store.Request, error) { return m.Store.AnsweredRequests(ctx, node, limit) })
}

func (m *meteredStore) MarkProcessed(ctx context.Context, id string) error {
	return m.run("MarkProcessed", func() error { return m.Store.MarkProcessed(ctx, id) })
}

func (m *meteredStore) PendingOwnedBy(ctx context.Context, node string, limit int) ([]*store.Request, error) {
	return meter(m, "PendingOwnedBy", func() ([]*store.Request, error) { return m.Store.PendingOwnedBy(ctx, node, limit) })
}

func (m *meteredStore) CreateSession(ctx context.Context, s *store.Session) error {
	return m.run("CreateSession", func() error { return m.Store.CreateSession(ctx, s) })
}

func (m *meteredStore) GetSession(ctx context.Context, id string) (*store.Session, error) {
	return meter(m, "GetSession", func() (*store.Session, error) { return m.Store.GetSession(ctx, id) })
}

func (m *meteredStore) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	return m.run("OpenSession", func() error { return m.Store.OpenSession(ctx, id, o, now) })
}

func (m *meteredStore) EndSession(ctx context.Context, id, to string, now time.Time) error {
	return m.run("EndSession", func() error { return m.Store.EndSession(ctx, id, to, now) })
}

func (m *meteredStore) UseDownload(ctx context.Context, id string, now time.Time) (left int, err error) {
	return meter(m, "UseDownload", func() (left int, err error) { return m.Store.UseDownload(ctx, id, now) })
}

func (m *meteredStore) SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*store.Session, error) {
	return meter(m, "SessionsToExpire", func() ([]*store.Session, error) { return m.Store.SessionsToExpire(ctx, now, limit) })
}

func (m *meteredStore) RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error {
	return m.run("RememberNonce", func() error { return m.Store.RememberNonce(ctx, deviceID, nonce, expires, now) })
}

func (m *meteredStore) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	v, err := meter(m, "AppendAudit", func() (*store.AuditEntry, error) { return m.Store.AppendAudit(ctx, e) })
	if err == nil {
		m.m.auditEvent(e.Event)
	}
	return v, err
}

func (m *meteredStore) AuditEntries(ctx context.Context, userID string, afterSeq int64, limit int) ([]*store.AuditEntry, error) {
	return meter(m, "AuditEntries", func() ([]*store.AuditEntry, error) { return m.Store.AuditEntries(ctx, userID, afterSeq, limit) })
}

func (m *meteredStore) PinMasterKeyID(ctx context.Context, keyID string) (string, error) {
	return meter(m, "PinMasterKeyID", func() (string, error) { return m.Store.PinMasterKeyID(ctx, keyID) })
}

func (m *meteredStore) Ping(ctx context.Context) error {
	return m.run("Ping", func() error { return m.Store.Ping(ctx) })
}

// The combined calls of the sealing path count what they contain: the
// audit events they append, and the bytes of the record they seal.

func (m *meteredStore) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	err := m.run("CreateRecordAudited", func() error { return m.Store.CreateRecordAudited(ctx, r, e) })
	if err == nil {
		m.m.auditEvent(e.Event)
	}
	return err
}

func (m *meteredStore) StageAndAsk(ctx context.Context, recordID string, s store.Staging, q *store.Request, e *store.AuditEntry) error {
	err := m.run("StageAndAsk", func() error { return m.Store.StageAndAsk(ctx, recordID, s, q, e) })
	if err == nil {
		m.staged.Store(recordID, s.Size)
		m.m.auditEvent(e.Event)
	}
	return err
}

func (m *meteredStore) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	err := m.run("AskAccess", func() error { return m.Store.AskAccess(ctx, sess, q, e) })
	if err == nil {
		m.m.auditEvent(e.Event)
	}
	return err
}

func (m *meteredStore) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	sealed, err := meter(m, "AnswerAndSeal", func() (bool, error) { return m.Store.AnswerAndSeal(ctx, a, now) })
	if err != nil {
		// The state changes stand even when their audit entries were not
		// written (store.ErrAuditNotWritten); the server appends those
		// again through AppendAudit, which counts them.
		if errors.Is(err, store.ErrAuditNotWritten) && sealed {
			m.sealed(a.RecordID)
		}
		return sealed, err
	}
	m.m.auditEvent(a.AnswerAudit.Event)
	if sealed {
		m.sealed(a.RecordID)
		m.m.auditEvent(a.SealAudit.Event)
	}
	return sealed, nil
}

// sealed counts the staged bytes of a record that was just sealed.
func (m *meteredStore) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	opened, err := meter(m, "AnswerAndOpen", func() (bool, error) { return m.Store.AnswerAndOpen(ctx, a, now) })
	if err != nil {
		return opened, err // audit entries not written are appended again through AppendAudit
	}
	m.m.auditEvent(a.AnswerAudit.Event)
	if opened {
		m.m.auditEvent(a.OpenAudit.Event)
	}
	return opened, nil
}

func (m *meteredStore) sealed(recordID string) {
	if size, ok := m.staged.LoadAndDelete(recordID); ok {
		m.m.bytesSealed.Add(float64(size.(int64)))
	}
}

func (m *meteredStore) PutPushSubscription(ctx context.Context, p *store.PushSubscription) (bool, error) {
	return meter(m, "PutPushSubscription", func() (bool, error) { return m.Store.PutPushSubscription(ctx, p) })
}

func (m *meteredStore) PushSubscriptions(ctx context.Context, userID string) ([]*store.PushSubscription, error) {
	return meter(m, "PushSubscriptions", func() ([]*store.PushSubscription, error) { return m.Store.PushSubscriptions(ctx, userID) })
}

func (m *meteredStore) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	return m.run("DeletePushSubscription", func() error { return m.Store.DeletePushSubscription(ctx, deviceID, endpoint) })
}

func (m *meteredStore) ApproveTransfer(ctx context.Context, t *store.Transfer, now time.Time) error {
	return m.run("ApproveTransfer", func() error { return m.Store.ApproveTransfer(ctx, t, now) })
}

func (m *meteredStore) TakeTransfer(ctx context.Context, deviceID string, now time.Time) (*store.Transfer, error) {
	return meter(m, "TakeTransfer", func() (*store.Transfer, error) { return m.Store.TakeTransfer(ctx, deviceID, now) })
}

func (m *meteredStore) DeleteExpiredTransfers(ctx context.Context, now time.Time, limit int) (int, error) {
	return meter(m, "DeleteExpiredTransfers", func() (int, error) { return m.Store.DeleteExpiredTransfers(ctx, now, limit) })
}
