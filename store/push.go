package store

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
