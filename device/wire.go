package device

import (
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/audit"
)

// Requester names the third party that asks, as the server describes it.
type Requester struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RecordView describes a record: its title, content type, size in bytes and
// the SHA-256 of its plaintext.
type RecordView struct {
	Title         string `json:"title"`
	ContentType   string `json:"content_type"`
	Size          int64  `json:"size"`
	ContentSHA256 []byte `json:"content_sha256"`
}

// Request is a device request as the server sends it
// (GET /v1/device/requests/{id}). Nothing in it is trusted before the
// device's checks.
type Request struct {
	RequestID       string     `json:"request_id"`
	Kind            string     `json:"kind"`
	UserID          string     `json:"user_id"`
	RecordID        string     `json:"record_id"`
	DeviceKeyID     string     `json:"device_key_id"`
	Requester       Requester  `json:"requester"`
	Purpose         string     `json:"purpose"`
	Record          RecordView `json:"record"`
	BlindedElements [][]byte   `json:"blinded_elements"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	State           string     `json:"state"`
	// NewDevice is set on a request of kind add_device.
	NewDevice *api.NewDevice `json:"new_device,omitempty"`
}

// Response is a device's answer to a request
// (POST /v1/device/requests/{id}/response). For a deny, EvaluatedElements
// and Proof are empty and omitted.
type Response struct {
	Decision          string   `json:"decision"`
	EvaluatedElements [][]byte `json:"evaluated_elements,omitempty"`
	Proof             []byte   `json:"proof,omitempty"`
	Signature         []byte   `json:"signature"`
	// The answer to an add_device request (api.DeviceResponse).
	TransferKeyHash []byte `json:"transfer_key_hash,omitempty"`
	TransferBundle  []byte `json:"transfer_bundle,omitempty"`
}

type pendingList struct {
	Requests []*Request `json:"requests"`
}

type respondResult struct {
	RequestID string `json:"request_id"`
	State     string `json:"state"`
}

type enrollBody struct {
	EnrollmentCode   string `json:"enrollment_code"`
	DeviceName       string `json:"device_name"`
	OPRFPublicKey    []byte `json:"oprf_public_key"`
	SigningPublicKey []byte `json:"signing_public_key"`
}

type enrollResult struct {
	DeviceID        string   `json:"device_id"`
	UserID          string   `json:"user_id"`
	State           string   `json:"state"`
	BlindedElements [][]byte `json:"blinded_elements"`
}

type confirmBody struct {
	DeviceID          string   `json:"device_id"`
	EvaluatedElements [][]byte `json:"evaluated_elements"`
	Proof             []byte   `json:"proof"`
	Signature         []byte   `json:"signature"`
}

type confirmResult struct {
	DeviceID string `json:"device_id"`
	UserID   string `json:"user_id"`
	State    string `json:"state"`
}

type auditList struct {
	Entries []*audit.Entry `json:"entries"`
}

type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}
