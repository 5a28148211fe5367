package api

import "time"

// CreateUserRequest is the body of POST /v1/users.
type CreateUserRequest struct {
	ExternalID  string `json:"external_id"`
	DisplayName string `json:"display_name"`
}

// Enrollment is the 201 answer of POST /v1/users and of
// POST /v1/users/{uid}/enrollment: a single-use code, shown grouped
// (ABCDE-FGHIJ-KLMNO-PQRST), valid until EnrollmentExpiresAt.
type Enrollment struct {
	UserID              string    `json:"user_id"`
	EnrollmentCode      string    `json:"enrollment_code"`
	EnrollmentExpiresAt time.Time `json:"enrollment_expires_at"`
}

// User states in a User answer: no active device yet, or at least one.
const (
	UserAwaitingDevice = "awaiting_device"
	UserActive         = "active"
)

// User is the answer of GET /v1/users/{uid} and GET /v1/users?external_id=X.
type User struct {
	UserID      string          `json:"user_id"`
	ExternalID  string          `json:"external_id"`
	DisplayName string          `json:"display_name"`
	State       string          `json:"state"` // UserAwaitingDevice or UserActive
	CreatedAt   time.Time       `json:"created_at"`
	Devices     []DeviceSummary `json:"devices"`
}

// DeviceSummary is one active device of a User answer.
type DeviceSummary struct {
	DeviceID    string `json:"device_id"`
	Name        string `json:"name"`
	State       string `json:"state"`
	DeviceKeyID string `json:"device_key_id"`
	// Platform is the one the device enrolled with (PlatformAgent,
	// PlatformWeb), absent if it gave none.
	Platform   string    `json:"platform,omitempty"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

// CreateRecordRequest is the body of POST /v1/users/{uid}/records.
type CreateRecordRequest struct {
	Title       string `json:"title"`
	ContentType string `json:"content_type"`
	Purpose     string `json:"purpose"`
}

// CreatedRecord is the 201 answer of POST /v1/users/{uid}/records.
type CreatedRecord struct {
	RecordID string `json:"record_id"`
	State    string `json:"state"`
}

// Pending is the 202 answer of PUT /v1/records/{rid}/content (RecordID
// set) and POST /v1/records/{rid}/access (SessionID set): work waiting on
// the device's answer to RequestID until ExpiresAt.
//
// MatchCode is the request's two decimal digits (DESIGN.md "Sealing a
// record", step 2; threshold.MatchCode computes it), which the third party
// shows the user: a device that requires number matching asks the user to
// type it, and denies the request on a wrong code (ReasonMatchFailed).
type Pending struct {
	RecordID  string    `json:"record_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	State     string    `json:"state"`
	RequestID string    `json:"request_id"`
	ExpiresAt time.Time `json:"expires_at"`
	MatchCode string    `json:"match_code"`
}

// Approval is what the device signed for a sealed record, with the
// evaluation and proof it answered with (checkable against the user's pkD;
// absent on records sealed before they were kept).
type Approval struct {
	DeviceID          string   `json:"device_id"`
	Statement         []byte   `json:"statement"`
	Signature         []byte   `json:"signature"`
	EvaluatedElements [][]byte `json:"evaluated_elements,omitempty"`
	Proof             []byte   `json:"proof,omitempty"`
}

// Record is the answer of GET /v1/records/{rid}. Size and ContentSHA256 are
// absent until the upload completes, SealedAt and Approval until sealed.
type Record struct {
	RecordID      string     `json:"record_id"`
	UserID        string     `json:"user_id"`
	State         string     `json:"state"`
	Title         string     `json:"title"`
	ContentType   string     `json:"content_type"`
	Size          *int64     `json:"size,omitempty"`
	ContentSHA256 []byte     `json:"content_sha256,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	SealedAt      *time.Time `json:"sealed_at,omitempty"`
	Approval      *Approval  `json:"approval,omitempty"`
}

// AccessRequest is the body of POST /v1/records/{rid}/access.
type AccessRequest struct {
	Purpose string `json:"purpose"`
}

// Session is the answer of GET /v1/sessions/{sid}.
type Session struct {
	SessionID     string    `json:"session_id"`
	RecordID      string    `json:"record_id"`
	State         string    `json:"state"`
	ExpiresAt     time.Time `json:"expires_at"`
	DownloadsLeft int       `json:"downloads_left"`
}

// AuditEntry is one entry of a user's audit chain (docs/wire.md; the hash
// is defined in store/audit.go).
type AuditEntry struct {
	UserID   string    `json:"user_id"`
	Seq      int64     `json:"seq"`
	Event    string    `json:"event"`
	Actor    string    `json:"actor"`
	Subject  string    `json:"subject"`
	Details  []byte    `json:"details"`
	At       time.Time `json:"at"`
	PrevHash []byte    `json:"prev_hash"`
	Hash     []byte    `json:"hash"`
}

// AuditList is the answer of GET /v1/users/{uid}/audit and GET /v1/device/audit
// (optional ?after=SEQ&limit=N).
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
}

// AnswerDetails are the Details of an "approved" or "denied" audit entry:
// the answering device, the statement it signed and its signature, and for
// a deny the device's Reason when it gave one (ReasonMatchFailed). A device
// checks its own ledger's answers against them.
type AnswerDetails struct {
	DeviceID  string `json:"device_id"`
	Statement []byte `json:"statement"`
	Signature []byte `json:"signature"`
	Reason    string `json:"reason,omitempty"`
}

// EnrollRequest is the body of POST /v1/device/enroll. A device added by
// transfer sets Transfer and leaves OPRFPublicKey out: it holds no kD until
// an existing device sends it (DESIGN.md, "Adding a device (transfer)"),
// and its transfer public key is never sent to the server.
type EnrollRequest struct {
	EnrollmentCode   string `json:"enrollment_code"`
	DeviceName       string `json:"device_name"`
	OPRFPublicKey    []byte `json:"oprf_public_key,omitempty"`
	SigningPublicKey []byte `json:"signing_public_key"`
	Transfer         bool   `json:"transfer,omitempty"`
	// Platform is PlatformAgent or PlatformWeb, or empty for a device that
	// does not say; any other value is refused (400) before the code is
	// spent.
	Platform string `json:"platform,omitempty"`
}

// EnrollAnswer is the 201 answer of POST /v1/device/enroll: one blinded
// element for the enrollment check. For a transfer it is the 202 answer,
// with State DeviceAwaitingTransfer.
type EnrollAnswer struct {
	DeviceID        string   `json:"device_id"`
	UserID          string   `json:"user_id"`
	State           string   `json:"state,omitempty"`
	BlindedElements [][]byte `json:"blinded_elements"`
}

// NewDevice is the device an add_device request asks to add: its id, the
// name it enrolled with and its Ed25519 signing key, which the add_device
// statement names.
type NewDevice struct {
	DeviceID         string `json:"device_id"`
	Name             string `json:"name"`
	SigningPublicKey []byte `json:"signing_public_key"`
}

// Transfer is the answer of GET /v1/device/transfer once an existing
// device approved the add_device request: the signed add_device statement
// (which is also the bundle's HPKE info), its signature by the sending
// device, and the HPKE bundle sealed to the new device's transfer key. The
// server hands it out once and keeps no copy.
type Transfer struct {
	DeviceID       string    `json:"device_id"`
	UserID         string    `json:"user_id"`
	RequestID      string    `json:"request_id"`
	SenderDeviceID string    `json:"sender_device_id"`
	Statement      []byte    `json:"statement"`
	Signature      []byte    `json:"signature"`
	Bundle         []byte    `json:"bundle"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// DeviceChange is the body of POST /v1/device/devices/{device_id}/revoke
// and .../reactivate: the time signed in the statement (within 60 s of the
// server's clock) and the calling device's signature over it.
type DeviceChange struct {
	At        time.Time `json:"at"`
	Signature []byte    `json:"signature"`
}

// DeviceState is the answer of a change of the user's device set.
type DeviceState struct {
	DeviceID string `json:"device_id"`
	UserID   string `json:"user_id"`
	State    string `json:"state"`
}

// DeviceList is the answer of GET /v1/users/{uid}/devices: the user's key
// id and every device with its keys, state and evidence.
type DeviceList struct {
	UserKeyID string   `json:"user_key_id"`
	Devices   []Device `json:"devices"`
}

// Device is one device of a DeviceList. Evidence is null for a device that
// never confirmed its enrollment.
type Device struct {
	DeviceID string `json:"device_id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	// Platform is the one the device enrolled with (PlatformAgent,
	// PlatformWeb), absent if it gave none.
	Platform         string          `json:"platform,omitempty"`
	OPRFPublicKey    []byte          `json:"oprf_public_key"`
	SigningPublicKey []byte          `json:"signing_public_key"`
	EnrolledAt       time.Time       `json:"enrolled_at"`
	Evidence         *DeviceEvidence `json:"evidence"`
}

// DeviceEvidence binds a device's signing key to the user's pkD: its
// enrollment statement, the signature over it, and the enrollment check's
// blinded and evaluated elements and proof (DESIGN.md, "Verifiable by
// anyone"). An added device also carries the add_device statement and
// signature of the device that approved it, which alone prove nothing
// about its signing key.
type DeviceEvidence struct {
	EnrollStatement   []byte   `json:"enroll_statement"`
	EnrollSignature   []byte   `json:"enroll_signature"`
	BlindedElements   [][]byte `json:"blinded_elements"`
	EvaluatedElements [][]byte `json:"evaluated_elements"`
	Proof             []byte   `json:"proof"`
	AddStatement      []byte   `json:"add_statement,omitempty"`
	AddSignature      []byte   `json:"add_signature,omitempty"`
}

// ConfirmRequest is the body of POST /v1/device/enroll/confirm.
type ConfirmRequest struct {
	DeviceID          string   `json:"device_id"`
	EvaluatedElements [][]byte `json:"evaluated_elements"`
	Proof             []byte   `json:"proof"`
	Signature         []byte   `json:"signature"`
}

// ConfirmAnswer is the 200 answer of POST /v1/device/enroll/confirm.
type ConfirmAnswer struct {
	DeviceID string `json:"device_id"`
	UserID   string `json:"user_id"`
	State    string `json:"state"`
}

// Requester names the third party that asks, as the server describes it.
type Requester struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RequestRecord is the record as the server describes it in a device request.
type RequestRecord struct {
	Title         string `json:"title"`
	ContentType   string `json:"content_type"`
	Size          int64  `json:"size"`
	ContentSHA256 []byte `json:"content_sha256"`
}

// DeviceRequest is GET /v1/device/requests/{request_id} and an item of
// DeviceRequestList. Nothing in it is trusted by a device before its checks.
type DeviceRequest struct {
	RequestID       string        `json:"request_id"`
	Kind            string        `json:"kind"`
	UserID          string        `json:"user_id"`
	RecordID        string        `json:"record_id"`
	DeviceKeyID     string        `json:"device_key_id"`
	Requester       Requester     `json:"requester"`
	Purpose         string        `json:"purpose"`
	Record          RequestRecord `json:"record"`
	BlindedElements [][]byte      `json:"blinded_elements"`
	CreatedAt       time.Time     `json:"created_at"`
	ExpiresAt       time.Time     `json:"expires_at"`
	State           string        `json:"state"`
	// NewDevice is set on a request of kind add_device (which has no
	// record, requester purpose or blinded elements).
	NewDevice *NewDevice `json:"new_device,omitempty"`
}

// DeviceRequestList is the answer of GET /v1/device/requests?state=pending.
type DeviceRequestList struct {
	Requests []DeviceRequest `json:"requests"`
}

// DeviceResponse is the body of POST /v1/device/requests/{request_id}/response.
// For a deny, EvaluatedElements and Proof are absent.
//
// Reason, only on a deny, says why the device denied when it was not the
// user's choice: ReasonMatchFailed when the user typed another match code
// than the request's. It is not part of the signed statement (DESIGN.md
// fixes that layout); the device request signature covers the whole body,
// so it is the device's word, and the server records it in the audit entry
// of the deny (details "reason"). Any other value is refused (400).
//
// For an add_device request, Signature is over the add_device statement,
// TransferKeyHash is the SHA-256 of the new device's transfer public key
// that the statement names (32 zero bytes for a deny without a pairing
// string), and an approval carries TransferBundle, the HPKE bundle.
type DeviceResponse struct {
	Decision          string   `json:"decision"`
	EvaluatedElements [][]byte `json:"evaluated_elements,omitempty"`
	Proof             []byte   `json:"proof,omitempty"`
	Signature         []byte   `json:"signature"`
	TransferKeyHash   []byte   `json:"transfer_key_hash,omitempty"`
	TransferBundle    []byte   `json:"transfer_bundle,omitempty"`
	Reason            string   `json:"reason,omitempty"`
}

// Reasons of a deny (DeviceResponse.Reason, and "reason" in the details of
// the "denied" audit entry).
const (
	// ReasonMatchFailed: the device requires number matching and the user
	// typed another code than the request's match code.
	ReasonMatchFailed = "match_failed"
)

// DeviceResponseAnswer is the 200 answer to a DeviceResponse.
type DeviceResponseAnswer struct {
	RequestID string `json:"request_id"`
	State     string `json:"state"`
}

// Health is the answer of GET /healthz.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
}

// PushSubscription is the body of POST /v1/device/push-subscription: a
// browser's Web Push subscription (RFC 8030 endpoint; RFC 8291 keys as
// PushSubscription.getKey gives them, here in standard base64 like every
// byte field). P256dh is the 65-byte uncompressed P-256 point, Auth the
// 16-byte authentication secret.
type PushSubscription struct {
	Endpoint string `json:"endpoint"`
	P256dh   []byte `json:"p256dh"`
	Auth     []byte `json:"auth"`
}

// PushConfig is the answer of GET and POST /v1/device/push-subscription:
// the server's VAPID public key (RFC 8292), 65 bytes uncompressed P-256,
// which the browser takes as applicationServerKey when it subscribes.
type PushConfig struct {
	VAPIDPublicKey []byte `json:"vapid_public_key"`
}
