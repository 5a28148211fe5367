// Package check holds the argument rules of the store.Store interface
// (store/store.go documents each method's). Every implementation calls them
// before touching storage, so that all of them refuse the same input with
// the same store.ErrInvalid message, which names the argument. They are
// internal to store/: only its implementations call them.
package check

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// quote quotes at most the first 40 bytes of s, for an error message that
// names a bad value without repeating a large input.
func quote(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

// ID returns store.ErrInvalid unless id is an opaque id with that prefix
// (ids.User, ids.Device, ids.Request, ids.Session or ids.Client). field names
// the argument in the error.
func ID(field, prefix, id string) error {
	if ids.Check(prefix, id) != nil {
		return invalid("%s: malformed id %s", field, quote(id))
	}
	return nil
}

// RecordID returns store.ErrInvalid unless id is a canonical UUIDv7.
func RecordID(field, id string) error {
	if _, err := ids.RecordTime(id); err != nil {
		return invalid("%s: malformed record id %s", field, quote(id))
	}
	return nil
}

// Text returns store.ErrInvalid unless s is valid UTF-8 of at most store.MaxTextLen
// bytes, and not empty when required.
func Text(field, s string, required bool) error {
	switch {
	case required && s == "":
		return invalid("%s is empty", field)
	case len(s) > store.MaxTextLen:
		return invalid("%s is %d bytes, over %d", field, len(s), store.MaxTextLen)
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", field)
	}
	return nil
}

// Bytes returns store.ErrInvalid unless b is at most store.MaxBytesLen bytes, and
// not empty when required.
func Bytes(field string, b []byte, required bool) error {
	switch {
	case required && len(b) == 0:
		return invalid("%s is empty", field)
	case len(b) > store.MaxBytesLen:
		return invalid("%s is %d bytes, over %d", field, len(b), store.MaxBytesLen)
	}
	return nil
}

// Len returns store.ErrInvalid unless b is exactly n bytes long.
func Len(field string, b []byte, n int) error {
	if len(b) != n {
		return invalid("%s is %d bytes, want %d", field, len(b), n)
	}
	return nil
}

// List returns store.ErrInvalid unless l has at most store.MaxListLen items of at
// most store.MaxBytesLen bytes in all, none of them empty, and at least one item
// when required.
func List(field string, l [][]byte, required bool) error {
	if required && len(l) == 0 {
		return invalid("%s is empty", field)
	}
	if len(l) > store.MaxListLen {
		return invalid("%s has %d items, over %d", field, len(l), store.MaxListLen)
	}
	total := 0
	for i, b := range l {
		if len(b) == 0 {
			return invalid("%s[%d] is empty", field, i)
		}
		total += len(b)
	}
	if total > store.MaxBytesLen {
		return invalid("%s holds %d bytes, over %d", field, total, store.MaxBytesLen)
	}
	return nil
}

// Time returns store.ErrInvalid unless t is in [store.MinTime, store.MaxTime), or zero
// when not required.
func Time(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return invalid("%s is not set", field)
		}
		return nil
	}
	if t.Before(store.MinTime) || !t.Before(store.MaxTime) {
		return invalid("%s %s is outside [%s, %s)", field, t.UTC().Format(time.RFC3339), store.MinTime.Format(time.RFC3339), store.MaxTime.Format(time.RFC3339))
	}
	return nil
}

// Limit returns store.ErrInvalid unless 1 <= limit <= store.MaxLimit.
func Limit(limit int) error {
	if limit < 1 || limit > store.MaxLimit {
		return invalid("limit %d is outside [1, %d]", limit, store.MaxLimit)
	}
	return nil
}

// KeyID returns store.ErrInvalid unless id is a device_key_id: 32 lowercase
// hex digits.
func KeyID(field, id string) error {
	if len(id) != 32 {
		return invalid("%s: malformed device key id %s", field, quote(id))
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return invalid("%s: malformed device key id %s", field, quote(id))
		}
	}
	return nil
}

// BlobName returns store.ErrInvalid unless name is 1 to store.MaxBlobName bytes of
// [A-Za-z0-9._-] and not "." or "..", so that no blob store.store can be led
// outside its namespace by a name.
func BlobName(name string) error {
	if name == "" || len(name) > store.MaxBlobName || name == "." || name == ".." {
		return invalid("blob name %s", quote(name))
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != '-' {
			return invalid("blob name %s", quote(name))
		}
	}
	return nil
}

// first returns the first non-nil error.
func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// User checks the argument of CreateUser.
func User(u *store.User) error {
	if u == nil {
		return invalid("user is nil")
	}
	if u.DevicePublicKey != nil || u.DeviceKeyID != "" {
		return invalid("a new user has a pinned device key")
	}
	return first(
		ID("user id", ids.User, u.ID),
		ID("user client id", ids.Client, u.ClientID),
		Text("user external id", u.ExternalID, true),
		Text("user display name", u.DisplayName, false),
		Bytes("user wrapped share", u.ShareWrapped, true),
		Time("user created at", u.CreatedAt, false),
	)
}

// Enrollment checks the argument of CreateEnrollment.
func Enrollment(e *store.Enrollment) error {
	if e == nil {
		return invalid("enrollment is nil")
	}
	if !e.UsedAt.IsZero() {
		return invalid("a new enrollment has a used time")
	}
	return first(
		Len("enrollment code hash", e.CodeHash, store.HashLen),
		ID("enrollment user id", ids.User, e.UserID),
		Time("enrollment expires at", e.ExpiresAt, true),
	)
}

// Device checks the argument of CreateDevice.
func Device(d *store.Device) error {
	if d == nil {
		return invalid("device is nil")
	}
	if d.State != store.DevicePending && d.State != store.DeviceActive && d.State != store.DeviceAwaitingTransfer {
		return invalid("device state %s", quote(d.State))
	}
	if !evidenceIsZero(&d.Evidence) {
		return invalid("a new device has enrollment evidence")
	}
	if !api.ValidPlatform(d.Platform) {
		return invalid("device platform %s", quote(d.Platform))
	}
	return first(
		ID("device id", ids.Device, d.ID),
		ID("device user id", ids.User, d.UserID),
		Text("device name", d.Name, false),
		Len("device OPRF public key", d.OPRFPublicKey, store.PublicKeyLen),
		Len("device signing public key", d.SigningPublicKey, store.PublicKeyLen),
		KeyID("device key id", d.KeyID),
		List("device check blinded elements", d.CheckBlinded, false),
		Time("device created at", d.CreatedAt, false),
		Time("device activated at", d.ActivatedAt, false),
		Time("device state at", d.StateAt, false),
	)
}

func evidenceIsZero(e *store.DeviceEvidence) bool {
	return e.EnrollSignature == nil && e.EvaluatedElements == nil && e.Proof == nil &&
		e.AddStatement == nil && e.AddSignature == nil
}

// DeviceEvidence checks the evidence ConfirmDevice writes: the
// enrollment signature, evaluation and proof are required, the add_device
// statement and signature optional but present together.
func DeviceEvidence(e *store.DeviceEvidence) error {
	if (e.AddStatement == nil) != (e.AddSignature == nil) {
		return invalid("device add statement and signature must be set together")
	}
	return first(
		Bytes("device enroll signature", e.EnrollSignature, true),
		List("device check evaluated elements", e.EvaluatedElements, true),
		Bytes("device check proof", e.Proof, true),
		Bytes("device add statement", e.AddStatement, false),
		Bytes("device add signature", e.AddSignature, false),
	)
}

// Client checks the argument of CreateClient.
func Client(c *store.Client) error {
	if c == nil {
		return invalid("client is nil")
	}
	if err := first(
		ID("client id", ids.Client, c.ID),
		Text("client name", c.Name, false),
		KeyPrefix(c.KeyPrefix),
		Len("client key hash", c.KeyHash, store.HashLen),
		Time("client created at", c.CreatedAt, false),
	); err != nil {
		return err
	}
	if len(c.Scopes) > store.MaxListLen {
		return invalid("client has %d scopes, over %d", len(c.Scopes), store.MaxListLen)
	}
	for _, s := range c.Scopes {
		if err := Text("client scope", s, true); err != nil {
			return err
		}
	}
	return nil
}

// KeyPrefix returns store.ErrInvalid unless p is 1 to 64 bytes of
// [A-Za-z0-9_-], the shape of an API key's non-secret prefix.
func KeyPrefix(p string) error {
	if p == "" || len(p) > 64 {
		return invalid("client key prefix %s", quote(p))
	}
	for _, c := range []byte(p) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return invalid("client key prefix %s", quote(p))
		}
	}
	return nil
}

// NewRecord checks the argument of CreateRecord: the creation fields
// only, since the others are written by StageRecord and SealRecord.
func NewRecord(r *store.Record) error {
	if r == nil {
		return invalid("record is nil")
	}
	if r.State != "" && r.State != store.RecordAwaitingUpload {
		return invalid("a new record is in state %s, not %s", quote(r.State), store.RecordAwaitingUpload)
	}
	if r.Size != 0 || r.ContentSHA256 != nil || r.BlobName != "" || r.Input != nil || r.DeviceKeyID != "" ||
		r.RequestID != "" || !r.ExpiresAt.IsZero() || r.WrappedDEK != nil || !approvalIsZero(&r.Approval) || !r.SealedAt.IsZero() {
		return invalid("a new record has fields that StageRecord or SealRecord write")
	}
	return first(
		RecordID("record id", r.ID),
		ID("record user id", ids.User, r.UserID),
		ID("record client id", ids.Client, r.ClientID),
		Text("record title", r.Title, false),
		Text("record content type", r.ContentType, false),
		Text("record purpose", r.Purpose, false),
		Time("record created at", r.CreatedAt, true),
	)
}

// Staging checks the argument of StageRecord.
func Staging(s *store.Staging) error {
	if s.Size < 0 {
		return invalid("staging size %d is negative", s.Size)
	}
	return first(
		Len("staging content SHA-256", s.ContentSHA256, store.HashLen),
		blobOrContent(s),
		Len("staging input", s.Input, store.InputLen),
		KeyID("staging device key id", s.DeviceKeyID),
		ID("staging request id", ids.Request, s.RequestID),
		Time("staging expires at", s.ExpiresAt, true),
	)
}

// blobOrContent checks that a staging names a blob or holds the ciphertext
// itself, not both.
func blobOrContent(s *store.Staging) error {
	switch {
	case s.Content == nil:
		return BlobName(s.BlobName)
	case s.BlobName != "":
		return invalid("a staging has both a blob name and content")
	case len(s.Content) == 0 || len(s.Content) > store.MaxInlineContent:
		return invalid("staging content of %d bytes is outside 1 to %d", len(s.Content), store.MaxInlineContent)
	}
	return nil
}

func approvalIsZero(a *store.Approval) bool {
	return a.DeviceID == "" && a.Statement == nil && a.Signature == nil && a.EvaluatedElements == nil && a.Proof == nil
}

// Approval checks a device's signed approval (or denial), with its
// optional evaluation and proof.
func Approval(a *store.Approval) error {
	return first(
		ID("approval device id", ids.Device, a.DeviceID),
		Bytes("approval statement", a.Statement, true),
		Bytes("approval signature", a.Signature, true),
		List("approval evaluated elements", a.EvaluatedElements, false),
		Bytes("approval proof", a.Proof, false),
	)
}

// Seal checks the argument of SealRecord.
func Seal(s *store.Seal) error {
	return first(
		Bytes("seal wrapped DEK", s.WrappedDEK, true),
		Approval(&s.Approval),
		Time("seal sealed at", s.SealedAt, true),
	)
}

// NewRequest checks the argument of CreateRequest.
func NewRequest(q *store.Request) error {
	if q == nil {
		return invalid("request is nil")
	}
	if q.State != "" && q.State != store.RequestPending {
		return invalid("a new request is in state %s, not %s", quote(q.State), store.RequestPending)
	}
	if q.Answer != nil || q.Processed {
		return invalid("a new request is already answered")
	}
	var session error
	record := RecordID("request record id", q.RecordID)
	blinded := List("request blinded elements", q.BlindedElements, true)
	switch q.Kind {
	case store.KindCreate:
		if q.SessionID != "" {
			session = invalid("a create request has a session id")
		}
	case store.KindAccess:
		session = ID("request session id", ids.Session, q.SessionID)
	case store.KindAddDevice:
		// It names the device to add, and no record, session or element.
		session = ID("request device id", ids.Device, q.DeviceID)
		record, blinded = nil, nil
		if q.RecordID != "" || q.SessionID != "" || len(q.BlindedElements) != 0 {
			record = invalid("an add_device request has a record, session or blinded elements")
		}
	default:
		return invalid("request kind %s", quote(q.Kind))
	}
	if q.Kind != store.KindAddDevice && q.DeviceID != "" {
		return invalid("a %s request has a device id", q.Kind)
	}
	if q.Record.Size < 0 {
		return invalid("request record size %d is negative", q.Record.Size)
	}
	if len(q.Record.ContentSHA256) != 0 && len(q.Record.ContentSHA256) != store.HashLen {
		return invalid("request record content SHA-256 is %d bytes, want %d or none", len(q.Record.ContentSHA256), store.HashLen)
	}
	return first(
		ID("request id", ids.Request, q.ID),
		ID("request user id", ids.User, q.UserID),
		record,
		session,
		KeyID("request device key id", q.DeviceKeyID),
		ID("request requester id", ids.Client, q.Requester.ID),
		Text("request requester name", q.Requester.Name, false),
		Text("request purpose", q.Purpose, false),
		Text("request record title", q.Record.Title, false),
		Text("request record content type", q.Record.ContentType, false),
		blinded,
		Time("request created at", q.CreatedAt, true),
		Time("request expires at", q.ExpiresAt, true),
		Text("request owner node", q.OwnerNode, false),
	)
}

// Answer checks the argument of AnswerRequest: an approval carries the
// evaluated elements and proof (both, or neither for an add_device
// request), a denial neither.
func Answer(a *store.Answer) error {
	switch a.Decision {
	case store.DecisionApprove:
		if len(a.EvaluatedElements) == 0 && len(a.Proof) == 0 {
			break // the approval of an add_device request, which evaluates nothing
		}
		if err := first(
			List("answer evaluated elements", a.EvaluatedElements, true),
			Bytes("answer proof", a.Proof, true),
		); err != nil {
			return err
		}
	case store.DecisionDeny:
		if len(a.EvaluatedElements) != 0 || len(a.Proof) != 0 {
			return invalid("a denial carries evaluated elements or a proof")
		}
	default:
		return invalid("answer decision %s", quote(a.Decision))
	}
	return first(
		Approval(&a.Approval),
		Time("answer answered at", a.AnsweredAt, true),
	)
}

// NewSession checks the argument of CreateSession.
func NewSession(s *store.Session) error {
	if s == nil {
		return invalid("session is nil")
	}
	if s.State != "" && s.State != store.SessionPendingApproval {
		return invalid("a new session is in state %s, not %s", quote(s.State), store.SessionPendingApproval)
	}
	if s.DownloadsLeft != 0 || !approvalIsZero(&s.Approval) || !s.OpenedAt.IsZero() {
		return invalid("a new session has fields that OpenSession writes")
	}
	return first(
		ID("session id", ids.Session, s.ID),
		RecordID("session record id", s.RecordID),
		ID("session user id", ids.User, s.UserID),
		ID("session requester id", ids.Client, s.RequesterID),
		Text("session purpose", s.Purpose, false),
		ID("session request id", ids.Request, s.RequestID),
		Time("session created at", s.CreatedAt, true),
		Time("session expires at", s.ExpiresAt, true),
	)
}

// SessionOpening checks the argument of OpenSession.
func SessionOpening(o *store.SessionOpening) error {
	if o.Downloads < 1 || o.Downloads > store.MaxLimit {
		return invalid("session downloads %d is outside [1, %d]", o.Downloads, store.MaxLimit)
	}
	return first(
		Time("session opening expires at", o.ExpiresAt, true),
		Approval(&o.Approval),
		Time("session opened at", o.OpenedAt, true),
	)
}

// EndState returns store.ErrInvalid unless to is one of allowed.
func EndState(to string, allowed ...string) error {
	for _, a := range allowed {
		if to == a {
			return nil
		}
	}
	return invalid("target state %s is not one of %q", quote(to), allowed)
}

// Nonce checks the arguments of RememberNonce.
func Nonce(deviceID, nonce string, expires, now time.Time) error {
	return first(
		ID("nonce device id", ids.Device, deviceID),
		Text("nonce", nonce, true),
		Time("nonce expires", expires, true),
		Time("now", now, true),
	)
}

// auditEvents are the events an audit entry may name.
var auditEvents = map[string]bool{
	store.EventUserCreated: true, store.EventDeviceEnrolled: true, store.EventRecordCreated: true,
	store.EventApprovalRequested: true, store.EventApproved: true, store.EventDenied: true,
	store.EventRecordSealed: true, store.EventRecordRejected: true, store.EventRecordExpired: true,
	store.EventAccessRequested: true, store.EventSessionOpened: true, store.EventSessionDenied: true,
	store.EventSessionExpired: true, store.EventContentDelivered: true,
	store.EventDeviceRevoked: true, store.EventDeviceSuspended: true, store.EventDeviceReactivated: true, store.EventDeviceCancelled: true,
}

// AuditEntry checks the argument of AppendAudit: the fields the caller
// sets (Seq, PrevHash and Hash are the store.store's to fill).
func AuditEntry(e *store.AuditEntry) error {
	if e == nil {
		return invalid("audit entry is nil")
	}
	if !auditEvents[e.Event] {
		return invalid("audit event %s", quote(e.Event))
	}
	if len(e.Details) > store.MaxDetailsLen {
		return invalid("audit details are %d bytes, over %d", len(e.Details), store.MaxDetailsLen)
	}
	if len(e.Details) > 0 && !json.Valid(e.Details) {
		return invalid("audit details are not JSON")
	}
	return first(
		ID("audit user id", ids.User, e.UserID),
		Text("audit actor", e.Actor, true),
		Text("audit subject", e.Subject, false),
		Time("audit time", e.At, true),
	)
}

// NextAuditEntry returns the entry to store.store after prev (nil for a user's
// first entry): a copy of e with At in whole seconds UTC, Seq, PrevHash and
// Hash filled in. It checks e with CheckAuditEntry, and that prev belongs to
// the same user.
func NextAuditEntry(prev, e *store.AuditEntry) (*store.AuditEntry, error) {
	if err := AuditEntry(e); err != nil {
		return nil, err
	}
	n := &store.AuditEntry{
		UserID:  e.UserID,
		Event:   e.Event,
		Actor:   e.Actor,
		Subject: e.Subject,
		Details: append([]byte(nil), e.Details...),
		At:      e.At.UTC().Truncate(time.Second),
		Seq:     1,
	}
	if len(n.Details) == 0 {
		n.Details = nil
	}
	if prev == nil {
		n.PrevHash = make([]byte, store.HashLen)
	} else {
		if prev.UserID != e.UserID {
			return nil, invalid("previous audit entry belongs to another user")
		}
		n.Seq = prev.Seq + 1
		n.PrevHash = append([]byte(nil), prev.Hash...)
	}
	h, err := store.AuditHash(n)
	if err != nil {
		return nil, err
	}
	n.Hash = h
	return n, nil
}

// IDAt checks an opaque id (of kind prefix) and a required time, the
// arguments of ActivateDevice, ExpireRequest and UseDownload.
func IDAt(field, prefix, id string, now time.Time) error {
	return first(ID(field, prefix, id), Time("now", now, true))
}

// ConfirmDevice checks the arguments of ConfirmDevice.
func ConfirmDevice(id, to string, ev *store.DeviceEvidence, now time.Time) error {
	if to != store.DeviceActive && to != store.DeviceRecoveryPending {
		return invalid("a confirmed device becomes %s or %s, not %s", store.DeviceActive, store.DeviceRecoveryPending, quote(to))
	}
	return first(IDAt("device id", ids.Device, id, now), DeviceEvidence(ev))
}

// SetDeviceState checks the arguments of SetDeviceState: from -> to
// must be one of store.DeviceTransitions.
func SetDeviceState(id, from, to string, now time.Time) error {
	if !slices.Contains(store.DeviceTransitions[from], to) {
		return invalid("no device transition from %s to %s", quote(from), quote(to))
	}
	return IDAt("device id", ids.Device, id, now)
}

// PinUserKey checks the arguments of PinUserKey.
func PinUserKey(userID string, pkD []byte, keyID string) error {
	return first(ID("user id", ids.User, userID), Len("pinned device public key", pkD, store.PublicKeyLen),
		KeyID("pinned device key id", keyID))
}

// UseEnrollment checks the arguments of UseEnrollment.
func UseEnrollment(codeHash []byte, now time.Time) error {
	return first(Len("enrollment code hash", codeHash, store.HashLen), Time("now", now, true))
}

// GetEnrollment checks the argument of GetEnrollment.
func GetEnrollment(codeHash []byte) error {
	return Len("enrollment code hash", codeHash, store.HashLen)
}

// PinMasterKeyID checks the argument of PinMasterKeyID.
func PinMasterKeyID(keyID string) error {
	if keyID == "" || len(keyID) > store.MaxKeyIDLen {
		return invalid("master key id is %d bytes, want 1 to %d", len(keyID), store.MaxKeyIDLen)
	}
	return Text("master key id", keyID, true)
}

// StageRecord checks the arguments of StageRecord.
func StageRecord(id string, s *store.Staging) error {
	return first(RecordID("record id", id), Staging(s))
}

// SealRecord checks the arguments of SealRecord.
func SealRecord(id string, s *store.Seal, now time.Time) error {
	return first(RecordID("record id", id), Seal(s), Time("now", now, true))
}

// EndRecord checks the arguments of EndRecord.
func EndRecord(id, to string, now time.Time) error {
	return first(RecordID("record id", id), EndState(to, store.RecordRejected, store.RecordExpired), Time("now", now, true))
}

// RecordsToExpire checks the arguments of RecordsToExpire.
func RecordsToExpire(now, uploadDeadline time.Time, limit int) error {
	return first(Time("now", now, true), Time("upload deadline", uploadDeadline, true), Limit(limit))
}

// UserAt checks a user id and a required time (CountPendingRequests).
func UserAt(userID string, now time.Time) error {
	return first(ID("user id", ids.User, userID), Time("now", now, true))
}

// PendingRequests checks the arguments of PendingRequests.
func PendingRequests(userID string, now time.Time, limit int) error {
	return first(UserAt(userID, now), Limit(limit))
}

// AnswerRequest checks the arguments of AnswerRequest.
func AnswerRequest(id string, a *store.Answer, now time.Time) error {
	return first(ID("request id", ids.Request, id), Answer(a), Time("now", now, true))
}

// Due checks the arguments of RequestsToExpire and SessionsToExpire.
func Due(now time.Time, limit int) error {
	return first(Time("now", now, true), Limit(limit))
}

// NodeLimit checks the arguments of AnsweredRequests and
// PendingOwnedBy.
func NodeLimit(node string, limit int) error {
	return first(Text("node", node, false), Limit(limit))
}

// OpenSession checks the arguments of OpenSession.
func OpenSession(id string, o *store.SessionOpening, now time.Time) error {
	return first(ID("session id", ids.Session, id), SessionOpening(o), Time("now", now, true))
}

// EndSession checks the arguments of EndSession.
func EndSession(id, to string, now time.Time) error {
	return first(ID("session id", ids.Session, id),
		EndState(to, store.SessionDenied, store.SessionExpired, store.SessionConsumed), Time("now", now, true))
}

// AuditEntries checks the arguments of AuditEntries.
func AuditEntries(userID string, afterSeq int64, limit int) error {
	if afterSeq < 0 {
		return invalid("after sequence number %d is negative", afterSeq)
	}
	return first(ID("user id", ids.User, userID), Limit(limit))
}

// CreateRecordAudited checks the arguments of CreateRecordAudited.
func CreateRecordAudited(r *store.Record, e *store.AuditEntry) error {
	return first(NewRecord(r), AuditEntry(e))
}

// StageAndAsk checks the arguments of StageAndAsk: those of
// StageRecord, CreateRequest and AppendAudit, and that q asks about
// recordID with the request id staged.
func StageAndAsk(recordID string, s *store.Staging, q *store.Request, e *store.AuditEntry) error {
	if err := first(StageRecord(recordID, s), NewRequest(q), AuditEntry(e)); err != nil {
		return err
	}
	if q.RecordID != recordID || q.ID != s.RequestID {
		return invalid("request %s for record %s is not the one staged (%s for %s)", q.ID, q.RecordID, s.RequestID, recordID)
	}
	return nil
}

// AskAccess checks the arguments of AskAccess: those of CreateSession,
// CreateRequest and AppendAudit, and that q is sess's access request.
func AskAccess(sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	if err := first(NewSession(sess), NewRequest(q), AuditEntry(e)); err != nil {
		return err
	}
	if q.Kind != store.KindAccess || q.SessionID != sess.ID || q.RecordID != sess.RecordID || q.UserID != sess.UserID || sess.RequestID != q.ID {
		return invalid("request %s is not the access request of session %s", q.ID, sess.ID)
	}
	return nil
}

// AnswerAndSeal checks the arguments of AnswerAndSeal: those of
// AnswerRequest, SealRecord and AppendAudit, and that the answer approves.
func AnswerAndSeal(a *store.SealingAnswer, now time.Time) error {
	if a == nil {
		return invalid("no sealing answer")
	}
	return approvingAnswer("a sealing answer", a.RequestID, &a.Answer, now, SealRecord(a.RecordID, &a.Seal, now), a.AnswerAudit, a.SealAudit)
}

// AnswerAndOpen checks the arguments of AnswerAndOpen: those of
// AnswerRequest, OpenSession and AppendAudit, and that the answer approves.
func AnswerAndOpen(a *store.OpeningAnswer, now time.Time) error {
	if a == nil {
		return invalid("no opening answer")
	}
	return approvingAnswer("an opening answer", a.RequestID, &a.Answer, now, OpenSession(a.SessionID, &a.Opening, now), a.AnswerAudit, a.OpenAudit)
}

// approvingAnswer checks the answer of a combined answering call, the
// check of what it then changes (thenErr) and its two audit entries, and
// that the answer approves.
func approvingAnswer(what, requestID string, a *store.Answer, now time.Time, thenErr error, answerAudit, thenAudit *store.AuditEntry) error {
	if err := first(AnswerRequest(requestID, a, now), thenErr, AuditEntry(answerAudit), AuditEntry(thenAudit)); err != nil {
		return err
	}
	if a.Decision != store.DecisionApprove {
		return invalid("%s must approve, not %q", what, a.Decision)
	}
	return nil
}

// PushSubscription returns store.ErrInvalid unless p has a device id, an
// endpoint of 1 to store.MaxPushEndpoint bytes, and keys of the sizes above. The
// URL and the point themselves are the caller's to check.
func PushSubscription(p *store.PushSubscription) error {
	if p == nil {
		return invalid("push subscription: nil")
	}
	if err := ID("device id", ids.Device, p.DeviceID); err != nil {
		return err
	}
	if err := PushEndpoint(p.Endpoint); err != nil {
		return err
	}
	if len(p.P256dh) != store.PushP256dhSize || len(p.Auth) != store.PushAuthSize {
		return invalid("push subscription keys: p256dh must be %d bytes, auth %d", store.PushP256dhSize, store.PushAuthSize)
	}
	return nil
}

// PushEndpoint returns store.ErrInvalid unless endpoint is 1 to
// store.MaxPushEndpoint bytes. The message never repeats it: it is a capability.
func PushEndpoint(endpoint string) error {
	if endpoint == "" || len(endpoint) > store.MaxPushEndpoint {
		return invalid("push subscription endpoint: %d bytes, want 1 to %d", len(endpoint), store.MaxPushEndpoint)
	}
	return nil
}

// Transfer checks the argument of ApproveTransfer.
func Transfer(t *store.Transfer, now time.Time) error {
	if t == nil {
		return invalid("transfer is nil")
	}
	if len(t.Bundle) == 0 || len(t.Bundle) > store.MaxTransferLen {
		return invalid("transfer bundle is %d bytes, want 1 to %d", len(t.Bundle), store.MaxTransferLen)
	}
	return first(
		ID("transfer device id", ids.Device, t.DeviceID),
		ID("transfer user id", ids.User, t.UserID),
		ID("transfer request id", ids.Request, t.RequestID),
		ID("transfer sender id", ids.Device, t.SenderID),
		Bytes("transfer statement", t.Statement, true),
		Bytes("transfer signature", t.Signature, true),
		Time("transfer expires at", t.ExpiresAt, true),
		Time("now", now, true),
	)
}

// ExpireTransfers checks the arguments of DeleteExpiredTransfers.
func ExpireTransfers(now time.Time, limit int) error {
	return first(Time("now", now, true), Limit(limit))
}
