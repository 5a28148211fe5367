package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/assent-dev/assent/internal/ids"
)

// The checks in this file are the argument rules of the Store interface. Every
// implementation calls them before touching storage, so that all of them
// refuse the same input with the same ErrInvalid message.

// Request kinds and answer decisions (DESIGN.md, approval statement).
const (
	KindCreate      = "create"
	KindAccess      = "access"
	KindAddDevice   = "add_device"
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// More limits enforced by every implementation (ErrInvalid past them).
const (
	// MaxDetailsLen bounds an audit entry's Details (canonical JSON holding
	// base64 of a statement and a signature).
	MaxDetailsLen = 65536
	// MaxListLen bounds the number of items in a stored list (blinded
	// elements, evaluated elements, scopes).
	MaxListLen = 256
	// MaxLimit bounds the limit argument of every listing method; pages are
	// read with repeated calls.
	MaxLimit = 10000
	// HashLen is the length of every SHA-256 held by the store (content
	// digests, API key hashes, enrollment code hashes).
	HashLen = 32
	// PublicKeyLen is the length of a device's OPRF and signing public keys.
	PublicKeyLen = 32
	// InputLen is the length of a record's private OPRF input x.
	InputLen = 32
	// MaxBlobName bounds a blob name.
	MaxBlobName = 128
)

// Times held by the store lie in [MinTime, MaxTime); both bounds fit every
// implementation's time encoding.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
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
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// CheckID returns ErrInvalid unless id is an opaque id with that prefix
// (ids.User, ids.Device, ids.Request, ids.Session or ids.Client). field names
// the argument in the error.
func CheckID(field, prefix, id string) error {
	if ids.Check(prefix, id) != nil {
		return invalid("%s: malformed id %s", field, quote(id))
	}
	return nil
}

// CheckRecordID returns ErrInvalid unless id is a canonical UUIDv7.
func CheckRecordID(field, id string) error {
	if _, err := ids.RecordTime(id); err != nil {
		return invalid("%s: malformed record id %s", field, quote(id))
	}
	return nil
}

// CheckText returns ErrInvalid unless s is valid UTF-8 of at most MaxTextLen
// bytes, and not empty when required.
func CheckText(field, s string, required bool) error {
	switch {
	case required && s == "":
		return invalid("%s is empty", field)
	case len(s) > MaxTextLen:
		return invalid("%s is %d bytes, over %d", field, len(s), MaxTextLen)
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", field)
	}
	return nil
}

// CheckBytes returns ErrInvalid unless b is at most MaxBytesLen bytes, and
// not empty when required.
func CheckBytes(field string, b []byte, required bool) error {
	switch {
	case required && len(b) == 0:
		return invalid("%s is empty", field)
	case len(b) > MaxBytesLen:
		return invalid("%s is %d bytes, over %d", field, len(b), MaxBytesLen)
	}
	return nil
}

// CheckLen returns ErrInvalid unless b is exactly n bytes long.
func CheckLen(field string, b []byte, n int) error {
	if len(b) != n {
		return invalid("%s is %d bytes, want %d", field, len(b), n)
	}
	return nil
}

// CheckList returns ErrInvalid unless l has at most MaxListLen items of at
// most MaxBytesLen bytes in all, none of them empty, and at least one item
// when required.
func CheckList(field string, l [][]byte, required bool) error {
	if required && len(l) == 0 {
		return invalid("%s is empty", field)
	}
	if len(l) > MaxListLen {
		return invalid("%s has %d items, over %d", field, len(l), MaxListLen)
	}
	total := 0
	for i, b := range l {
		if len(b) == 0 {
			return invalid("%s[%d] is empty", field, i)
		}
		total += len(b)
	}
	if total > MaxBytesLen {
		return invalid("%s holds %d bytes, over %d", field, total, MaxBytesLen)
	}
	return nil
}

// CheckTime returns ErrInvalid unless t is in [MinTime, MaxTime), or zero
// when not required.
func CheckTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return invalid("%s is not set", field)
		}
		return nil
	}
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return invalid("%s %s is outside [%s, %s)", field, t.UTC().Format(time.RFC3339), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

// CheckLimit returns ErrInvalid unless 1 <= limit <= MaxLimit.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return invalid("limit %d is outside [1, %d]", limit, MaxLimit)
	}
	return nil
}

// CheckKeyID returns ErrInvalid unless id is a device_key_id: 32 lowercase
// hex digits.
func CheckKeyID(field, id string) error {
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

// CheckBlobName returns ErrInvalid unless name is 1 to MaxBlobName bytes of
// [A-Za-z0-9._-] and not "." or "..", so that no blob store can be led
// outside its namespace by a name.
func CheckBlobName(name string) error {
	if name == "" || len(name) > MaxBlobName || name == "." || name == ".." {
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

// CheckUser checks the argument of CreateUser.
func CheckUser(u *User) error {
	if u == nil {
		return invalid("user is nil")
	}
	if u.DevicePublicKey != nil || u.DeviceKeyID != "" {
		return invalid("a new user has a pinned device key")
	}
	return first(
		CheckID("user id", ids.User, u.ID),
		CheckID("user client id", ids.Client, u.ClientID),
		CheckText("user external id", u.ExternalID, true),
		CheckText("user display name", u.DisplayName, false),
		CheckBytes("user wrapped share", u.ShareWrapped, true),
		CheckTime("user created at", u.CreatedAt, false),
	)
}

// CheckEnrollment checks the argument of CreateEnrollment.
func CheckEnrollment(e *Enrollment) error {
	if e == nil {
		return invalid("enrollment is nil")
	}
	if !e.UsedAt.IsZero() {
		return invalid("a new enrollment has a used time")
	}
	return first(
		CheckLen("enrollment code hash", e.CodeHash, HashLen),
		CheckID("enrollment user id", ids.User, e.UserID),
		CheckTime("enrollment expires at", e.ExpiresAt, true),
	)
}

// CheckDevice checks the argument of CreateDevice.
func CheckDevice(d *Device) error {
	if d == nil {
		return invalid("device is nil")
	}
	if d.State != DevicePending && d.State != DeviceActive && d.State != DeviceAwaitingTransfer {
		return invalid("device state %s", quote(d.State))
	}
	if !d.Evidence.isZero() {
		return invalid("a new device has enrollment evidence")
	}
	return first(
		CheckID("device id", ids.Device, d.ID),
		CheckID("device user id", ids.User, d.UserID),
		CheckText("device name", d.Name, false),
		CheckLen("device OPRF public key", d.OPRFPublicKey, PublicKeyLen),
		CheckLen("device signing public key", d.SigningPublicKey, PublicKeyLen),
		CheckKeyID("device key id", d.KeyID),
		CheckList("device check blinded elements", d.CheckBlinded, false),
		CheckTime("device created at", d.CreatedAt, false),
		CheckTime("device activated at", d.ActivatedAt, false),
		CheckTime("device state at", d.StateAt, false),
	)
}

func (e *DeviceEvidence) isZero() bool {
	return e.EnrollSignature == nil && e.EvaluatedElements == nil && e.Proof == nil &&
		e.AddStatement == nil && e.AddSignature == nil
}

// CheckDeviceEvidence checks the evidence ConfirmDevice writes: the
// enrollment signature, evaluation and proof are required, the add_device
// statement and signature optional but present together.
func CheckDeviceEvidence(e *DeviceEvidence) error {
	if (e.AddStatement == nil) != (e.AddSignature == nil) {
		return invalid("device add statement and signature must be set together")
	}
	return first(
		CheckBytes("device enroll signature", e.EnrollSignature, true),
		CheckList("device check evaluated elements", e.EvaluatedElements, true),
		CheckBytes("device check proof", e.Proof, true),
		CheckBytes("device add statement", e.AddStatement, false),
		CheckBytes("device add signature", e.AddSignature, false),
	)
}

// CheckClient checks the argument of CreateClient.
func CheckClient(c *Client) error {
	if c == nil {
		return invalid("client is nil")
	}
	if err := first(
		CheckID("client id", ids.Client, c.ID),
		CheckText("client name", c.Name, false),
		CheckKeyPrefix(c.KeyPrefix),
		CheckLen("client key hash", c.KeyHash, HashLen),
		CheckTime("client created at", c.CreatedAt, false),
	); err != nil {
		return err
	}
	if len(c.Scopes) > MaxListLen {
		return invalid("client has %d scopes, over %d", len(c.Scopes), MaxListLen)
	}
	for _, s := range c.Scopes {
		if err := CheckText("client scope", s, true); err != nil {
			return err
		}
	}
	return nil
}

// CheckKeyPrefix returns ErrInvalid unless p is 1 to 64 bytes of
// [A-Za-z0-9_-], the shape of an API key's non-secret prefix.
func CheckKeyPrefix(p string) error {
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

// CheckNewRecord checks the argument of CreateRecord: the creation fields
// only, since the others are written by StageRecord and SealRecord.
func CheckNewRecord(r *Record) error {
	if r == nil {
		return invalid("record is nil")
	}
	if r.State != "" && r.State != RecordAwaitingUpload {
		return invalid("a new record is in state %s, not %s", quote(r.State), RecordAwaitingUpload)
	}
	if r.Size != 0 || r.ContentSHA256 != nil || r.BlobName != "" || r.Input != nil || r.DeviceKeyID != "" ||
		r.RequestID != "" || !r.ExpiresAt.IsZero() || r.WrappedDEK != nil || !r.Approval.isZero() || !r.SealedAt.IsZero() {
		return invalid("a new record has fields that StageRecord or SealRecord write")
	}
	return first(
		CheckRecordID("record id", r.ID),
		CheckID("record user id", ids.User, r.UserID),
		CheckID("record client id", ids.Client, r.ClientID),
		CheckText("record title", r.Title, false),
		CheckText("record content type", r.ContentType, false),
		CheckText("record purpose", r.Purpose, false),
		CheckTime("record created at", r.CreatedAt, true),
	)
}

// CheckStaging checks the argument of StageRecord.
func CheckStaging(s *Staging) error {
	if s.Size < 0 {
		return invalid("staging size %d is negative", s.Size)
	}
	return first(
		CheckLen("staging content SHA-256", s.ContentSHA256, HashLen),
		CheckBlobName(s.BlobName),
		CheckLen("staging input", s.Input, InputLen),
		CheckKeyID("staging device key id", s.DeviceKeyID),
		CheckID("staging request id", ids.Request, s.RequestID),
		CheckTime("staging expires at", s.ExpiresAt, true),
	)
}

func (a *Approval) isZero() bool {
	return a.DeviceID == "" && a.Statement == nil && a.Signature == nil && a.EvaluatedElements == nil && a.Proof == nil
}

// CheckApproval checks a device's signed approval (or denial), with its
// optional evaluation and proof.
func CheckApproval(a *Approval) error {
	return first(
		CheckID("approval device id", ids.Device, a.DeviceID),
		CheckBytes("approval statement", a.Statement, true),
		CheckBytes("approval signature", a.Signature, true),
		CheckList("approval evaluated elements", a.EvaluatedElements, false),
		CheckBytes("approval proof", a.Proof, false),
	)
}

// CheckSeal checks the argument of SealRecord.
func CheckSeal(s *Seal) error {
	return first(
		CheckBytes("seal wrapped DEK", s.WrappedDEK, true),
		CheckApproval(&s.Approval),
		CheckTime("seal sealed at", s.SealedAt, true),
	)
}

// CheckNewRequest checks the argument of CreateRequest.
func CheckNewRequest(q *Request) error {
	if q == nil {
		return invalid("request is nil")
	}
	if q.State != "" && q.State != RequestPending {
		return invalid("a new request is in state %s, not %s", quote(q.State), RequestPending)
	}
	if q.Answer != nil || q.Processed {
		return invalid("a new request is already answered")
	}
	var session error
	record := CheckRecordID("request record id", q.RecordID)
	blinded := CheckList("request blinded elements", q.BlindedElements, true)
	switch q.Kind {
	case KindCreate:
		if q.SessionID != "" {
			session = invalid("a create request has a session id")
		}
	case KindAccess:
		session = CheckID("request session id", ids.Session, q.SessionID)
	case KindAddDevice:
		// It names the device to add, and no record, session or element.
		session = CheckID("request device id", ids.Device, q.DeviceID)
		record, blinded = nil, nil
		if q.RecordID != "" || q.SessionID != "" || len(q.BlindedElements) != 0 {
			record = invalid("an add_device request has a record, session or blinded elements")
		}
	default:
		return invalid("request kind %s", quote(q.Kind))
	}
	if q.Kind != KindAddDevice && q.DeviceID != "" {
		return invalid("a %s request has a device id", q.Kind)
	}
	if q.Record.Size < 0 {
		return invalid("request record size %d is negative", q.Record.Size)
	}
	if len(q.Record.ContentSHA256) != 0 && len(q.Record.ContentSHA256) != HashLen {
		return invalid("request record content SHA-256 is %d bytes, want %d or none", len(q.Record.ContentSHA256), HashLen)
	}
	return first(
		CheckID("request id", ids.Request, q.ID),
		CheckID("request user id", ids.User, q.UserID),
		record,
		session,
		CheckKeyID("request device key id", q.DeviceKeyID),
		CheckID("request requester id", ids.Client, q.Requester.ID),
		CheckText("request requester name", q.Requester.Name, false),
		CheckText("request purpose", q.Purpose, false),
		CheckText("request record title", q.Record.Title, false),
		CheckText("request record content type", q.Record.ContentType, false),
		blinded,
		CheckTime("request created at", q.CreatedAt, true),
		CheckTime("request expires at", q.ExpiresAt, true),
		CheckText("request owner node", q.OwnerNode, false),
	)
}

// CheckAnswer checks the argument of AnswerRequest: an approval carries the
// evaluated elements and proof (both, or neither for an add_device
// request), a denial neither.
func CheckAnswer(a *Answer) error {
	switch a.Decision {
	case DecisionApprove:
		if len(a.EvaluatedElements) == 0 && len(a.Proof) == 0 {
			break // the approval of an add_device request, which evaluates nothing
		}
		if err := first(
			CheckList("answer evaluated elements", a.EvaluatedElements, true),
			CheckBytes("answer proof", a.Proof, true),
		); err != nil {
			return err
		}
	case DecisionDeny:
		if len(a.EvaluatedElements) != 0 || len(a.Proof) != 0 {
			return invalid("a denial carries evaluated elements or a proof")
		}
	default:
		return invalid("answer decision %s", quote(a.Decision))
	}
	return first(
		CheckApproval(&a.Approval),
		CheckTime("answer answered at", a.AnsweredAt, true),
	)
}

// AnswerState is the request state an answer's decision leads to.
func AnswerState(decision string) string {
	if decision == DecisionApprove {
		return RequestApproved
	}
	return RequestDenied
}

// CheckNewSession checks the argument of CreateSession.
func CheckNewSession(s *Session) error {
	if s == nil {
		return invalid("session is nil")
	}
	if s.State != "" && s.State != SessionPendingApproval {
		return invalid("a new session is in state %s, not %s", quote(s.State), SessionPendingApproval)
	}
	if s.DownloadsLeft != 0 || !s.Approval.isZero() || !s.OpenedAt.IsZero() {
		return invalid("a new session has fields that OpenSession writes")
	}
	return first(
		CheckID("session id", ids.Session, s.ID),
		CheckRecordID("session record id", s.RecordID),
		CheckID("session user id", ids.User, s.UserID),
		CheckID("session requester id", ids.Client, s.RequesterID),
		CheckText("session purpose", s.Purpose, false),
		CheckID("session request id", ids.Request, s.RequestID),
		CheckTime("session created at", s.CreatedAt, true),
		CheckTime("session expires at", s.ExpiresAt, true),
	)
}

// CheckSessionOpening checks the argument of OpenSession.
func CheckSessionOpening(o *SessionOpening) error {
	if o.Downloads < 1 || o.Downloads > MaxLimit {
		return invalid("session downloads %d is outside [1, %d]", o.Downloads, MaxLimit)
	}
	return first(
		CheckTime("session opening expires at", o.ExpiresAt, true),
		CheckApproval(&o.Approval),
		CheckTime("session opened at", o.OpenedAt, true),
	)
}

// CheckEndState returns ErrInvalid unless to is one of allowed.
func CheckEndState(to string, allowed ...string) error {
	for _, a := range allowed {
		if to == a {
			return nil
		}
	}
	return invalid("target state %s is not one of %q", quote(to), allowed)
}

// CheckNonce checks the arguments of RememberNonce.
func CheckNonce(deviceID, nonce string, expires, now time.Time) error {
	return first(
		CheckID("nonce device id", ids.Device, deviceID),
		CheckText("nonce", nonce, true),
		CheckTime("nonce expires", expires, true),
		CheckTime("now", now, true),
	)
}

// auditEvents are the events an audit entry may name.
var auditEvents = map[string]bool{
	EventUserCreated: true, EventDeviceEnrolled: true, EventRecordCreated: true,
	EventApprovalRequested: true, EventApproved: true, EventDenied: true,
	EventRecordSealed: true, EventRecordRejected: true, EventRecordExpired: true,
	EventAccessRequested: true, EventSessionOpened: true, EventSessionDenied: true,
	EventSessionExpired: true, EventContentDelivered: true,
	EventDeviceRevoked: true, EventDeviceSuspended: true, EventDeviceReactivated: true, EventDeviceCancelled: true,
}

// CheckAuditEntry checks the argument of AppendAudit: the fields the caller
// sets (Seq, PrevHash and Hash are the store's to fill).
func CheckAuditEntry(e *AuditEntry) error {
	if e == nil {
		return invalid("audit entry is nil")
	}
	if !auditEvents[e.Event] {
		return invalid("audit event %s", quote(e.Event))
	}
	if len(e.Details) > MaxDetailsLen {
		return invalid("audit details are %d bytes, over %d", len(e.Details), MaxDetailsLen)
	}
	if len(e.Details) > 0 && !json.Valid(e.Details) {
		return invalid("audit details are not JSON")
	}
	return first(
		CheckID("audit user id", ids.User, e.UserID),
		CheckText("audit actor", e.Actor, true),
		CheckText("audit subject", e.Subject, false),
		CheckTime("audit time", e.At, true),
	)
}

// NextAuditEntry returns the entry to store after prev (nil for a user's
// first entry): a copy of e with At in whole seconds UTC, Seq, PrevHash and
// Hash filled in. It checks e with CheckAuditEntry, and that prev belongs to
// the same user.
func NextAuditEntry(prev, e *AuditEntry) (*AuditEntry, error) {
	if err := CheckAuditEntry(e); err != nil {
		return nil, err
	}
	n := &AuditEntry{
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
		n.PrevHash = make([]byte, HashLen)
	} else {
		if prev.UserID != e.UserID {
			return nil, invalid("previous audit entry belongs to another user")
		}
		n.Seq = prev.Seq + 1
		n.PrevHash = append([]byte(nil), prev.Hash...)
	}
	h, err := AuditHash(n)
	if err != nil {
		return nil, err
	}
	n.Hash = h
	return n, nil
}
