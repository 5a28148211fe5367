package store

import "github.com/assent-dev/assent/internal/ids"

// Sizes of a Web Push subscription (RFC 8291 section 3.2, RFC 8030).
const (
	// PushP256dhSize is the length of an uncompressed P-256 point.
	PushP256dhSize = 65
	// PushAuthSize is the length of the authentication secret.
	PushAuthSize = 16
	// MaxPushEndpoint bounds the endpoint URL; push services' are far
	// shorter (a few hundred bytes).
	MaxPushEndpoint = 2048
)

// PushSubscription is the Web Push subscription of one device (DESIGN.md
// "Push"): where a push service accepts messages for it (Endpoint, a
// capability URL) and the keys its payload is encrypted to (RFC 8291). A
// device has at most one: a browser that renews its subscription replaces
// it.
type PushSubscription struct {
	DeviceID string
	Endpoint string
	P256dh   []byte // the device's ECDH public key, uncompressed P-256
	Auth     []byte // the authentication secret
}

// CheckPushSubscription returns ErrInvalid unless p has a device id, an
// endpoint of 1 to MaxPushEndpoint bytes, and keys of the sizes above. The
// URL and the point themselves are the caller's to check.
func CheckPushSubscription(p *PushSubscription) error {
	if p == nil {
		return invalid("push subscription: nil")
	}
	if err := CheckID("device id", ids.Device, p.DeviceID); err != nil {
		return err
	}
	if err := CheckPushEndpoint(p.Endpoint); err != nil {
		return err
	}
	if len(p.P256dh) != PushP256dhSize || len(p.Auth) != PushAuthSize {
		return invalid("push subscription keys: p256dh must be %d bytes, auth %d", PushP256dhSize, PushAuthSize)
	}
	return nil
}

// CheckPushEndpoint returns ErrInvalid unless endpoint is 1 to
// MaxPushEndpoint bytes. The message never repeats it: it is a capability.
func CheckPushEndpoint(endpoint string) error {
	if endpoint == "" || len(endpoint) > MaxPushEndpoint {
		return invalid("push subscription endpoint: %d bytes, want 1 to %d", len(endpoint), MaxPushEndpoint)
	}
	return nil
}
