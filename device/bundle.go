package device

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/strictjson"
	"github.com/assent-dev/assent/oprf"
)

// The transfer bundle (DESIGN.md, "Adding a device (transfer)"): what an
// existing device seals with HPKE to a new device's transfer key. Its
// plaintext is one JSON object, strictly decoded (no unknown or repeated
// field, nothing after it, every length exact):
//
//	{
//	  "version":     1,
//	  "user_id":     "usr_...",
//	  "device_key":  base64 of kD, the 32-byte ristretto255 scalar,
//	  "ledger":      base64 of the sender's ledger file (JSON lines, hash chained; may be empty),
//	  "audit_head":  {"seq": N, "hash": base64 of 32 bytes} or null (no chain verified yet),
//	  "devices":     [{"device_id", "device_key_id", "state", "signing_public_key"}, ...]
//	}
//
// devices is the user's device list as the sender verified it from the
// audit chain up to audit_head; signing_public_key (32 bytes) is known for
// the sender itself and may be absent for the others. The wire form of the
// bundle is the HPKE encapsulated key (32 bytes) followed by the
// ciphertext, with info = the signed add_device statement and no
// associated data.

// BundleVersion is the version of the bundle plaintext.
const BundleVersion = 1

// maxBundleDevices bounds the device list of a bundle.
const maxBundleDevices = 1024

// BundleHead is the audit head of a bundle (an AuditHead on the wire).
type BundleHead struct {
	Seq  int64  `json:"seq"`
	Hash []byte `json:"hash"`
}

// Head returns h as an AuditHead (nil for nil).
func (h *BundleHead) Head() *AuditHead {
	if h == nil {
		return nil
	}
	return &AuditHead{Seq: h.Seq, Hash: bytes.Clone(h.Hash)}
}

// State returns the device state the bundle hands over, for ImportState:
// the ledger's lines and the audit head.
func (b *Bundle) State() *State {
	return &State{Lines: splitLines(b.Ledger), Head: b.AuditHead.Head()}
}

// BundleDevice is one device of a bundle's device list.
type BundleDevice struct {
	DeviceID         string `json:"device_id"`
	DeviceKeyID      string `json:"device_key_id"`
	State            string `json:"state"`
	SigningPublicKey []byte `json:"signing_public_key,omitempty"`
}

// Bundle is the plaintext of a transfer bundle. DeviceKey is kD's scalar:
// a secret, cleared by Destroy.
type Bundle struct {
	Version   int            `json:"version"`
	UserID    string         `json:"user_id"`
	DeviceKey []byte         `json:"device_key"`
	Ledger    []byte         `json:"ledger"`
	AuditHead *BundleHead    `json:"audit_head"`
	Devices   []BundleDevice `json:"devices"`
	// Sender is the device that sent the bundle, as OpenTransfer checked
	// it (not part of the plaintext).
	Sender *BundleDevice `json:"-"`
}

// Destroy clears the device share's bytes.
func (b *Bundle) Destroy() {
	clear(b.DeviceKey)
}

// MarshalBundle encodes b, refusing what DecodeBundle would refuse.
func MarshalBundle(b *Bundle) ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// DecodeBundle decodes a bundle plaintext strictly: one JSON object with
// exactly the fields above (no unknown, repeated or differently cased one,
// nothing after it), version 1, a well-formed user id, a 32-byte device
// share that is a valid non-zero scalar, a 32-byte audit head hash with a
// positive sequence number, and devices with well-formed ids, 32-hex-digit
// key ids, UTF-8 states and 32-byte signing keys when present. The ledger's
// own chain is checked when it is imported, not here. Errors wrap
// ErrTransfer.
func DecodeBundle(data []byte) (*Bundle, error) {
	var b Bundle
	if err := strictjson.Decode(data, &b, strictjson.Options{}); err != nil {
		return nil, fmt.Errorf("%w: bundle: %v", ErrTransfer, err)
	}
	if err := b.check(); err != nil {
		b.Destroy()
		return nil, err
	}
	return &b, nil
}

func (b *Bundle) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: bundle: "+format, append([]any{ErrTransfer}, args...)...)
	}
	switch {
	case b.Version != BundleVersion:
		return bad("version %d, want %d", b.Version, BundleVersion)
	case ids.Check(ids.User, b.UserID) != nil:
		return bad("malformed user id")
	case len(b.DeviceKey) != oprf.ScalarSize:
		return bad("device key is %d bytes, want %d", len(b.DeviceKey), oprf.ScalarSize)
	case b.AuditHead != nil && (b.AuditHead.Seq < 1 || len(b.AuditHead.Hash) != sha256.Size):
		return bad("audit head must have a positive seq and a 32-byte hash")
	case len(b.Ledger) > 0 && b.Ledger[len(b.Ledger)-1] != '\n':
		return bad("the ledger does not end in a complete line")
	case len(b.Devices) == 0 || len(b.Devices) > maxBundleDevices:
		return bad("%d devices, want 1 to %d", len(b.Devices), maxBundleDevices)
	}
	if k, err := oprf.ParsePrivateKey(b.DeviceKey); err != nil {
		return bad("device key is not a valid scalar")
	} else {
		k.Destroy()
	}
	seen := map[string]bool{}
	for i, d := range b.Devices {
		switch {
		case ids.Check(ids.Device, d.DeviceID) != nil:
			return bad("device %d: malformed device id", i)
		case seen[d.DeviceID]:
			return bad("device %s listed twice", d.DeviceID)
		case !validKeyID(d.DeviceKeyID):
			return bad("device %d: malformed device key id", i)
		case d.State == "" || len(d.State) > 64 || !utf8.ValidString(d.State):
			return bad("device %d: malformed state", i)
		case d.SigningPublicKey != nil && len(d.SigningPublicKey) != ed25519.PublicKeySize:
			return bad("device %d: signing key is %d bytes", i, len(d.SigningPublicKey))
		}
		seen[d.DeviceID] = true
	}
	return nil
}

// validKeyID reports whether s is a device_key_id: 32 lower-case hex digits.
func validKeyID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
