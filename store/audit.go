package store

import (
	"fmt"

	"github.com/assent-dev/assent/audit"
)

// Audit events of DESIGN.md.
const (
	EventUserCreated       = "user_created"
	EventDeviceEnrolled    = "device_enrolled"
	EventRecordCreated     = "record_created"
	EventApprovalRequested = "approval_requested"
	EventApproved          = "approved"
	EventDenied            = "denied"
	EventRecordSealed      = "record_sealed"
	EventRecordRejected    = "record_rejected"
	EventRecordExpired     = "record_expired"
	EventAccessRequested   = "access_requested"
	EventSessionOpened     = "session_opened"
	EventSessionDenied     = "session_denied"
	EventSessionExpired    = "session_expired"
	EventContentDelivered  = "content_delivered"
	// The device set's events (DESIGN.md, "The user's device set").
	EventDeviceRevoked     = "device_revoked"
	EventDeviceSuspended   = "device_suspended"
	EventDeviceReactivated = "device_reactivated"
	EventDeviceCancelled   = "device_cancelled"
)

// The chain format is package audit's; these names keep the store's API.

// LabelAudit separates audit entry hashes from every other hash in Assent.
const LabelAudit = audit.Label

// ErrChainBroken is returned by VerifyChain for a removed, edited, reordered
// or inserted entry.
var ErrChainBroken = audit.ErrChainBroken

// AuditEntry is one entry of a user's append-only audit chain (audit.Entry).
type AuditEntry = audit.Entry

// AuditHash is audit.Hash, its errors wrapping ErrInvalid as well.
func AuditHash(e *AuditEntry) ([]byte, error) {
	h, err := audit.Hash(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return h, nil
}

// VerifyChain is audit.VerifyChain.
func VerifyChain(entries []*AuditEntry) error { return audit.VerifyChain(entries) }
