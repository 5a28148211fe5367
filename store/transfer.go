package store

import (
	"time"
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
