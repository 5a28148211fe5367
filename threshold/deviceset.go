package threshold

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
)

// RevokeStatement returns the bytes an active device signs to revoke device
// deviceID of user userID (itself or another device of the user) at time at:
//
//	"assent/revoke-device/v1" || 0x00 || lp(user_id) || lp(device_id) || u64be(at unix seconds)
//
// Errors wrap ErrStatement: an empty id, a time before 1970.
func RevokeStatement(userID, deviceID string, at time.Time) ([]byte, error) {
	return deviceAtStatement(LabelRevoke, "revocation", userID, deviceID, at)
}

// ReactivateStatement returns the bytes an active device signs to
// reactivate suspended device deviceID of user userID at time at:
//
//	"assent/reactivate-device/v1" || 0x00 || lp(user_id) || lp(device_id) || u64be(at unix seconds)
//
// DESIGN.md says that only a device's signed statement reactivates a
// suspended device but gives no layout; this one, built as the revocation
// statement, is our addition. Errors wrap ErrStatement: an empty id, a time
// before 1970.
func ReactivateStatement(userID, deviceID string, at time.Time) ([]byte, error) {
	return deviceAtStatement(LabelReactivate, "reactivation", userID, deviceID, at)
}

// deviceAtStatement builds label || 0x00 || lp(user_id) || lp(device_id) ||
// u64be(at).
func deviceAtStatement(label, what, userID, deviceID string, at time.Time) ([]byte, error) {
	if err := nonEmpty("user id", userID, "device id", deviceID); err != nil {
		return nil, err
	}
	if at.Unix() < 0 {
		return nil, fmt.Errorf("%w: %s time is before 1970", ErrStatement, what)
	}
	e := newEncoder(label, 1+4+len(userID)+len(deviceID)+8)
	e.raw(0x00)
	lp(&e, "user id", userID)
	lp(&e, "device id", deviceID)
	e.u64(uint64(at.Unix()))
	b, err := e.result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	return b, nil
}

// AddDeviceStatement is what an existing device signs when it answers an
// add_device request (DESIGN.md, "Adding a device (transfer)").
type AddDeviceStatement struct {
	RequestID        string
	UserID           string
	NewDeviceID      string
	SigningPublicKey []byte // the new device's Ed25519 key, 32 bytes
	TransferKeyHash  []byte // SHA-256 of the new device's X25519 transfer public key
	SenderDeviceID   string
	DeviceKeyID      string // the user's pinned device_key_id
	Decision         string // DecisionApprove or DecisionDeny
	ExpiresAt        time.Time
}

// Marshal returns
//
//	"assent/add-device/v1" || 0x00 || lp(request_id) || lp(uid) ||
//	lp(new device_id) || lp(signing_public_key) || lp(SHA-256(transfer_public_key)) ||
//	lp(sender device_id) || lp(device_key_id) || lp(decision) || u64be(expires_at)
//
// Errors wrap ErrStatement: an empty id, a key or hash of the wrong size,
// an unknown decision, an expiry before 1970.
func (s *AddDeviceStatement) Marshal() ([]byte, error) {
	if err := nonEmpty("request id", s.RequestID, "user id", s.UserID, "new device id", s.NewDeviceID,
		"sender device id", s.SenderDeviceID, "device key id", s.DeviceKeyID); err != nil {
		return nil, err
	}
	switch {
	case len(s.SigningPublicKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("%w: signing public key is %d bytes", ErrStatement, len(s.SigningPublicKey))
	case len(s.TransferKeyHash) != sha256.Size:
		return nil, fmt.Errorf("%w: transfer key hash is %d bytes", ErrStatement, len(s.TransferKeyHash))
	case s.Decision != DecisionApprove && s.Decision != DecisionDeny:
		return nil, fmt.Errorf("%w: decision %.40q is neither %q nor %q", ErrStatement, s.Decision, DecisionApprove, DecisionDeny)
	case s.ExpiresAt.Unix() < 0:
		return nil, fmt.Errorf("%w: expiry is before 1970", ErrStatement)
	}
	e := newEncoder(LabelAddDevice, 1+2*8+len(s.RequestID)+len(s.UserID)+len(s.NewDeviceID)+len(s.SigningPublicKey)+
		len(s.TransferKeyHash)+len(s.SenderDeviceID)+len(s.DeviceKeyID)+len(s.Decision)+8)
	e.raw(0x00)
	lp(&e, "request id", s.RequestID)
	lp(&e, "user id", s.UserID)
	lp(&e, "new device id", s.NewDeviceID)
	lp(&e, "signing public key", s.SigningPublicKey)
	lp(&e, "transfer key hash", s.TransferKeyHash)
	lp(&e, "sender device id", s.SenderDeviceID)
	lp(&e, "device key id", s.DeviceKeyID)
	lp(&e, "decision", s.Decision)
	e.u64(uint64(s.ExpiresAt.Unix()))
	b, err := e.result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStatement, err)
	}
	return b, nil
}

// transferKeySize is the size of an X25519 public key.
const transferKeySize = 32

var pairingEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// PairingString returns "assent-pair:v1:" || deviceID || ":" || base32 (RFC
// 4648, no padding) of the transfer public key: what the new device shows
// and the user carries to an existing device.
func PairingString(deviceID string, transferPub []byte) string {
	return LabelPairing + deviceID + ":" + pairingEncoding.EncodeToString(transferPub)
}

// ParsePairingString returns the device id and transfer public key of a
// pairing string; surrounding white space is ignored. Errors wrap
// ErrStatement.
func ParsePairingString(s string) (deviceID string, transferPub []byte, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), LabelPairing)
	if !ok {
		return "", nil, fmt.Errorf("%w: not an %s pairing string", ErrStatement, strings.TrimSuffix(LabelPairing, ":"))
	}
	deviceID, key, ok := strings.Cut(rest, ":")
	if !ok || deviceID == "" {
		return "", nil, fmt.Errorf("%w: pairing string without a device id", ErrStatement)
	}
	transferPub, err = pairingEncoding.DecodeString(key)
	// Re-encoding refuses non-zero trailing bits, so one key has one string.
	if err != nil || len(transferPub) != transferKeySize || pairingEncoding.EncodeToString(transferPub) != key {
		return "", nil, fmt.Errorf("%w: pairing string without a %d-byte transfer key", ErrStatement, transferKeySize)
	}
	return deviceID, transferPub, nil
}

// FormatKeyID groups a device_key_id (32 hex digits) by four for reading
// aloud or comparing by eye: "b370 2741 551a 6f9f cc46 f8bf 508a a54e".
// Anything else comes back unchanged.
func FormatKeyID(keyID string) string {
	if len(keyID) != 32 {
		return keyID
	}
	var b strings.Builder
	for i := 0; i < len(keyID); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(keyID[i : i+4])
	}
	return b.String()
}

// NormalizeKeyID undoes FormatKeyID and lower-cases: what a person typed
// back becomes a device_key_id to compare.
func NormalizeKeyID(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", ":", "").Replace(strings.TrimSpace(s)))
}
