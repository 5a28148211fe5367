package store

import (
	"time"

	"github.com/assent-dev/assent/internal/ids"
)

// MaxTransferLen bounds a transfer bundle (HPKE ciphertext of the device
// share, the ledger, the audit head and the device list).
const MaxTransferLen = 1 << 20

// Transfer is the HPKE transfer bundle that an existing device posted for a
// device added by transfer (DESIGN.md, "Adding a device (transfer)"). The
// store holds ciphertext only: Bundle is sealed to a transfer key the server
// never sees. Statement and Signature are the signed add_device statement
// (the bundle's HPKE info).
type Transfer struct {
	DeviceID  string // the new device
	UserID    string
	RequestID string // the add_device request it answers
	SenderID  string // the device that approved
	Bundle    []byte
	Statement []byte
	Signature []byte
	ExpiresAt time.Time
}

// CheckTransfer checks the argument of ApproveTransfer.
func CheckTransfer(t *Transfer, now time.Time) error {
	if t == nil {
		return invalid("transfer is nil")
	}
	if len(t.Bundle) == 0 || len(t.Bundle) > MaxTransferLen {
		return invalid("transfer bundle is %d bytes, want 1 to %d", len(t.Bundle), MaxTransferLen)
	}
	return first(
		CheckID("transfer device id", ids.Device, t.DeviceID),
		CheckID("transfer user id", ids.User, t.UserID),
		CheckID("transfer request id", ids.Request, t.RequestID),
		CheckID("transfer sender id", ids.Device, t.SenderID),
		CheckBytes("transfer statement", t.Statement, true),
		CheckBytes("transfer signature", t.Signature, true),
		CheckTime("transfer expires at", t.ExpiresAt, true),
		CheckTime("now", now, true),
	)
}

// CheckExpireTransfers checks the arguments of DeleteExpiredTransfers.
func CheckExpireTransfers(now time.Time, limit int) error {
	return first(CheckTime("now", now, true), CheckLimit(limit))
}
