// Package store defines how Assent keeps its state: the Store interface that
// the server uses, the records it holds, and the errors every implementation
// returns. It implements the "Storage" section of DESIGN.md.
//
// Every state change is one atomic conditional update: of any number of
// callers racing on the same transition, exactly one succeeds and the others
// get ErrConflict (wrong state) or ErrExpired (past the deadline). The
// interface has no SQL in it and needs no multi-document transactions, so the
// embedded SQLite store (store/sqlite) and the MongoDB store (store/mongo)
// implement it alike, and both run the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/assent-dev/assent/api"
)

// Errors returned by every Store and BlobStore implementation, wrapped with
// detail; test them with errors.Is.
var (
	// ErrNotFound: no object has that id (or code, or prefix).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the object exists already, or is not in the state the
	// transition starts from (another caller won the race).
	ErrConflict = errors.New("store: conflict")
	// ErrExpired: the object's deadline has passed, so the transition is refused.
	ErrExpired = errors.New("store: expired")
	// ErrInvalid: an argument is malformed (an empty or oversize field, a
	// malformed id, an unknown state).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnavailable: the storage itself failed (I/O error, disk full, read-only
	// file, database unreachable). The call may succeed later.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrAuditNotWritten: a combined call (CreateRecordAudited, StageAndAsk,
	// AnswerAndSeal) made its state change, but its audit entries could not
	// be appended. Only a store that cannot make both in one transaction
	// (MongoDB, which uses no multi-document transactions) returns it; it is
	// the one error after which a method has changed something. The caller
	// treats the change as made, as it treats an AppendAudit that fails
	// after a change.
	ErrAuditNotWritten = errors.New("store: state changed, audit entry not written")
)

// The states are the wire contract's (package api), stored as they are
// sent.

// Record states (DESIGN.md: awaiting_upload -> pending_approval -> sealed |
// rejected | expired).
const (
	RecordAwaitingUpload  = api.RecordAwaitingUpload
	RecordPendingApproval = api.RecordPendingApproval
	RecordSealed          = api.RecordSealed
	RecordRejected        = api.RecordRejected
	RecordExpired         = api.RecordExpired
)

// Session states (pending_approval -> open -> consumed | denied | expired).
const (
	SessionPendingApproval = api.SessionPendingApproval
	SessionOpen            = api.SessionOpen
	SessionConsumed        = api.SessionConsumed
	SessionDenied          = api.SessionDenied
	SessionExpired         = api.SessionExpired
)

// Device request states (pending -> approved | denied | expired).
const (
	RequestPending  = api.RequestPending
	RequestApproved = api.RequestApproved
	RequestDenied   = api.RequestDenied
	RequestExpired  = api.RequestExpired
)

// Device states (DESIGN.md, "The user's device set"): pending -> active ->
// revoked | suspended; awaiting_transfer -> pending for a device added by
// transfer (awaiting_transfer -> cancelled when its add_device request is
// denied or expires); pending -> recovery_pending -> active | cancelled for a recovery
// enrollment while another device of the user is active; suspended -> active
// (only on a device's signed statement) | revoked. A device is pending from
// enrollment until its enrollment check (proof and signature) is confirmed.
// Only an active device answers for its user or makes signed calls other
// than those its state is waiting for.
const (
	DevicePending          = api.DevicePending
	DeviceActive           = api.DeviceActive
	DeviceRevoked          = api.DeviceRevoked
	DeviceSuspended        = api.DeviceSuspended
	DeviceAwaitingTransfer = api.DeviceAwaitingTransfer
	DeviceRecoveryPending  = api.DeviceRecoveryPending
	DeviceCancelled        = api.DeviceCancelled
)

// DeviceTransitions lists the moves SetDeviceState makes, from -> allowed
// targets. The first move out of pending is ConfirmDevice's.
var DeviceTransitions = map[string][]string{
	DeviceAwaitingTransfer: {DevicePending, DeviceCancelled},
	DeviceRecoveryPending:  {DeviceActive, DeviceCancelled},
	DeviceActive:           {DeviceRevoked, DeviceSuspended},
	DeviceSuspended:        {DeviceActive, DeviceRevoked},
}

// Field limits enforced by every implementation (ErrInvalid past them).
const (
	MaxTextLen  = 1024  // titles, names, purposes, content types, external ids
	MaxBytesLen = 16384 // statements, blinded elements, wrapped keys, signatures
)

// User is a person whose records Assent keeps.
type User struct {
	ID          string
	ClientID    string // the third party that created the user
	ExternalID  string // the third party's own id for the user; unique per ClientID
	DisplayName string
	// ShareWrapped is the user's server share kS_u, wrapped under the master
	// key; ShareVersion is bound into the wrap's associated data.
	ShareWrapped []byte
	ShareVersion uint32
	CreatedAt    time.Time
	// DevicePublicKey is the user's pinned pkD and DeviceKeyID its
	// device_key_id, both empty until the first device becomes active
	// (PinUserKey); never changed after.
	DevicePublicKey []byte
	DeviceKeyID     string
}

// Enrollment is a single-use enrollment code. Only the SHA-256 of the code is
// stored.
type Enrollment struct {
	CodeHash  []byte // SHA-256 of the code, 32 bytes
	UserID    string
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Device is an enrolled phone (or `assent device` agent).
type Device struct {
	ID               string
	UserID           string
	Name             string
	OPRFPublicKey    []byte // pkD, 32 bytes
	SigningPublicKey []byte // Ed25519, 32 bytes
	KeyID            string // device_key_id: hex of the first 16 bytes of SHA-256(pkD)
	State            string // one of the Device* states
	// Platform is api.PlatformAgent or api.PlatformWeb as the device said
	// at enrollment, or empty if it did not say.
	Platform string
	// CheckBlinded holds the blinded elements of the enrollment check, so that
	// any node can verify the confirmation.
	CheckBlinded [][]byte
	CreatedAt    time.Time
	ActivatedAt  time.Time // set by ConfirmDevice to active, or SetDeviceState from recovery_pending
	StateAt      time.Time // the last state change (SetDeviceState or ConfirmDevice)
	// Evidence is the device's confirmed enrollment check, kept so that
	// anyone can check offline that a holder of kD endorsed its signing key.
	Evidence DeviceEvidence
}

// DeviceEvidence is what binds a device's signing key to the user's pkD: its
// enrollment statement's signature and its enrollment-check evaluation and
// proof (the statement and blinded elements are rebuilt from the Device).
// AddStatement and AddSignature are set for a device added by transfer: the
// existing device's signed add_device statement.
type DeviceEvidence struct {
	EnrollSignature   []byte
	EvaluatedElements [][]byte
	Proof             []byte
	AddStatement      []byte
	AddSignature      []byte
}

// Client is a third party holding an API key. The key itself is never
// stored: only a non-secret prefix to find the client and the SHA-256 of the
// whole key, compared in constant time by the server.
type Client struct {
	ID        string
	Name      string
	KeyPrefix string
	KeyHash   []byte
	Scopes    []string
	CreatedAt time.Time
}

// Approval is what a device signed, kept with a sealed record or an opened
// session, with the evaluation it answered with (so that anyone can check
// the proof against pkD). An Answer's Approval leaves EvaluatedElements and
// Proof empty: the Answer carries them itself.
type Approval struct {
	DeviceID          string
	Statement         []byte
	Signature         []byte
	EvaluatedElements [][]byte // optional
	Proof             []byte   // optional
}

// Record is one record of a user: metadata, the wrapped data key and where its
// ciphertext is.
type Record struct {
	ID          string // UUIDv7
	UserID      string
	ClientID    string // the creating third party
	Title       string
	ContentType string
	Purpose     string
	State       string
	CreatedAt   time.Time

	// Set when the upload completes (StageRecord). BlobName stays empty
	// for a record whose ciphertext the store keeps (Staging.Content);
	// GetRecord never returns that ciphertext (RecordContent does).
	Size          int64
	ContentSHA256 []byte
	BlobName      string
	Input         []byte // x: the 32-byte private OPRF input
	DeviceKeyID   string // the key the approval must come from
	RequestID     string // the create request waiting for the device
	ExpiresAt     time.Time

	// Set when sealed (SealRecord).
	WrappedDEK []byte
	Approval   Approval
	SealedAt   time.Time
}

// Staging is what StageRecord writes: the upload is complete and the record
// now waits for the device. The ciphertext is either in the blob store
// under BlobName, or, for a small record, Content itself (1 to
// MaxInlineContent bytes, kept by the store with the record and read with
// RecordContent): exactly one of the two is set.
type Staging struct {
	Size          int64
	ContentSHA256 []byte
	BlobName      string
	Content       []byte
	Input         []byte
	DeviceKeyID   string
	RequestID     string
	ExpiresAt     time.Time
}

// Seal is what SealRecord writes.
type Seal struct {
	WrappedDEK []byte
	Approval   Approval
	SealedAt   time.Time
}

// Requester names the third party asking, as shown on the device.
type Requester struct {
	ID   string
	Name string
}

// RequestRecord is the record as the server describes it in a device request.
type RequestRecord struct {
	Title         string
	ContentType   string
	Size          int64
	ContentSHA256 []byte
}

// Request is one question to the user's device: seal this record, or open it
// for this requester.
type Request struct {
	ID        string
	Kind      string // "create", "access" or "add_device"
	UserID    string
	RecordID  string // empty for kind "add_device"
	SessionID string // for kind "access"
	// DeviceID is, for kind "add_device", the device waiting for the
	// transfer (its name and signing key are the Device's); empty otherwise.
	DeviceID        string
	DeviceKeyID     string
	Requester       Requester
	Purpose         string
	Record          RequestRecord
	BlindedElements [][]byte
	State           string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	// OwnerNode is the API node that holds the pending secrets (DEK, blinds).
	OwnerNode string

	// Set by AnswerRequest.
	Answer *Answer
	// Processed is set once the owner node has acted on the answer.
	Processed bool
}

// Answer is a device's verified response to a request, stored so that the
// owner node can finish the work even when another node received it.
type Answer struct {
	Decision          string // "approve" or "deny"
	EvaluatedElements [][]byte
	Proof             []byte
	Approval          Approval
	AnsweredAt        time.Time
}

// Session is an access session: one requester may download one record,
// within a time and a number of downloads.
type Session struct {
	ID            string
	RecordID      string
	UserID        string
	RequesterID   string
	Purpose       string
	RequestID     string
	State         string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	DownloadsLeft int
	Approval      Approval // set when opened
	OpenedAt      time.Time
}

// SealingAnswer is what AnswerAndSeal writes: a device's approval of a
// create request and the seal it allows, with their audit entries.
type SealingAnswer struct {
	RequestID string
	Answer    Answer // Decision must be "approve"
	// AnswerAudit (the approved event) is appended once the answer is
	// stored, SealAudit (record_sealed) once the record is sealed.
	AnswerAudit *AuditEntry
	RecordID    string
	Seal        Seal
	SealAudit   *AuditEntry
}

// OpeningAnswer is what AnswerAndOpen writes: a device's approval of an
// access request and the session it opens, with their audit entries.
type OpeningAnswer struct {
	RequestID string
	Answer    Answer // Decision must be "approve"
	// AnswerAudit (the approved event) is appended once the answer is
	// stored, OpenAudit (session_opened) once the session is open.
	AnswerAudit *AuditEntry
	SessionID   string
	Opening     SessionOpening
	OpenAudit   *AuditEntry
}

// SessionOpening is what OpenSession writes.
type SessionOpening struct {
	ExpiresAt time.Time
	Downloads int
	Approval  Approval
	OpenedAt  time.Time
}

// Store keeps Assent's state. Implementations are safe for concurrent use,
// also by several processes sharing one database. Every method returns
// ErrInvalid for malformed arguments and an error wrapping ErrUnavailable
// when the storage fails; other errors are listed per method. A method
// returning an error has changed nothing.
//
// The argument rules are the functions of store/internal/check (check.User,
// check.NewRecord, check.Limit, ...), which every implementation calls, so
// all refuse the same input with the same message. A Create method takes the
// object in its first state (State empty or that state) and refuses fields
// that a later transition writes. Times are kept to the millisecond at least
// and returned in UTC; lists come back nil when empty.
type Store interface {
	// CreateUser inserts u. ErrConflict if the id, or the pair
	// (ClientID, ExternalID), exists.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user, or ErrNotFound.
	GetUser(ctx context.Context, id string) (*User, error)
	// UserByExternalID returns the user that client clientID created with
	// externalID, or ErrNotFound.
	UserByExternalID(ctx context.Context, clientID, externalID string) (*User, error)

	// CreateEnrollment inserts an enrollment code (by hash). ErrConflict if
	// the hash exists.
	CreateEnrollment(ctx context.Context, e *Enrollment) error
	// UseEnrollment marks the code used, once: ErrNotFound for an unknown
	// hash, ErrConflict if already used, ErrExpired if now >= ExpiresAt.
	UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*Enrollment, error)
	// GetEnrollment returns the code by hash without changing it, reading
	// what any replica or read connection holds (it may lag a write by a
	// moment), or ErrNotFound. It lets the server refuse an unknown, used
	// or expired code without taking the store's writer.
	GetEnrollment(ctx context.Context, codeHash []byte) (*Enrollment, error)

	// CreateDevice inserts d (normally pending). ErrConflict if the id exists.
	CreateDevice(ctx context.Context, d *Device) error
	// GetDevice returns the device, or ErrNotFound.
	GetDevice(ctx context.Context, id string) (*Device, error)
	// ConfirmDevice moves a pending device to to (DeviceActive or
	// DeviceRecoveryPending), writing ev, StateAt = now and, for active,
	// ActivatedAt = now: ErrConflict unless pending, ErrInvalid for another
	// target.
	ConfirmDevice(ctx context.Context, id, to string, ev DeviceEvidence, now time.Time) error
	// SetDeviceState moves a device from from to to, one of
	// DeviceTransitions (ErrInvalid for another pair), writing StateAt = now
	// (and ActivatedAt = now for recovery_pending -> active): ErrNotFound for an
	// unknown id, ErrConflict unless the device is in from.
	SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error
	// ActiveDevices lists the user's active devices, oldest first.
	ActiveDevices(ctx context.Context, userID string) ([]*Device, error)
	// UserDevices lists all the user's devices in any state, oldest first.
	UserDevices(ctx context.Context, userID string) ([]*Device, error)
	// PinUserKey sets the user's DevicePublicKey and DeviceKeyID, once:
	// ErrNotFound for an unknown user, ErrConflict if a key is pinned
	// already (whichever key; the caller rereads the user to compare).
	PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error

	// CreateClient inserts c. ErrConflict if the id or prefix exists.
	CreateClient(ctx context.Context, c *Client) error
	// ClientByPrefix returns the client with that key prefix, or ErrNotFound.
	ClientByPrefix(ctx context.Context, prefix string) (*Client, error)
	// Clients lists the clients, oldest first, at most limit of them.
	Clients(ctx context.Context, limit int) ([]*Client, error)
	// DeleteClient removes a client, which revokes its key: ClientByPrefix
	// answers ErrNotFound from then on. The users it created keep its id.
	// ErrNotFound if there is no such client.
	DeleteClient(ctx context.Context, id string) error

	// CreateRecord inserts r in state awaiting_upload. ErrConflict if the id
	// exists.
	CreateRecord(ctx context.Context, r *Record) error
	// GetRecord returns the record, or ErrNotFound.
	GetRecord(ctx context.Context, id string) (*Record, error)
	// StageRecord moves awaiting_upload -> pending_approval and writes s.
	// ErrConflict from any other state.
	StageRecord(ctx context.Context, id string, s Staging) error
	// SealRecord moves pending_approval -> sealed and writes s, only while
	// now < ExpiresAt: ErrExpired after, ErrConflict from any other state.
	SealRecord(ctx context.Context, id string, s Seal, now time.Time) error
	// EndRecord moves a record from awaiting_upload or pending_approval to
	// rejected or expired (to), deleting the ciphertext the store kept for
	// it (Staging.Content) in the same change. ErrConflict from any other
	// state; ErrInvalid for another target state.
	EndRecord(ctx context.Context, id, to string, now time.Time) error
	// RecordsToExpire lists up to limit records pending approval with
	// ExpiresAt <= now, and records awaiting upload created before
	// uploadDeadline, earliest deadline first (a pending record's deadline
	// is ExpiresAt, an awaiting one's CreatedAt + (now - uploadDeadline)).
	RecordsToExpire(ctx context.Context, now, uploadDeadline time.Time, limit int) ([]*Record, error)
	// RecordContent returns the ciphertext a record staged with
	// Staging.Content keeps, while it is pending approval or sealed:
	// ErrNotFound for an unknown record, one whose ciphertext is in the
	// blob store, or one ended (rejected or expired).
	RecordContent(ctx context.Context, id string) ([]byte, error)
	// CountRecords counts the records of a user in any state; for limits and
	// benchmarks.
	CountRecords(ctx context.Context, userID string) (int, error)

	// CreateRequest inserts q in state pending. ErrConflict if the id exists.
	CreateRequest(ctx context.Context, q *Request) error
	// GetRequest returns the request, or ErrNotFound.
	GetRequest(ctx context.Context, id string) (*Request, error)
	// PendingRequests lists the user's pending, unexpired requests, oldest
	// first, at most limit.
	PendingRequests(ctx context.Context, userID string, now time.Time, limit int) ([]*Request, error)
	// CountPendingRequests counts the user's pending, unexpired requests.
	CountPendingRequests(ctx context.Context, userID string, now time.Time) (int, error)
	// AnswerRequest moves pending -> approved or denied (by a.Decision) and
	// stores a, only while now < ExpiresAt: ErrExpired after, ErrConflict
	// from any other state (a second answer always fails).
	AnswerRequest(ctx context.Context, id string, a Answer, now time.Time) error
	// ExpireRequest moves pending -> expired: ErrConflict from any other state.
	ExpireRequest(ctx context.Context, id string, now time.Time) error
	// RequestsToExpire lists up to limit pending requests with
	// ExpiresAt <= now, oldest first.
	RequestsToExpire(ctx context.Context, now time.Time, limit int) ([]*Request, error)
	// AnsweredRequests lists up to limit answered (approved or denied)
	// requests owned by node that are not yet processed, oldest first.
	AnsweredRequests(ctx context.Context, node string, limit int) ([]*Request, error)
	// MarkProcessed sets Processed on an answered request, once: ErrConflict
	// if it is already processed or not answered.
	MarkProcessed(ctx context.Context, id string) error
	// PendingOwnedBy lists up to limit pending requests owned by node (for
	// expiring what an earlier run of that node left behind).
	PendingOwnedBy(ctx context.Context, node string, limit int) ([]*Request, error)

	// CreateSession inserts s in state pending_approval. ErrConflict if the
	// id exists.
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns the session, or ErrNotFound.
	GetSession(ctx context.Context, id string) (*Session, error)
	// OpenSession moves pending_approval -> open and writes o, only while
	// now < ExpiresAt: ErrExpired after, ErrConflict from any other state.
	OpenSession(ctx context.Context, id string, o SessionOpening, now time.Time) error
	// EndSession moves a session from pending_approval or open to denied,
	// expired or consumed (to). ErrConflict from any other state; ErrInvalid
	// for another target state.
	EndSession(ctx context.Context, id, to string, now time.Time) error
	// UseDownload takes one download from an open session, only while
	// now < ExpiresAt and DownloadsLeft > 0, and returns how many are left;
	// the last one moves the session to consumed. ErrExpired past the
	// deadline, ErrConflict when not open or none is left.
	UseDownload(ctx context.Context, id string, now time.Time) (left int, err error)
	// SessionsToExpire lists up to limit sessions pending approval or open
	// with ExpiresAt <= now, oldest first.
	SessionsToExpire(ctx context.Context, now time.Time, limit int) ([]*Session, error)

	// Combined calls: the writes of one step of sealing a record, in one
	// call, so that the step costs one round trip and, in SQLite and
	// PostgreSQL, one transaction. Each is exactly the listed methods in
	// order, with their argument checks and errors, and changes nothing when
	// it fails, except for ErrAuditNotWritten. Audit entries are appended as
	// by AppendAudit.

	// CreateRecordAudited is CreateRecord(r), then AppendAudit(e) (the
	// record_created event).
	CreateRecordAudited(ctx context.Context, r *Record, e *AuditEntry) error
	// StageAndAsk is StageRecord(recordID, s) (awaiting_upload ->
	// pending_approval), CreateRequest(q) (the create request, pending)
	// and AppendAudit(e) (approval_requested): ErrConflict if the record is
	// not awaiting upload or the request id exists, ErrNotFound if there is
	// no such record. A store without multi-document transactions inserts
	// q first and expires it again if the record cannot be staged.
	StageAndAsk(ctx context.Context, recordID string, s Staging, q *Request, e *AuditEntry) error
	// AskAccess is CreateSession(sess) (pending approval), CreateRequest(q)
	// (its access request, pending) and AppendAudit(e) (access_requested):
	// ErrConflict if the session id or the request id exists. q must be
	// sess's request (q.SessionID, RecordID and UserID are sess's, and
	// sess.RequestID is q.ID). A store without multi-document
	// transactions inserts the session first and ends it (expired) again
	// if the request cannot be stored.
	AskAccess(ctx context.Context, sess *Session, q *Request, e *AuditEntry) error
	// AnswerAndSeal stores an approval and seals the record it approves,
	// for the node that holds the request's secrets and has already used
	// the answer to wrap the record's key: AnswerRequest(a.RequestID,
	// a.Answer, now) and AppendAudit(a.AnswerAudit); then SealRecord
	// (a.RecordID, a.Seal, now), MarkProcessed(a.RequestID) and
	// AppendAudit(a.SealAudit). The answer's errors are AnswerRequest's
	// (then nothing changed). If the record cannot be sealed (no longer
	// pending approval, or expired), the answer stays stored and
	// unprocessed, as after AnswerRequest, and sealed is false with a nil
	// error: the caller processes the answer the usual way.
	AnswerAndSeal(ctx context.Context, a *SealingAnswer, now time.Time) (sealed bool, err error)
	// AnswerAndOpen is AnswerAndSeal for an approved access request: the
	// answer and its audit entry, then OpenSession(a.SessionID, a.Opening,
	// now), MarkProcessed(a.RequestID) and AppendAudit(a.OpenAudit). If the
	// session cannot be opened, the answer stays stored and unprocessed
	// and opened is false with a nil error.
	AnswerAndOpen(ctx context.Context, a *OpeningAnswer, now time.Time) (opened bool, err error)

	// RememberNonce records a device request nonce until expires:
	// ErrConflict if the same (deviceID, nonce) is remembered and has not
	// expired at now. Expired nonces may be forgotten at any time.
	RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error

	// AppendAudit appends e to its user's chain, filling Seq, PrevHash and
	// Hash (any values e has there are ignored) and keeping At in whole
	// seconds UTC, as NextAuditEntry builds it; concurrent appends never fork
	// the chain (Seq is unique per user, and a loser retries). It returns the
	// stored entry and leaves e unchanged.
	AppendAudit(ctx context.Context, e *AuditEntry) (*AuditEntry, error)
	// AuditEntries lists the user's entries with Seq > afterSeq in order, at
	// most limit.
	AuditEntries(ctx context.Context, userID string, afterSeq int64, limit int) ([]*AuditEntry, error)

	// PutPushSubscription makes p the Web Push subscription of device
	// p.DeviceID, replacing the one it had, and reports whether anything
	// changed (false when the device already had exactly p). The caller has
	// checked that the device is active. ErrConflict if another device
	// holds p.Endpoint.
	PutPushSubscription(ctx context.Context, p *PushSubscription) (changed bool, err error)
	// PushSubscriptions lists the subscriptions of the user's active
	// devices, in the order of ActiveDevices.
	PushSubscriptions(ctx context.Context, userID string) ([]*PushSubscription, error)
	// DeletePushSubscription removes the device's subscription if its
	// endpoint is endpoint (so that a push service's 410 for a replaced
	// subscription leaves the new one). ErrNotFound otherwise.
	DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error

	// ApproveTransfer stores the transfer bundle t of device t.DeviceID and
	// moves that device from awaiting_transfer to pending, writing
	// t.Statement and t.Signature as its Evidence.AddStatement and
	// AddSignature and StateAt = now: ErrNotFound for an unknown device,
	// ErrConflict unless it is awaiting transfer (or a bundle for it is
	// stored already).
	ApproveTransfer(ctx context.Context, t *Transfer, now time.Time) error
	// TakeTransfer returns the bundle of device deviceID and deletes it, so
	// that it is handed out at most once: ErrNotFound if there is none
	// (never stored, taken already or deleted), ErrExpired (and nothing
	// deleted) if now >= ExpiresAt.
	TakeTransfer(ctx context.Context, deviceID string, now time.Time) (*Transfer, error)
	// DeleteExpiredTransfers deletes up to limit bundles with ExpiresAt <=
	// now and returns how many it deleted.
	DeleteExpiredTransfers(ctx context.Context, now time.Time, limit int) (int, error)

	// PinMasterKeyID records keyID as the id of the master key that wraps
	// this store's server shares, if none is recorded yet, and returns the
	// recorded one: keyID on the first call, the first caller's on every
	// later one (of concurrent first calls, one wins and all return its id).
	// A server whose key's id differs refuses to start. The id is a
	// non-secret fingerprint (threshold.MasterKey.ID), 1 to 64 bytes.
	PinMasterKeyID(ctx context.Context, keyID string) (string, error)

	// Ping reports whether the storage is reachable (ErrUnavailable if not).
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}
