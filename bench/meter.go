package bench

import (
	"context"
	"sync"
	"time"

	"github.com/assent-dev/assent/store"
)

// meteredStore counts the writes a server makes and how long its write path
// is busy: the time during which at least one write call is in progress.
// The SQLite store sends every write through one connection, so that is the
// share of time its single writer is taken, the capacity sealing runs into.
// Reads pass through uncounted.
type meteredStore struct {
	store.Store

	mu       sync.Mutex
	inFlight int
	since    time.Time // when inFlight last went from 0 to 1
	busy     time.Duration
	writes   uint64
}

// stats returns the writes so far and the write path's busy time.
func (m *meteredStore) stats() (writes uint64, busy time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	busy = m.busy
	if m.inFlight > 0 {
		busy += time.Since(m.since)
	}
	return m.writes, busy
}

func (m *meteredStore) begin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inFlight == 0 {
		m.since = time.Now()
	}
	m.inFlight++
	m.writes++
}

func (m *meteredStore) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	if m.inFlight == 0 {
		m.busy += time.Since(m.since)
	}
}

// write runs one write call under the meter.
func write[T any](m *meteredStore, call func() (T, error)) (T, error) {
	m.begin()
	defer m.end()
	return call()
}

// write0 is write for a call that returns only an error.
func write0(m *meteredStore, call func() error) error {
	_, err := write(m, func() (struct{}, error) { return struct{}{}, call() })
	return err
}

func (m *meteredStore) CreateUser(ctx context.Context, u *store.User) error {
	return write0(m, func() error { return m.Store.CreateUser(ctx, u) })
}

func (m *meteredStore) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	return write0(m, func() error { return m.Store.CreateEnrollment(ctx, e) })
}

func (m *meteredStore) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	return write(m, func() (*store.Enrollment, error) { return m.Store.UseEnrollment(ctx, codeHash, now) })
}

func (m *meteredStore) PinMasterKeyID(ctx context.Context, keyID string) (string, error) {
	return write(m, func() (string, error) { return m.Store.PinMasterKeyID(ctx, keyID) })
}

func (m *meteredStore) CreateDevice(ctx context.Context, d *store.Device) error {
	return write0(m, func() error { return m.Store.CreateDevice(ctx, d) })
}

func (m *meteredStore) ConfirmDevice(ctx context.Context, id, to string, ev store.DeviceEvidence, now time.Time) error {
	return write0(m, func() error { return m.Store.ConfirmDevice(ctx, id, to, ev, now) })
}

func (m *meteredStore) SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error {
	return write0(m, func() error { return m.Store.SetDeviceState(ctx, id, from, to, now) })
}

func (m *meteredStore) PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error {
	return write0(m, func() error { return m.Store.PinUserKey(ctx, userID, pkD, keyID) })
}

func (m *meteredStore) CreateClient(ctx context.Context, c *store.Client) error {
	return write0(m, func() error { return m.Store.CreateClient(ctx, c) })
}

func (m *meteredStore) CreateRecord(ctx context.Context, r *store.Record) error {
	return write0(m, func() error { return m.Store.CreateRecord(ctx, r) })
}

func (m *meteredStore) StageRecord(ctx context.Context, id string, s store.Staging) error {
	return write0(m, func() error { return m.Store.StageRecord(ctx, id, s) })
}

func (m *meteredStore) SealRecord(ctx context.Context, id string, s store.Seal, now time.Time) error {
	return write0(m, func() error { return m.Store.SealRecord(ctx, id, s, now) })
}

func (m *meteredStore) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	return write0(m, func() error { return m.Store.EndRecord(ctx, id, to, now) })
}

func (m *meteredStore) CreateRequest(ctx context.Context, q *store.Request) error {
	return write0(m, func() error { return m.Store.CreateRequest(ctx, q) })
}

func (m *meteredStore) AnswerRequest(ctx context.Context, id string, a store.Answer, now time.Time) error {
	return write0(m, func() error { return m.Store.AnswerRequest(ctx, id, a, now) })
}

func (m *meteredStore) ExpireRequest(ctx context.Context, id string, now time.Time) error {
	return write0(m, func() error { return m.Store.ExpireRequest(ctx, id, now) })
}

func (m *meteredStore) MarkProcessed(ctx context.Context, id string) error {
	return write0(m, func() error { return m.Store.MarkProcessed(ctx, id) })
}

func (m *meteredStore) CreateSession(ctx context.Context, s *store.Session) error {
	return write0(m, func() error { return m.Store.CreateSession(ctx, s) })
}

func (m *meteredStore) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	return write0(m, func() error { return m.Store.OpenSession(ctx, id, o, now) })
}

func (m *meteredStore) EndSession(ctx context.Context, id, to string, now time.Time) error {
	return write0(m, func() error { return m.Store.EndSession(ctx, id, to, now) })
}

func (m *meteredStore) UseDownload(ctx context.Context, id string, now time.Time) (int, error) {
	return write(m, func() (int, error) { return m.Store.UseDownload(ctx, id, now) })
}

func (m *meteredStore) RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error {
	return write0(m, func() error { return m.Store.RememberNonce(ctx, deviceID, nonce, expires, now) })
}

func (m *meteredStore) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	return write(m, func() (*store.AuditEntry, error) { return m.Store.AppendAudit(ctx, e) })
}

func (m *meteredStore) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	return write0(m, func() error { return m.Store.CreateRecordAudited(ctx, r, e) })
}

func (m *meteredStore) StageAndAsk(ctx context.Context, recordID string, s store.Staging, q *store.Request, e *store.AuditEntry) error {
	return write0(m, func() error { return m.Store.StageAndAsk(ctx, recordID, s, q, e) })
}

func (m *meteredStore) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	return write(m, func() (bool, error) { return m.Store.AnswerAndSeal(ctx, a, now) })
}

func (m *meteredStore) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	return write0(m, func() error { return m.Store.AskAccess(ctx, sess, q, e) })
}

func (m *meteredStore) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	return write(m, func() (bool, error) { return m.Store.AnswerAndOpen(ctx, a, now) })
}

func (m *meteredStore) PutPushSubscription(ctx context.Context, p *store.PushSubscription) (bool, error) {
	return write(m, func() (bool, error) { return m.Store.PutPushSubscription(ctx, p) })
}

func (m *meteredStore) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	return write0(m, func() error { return m.Store.DeletePushSubscription(ctx, deviceID, endpoint) })
}
