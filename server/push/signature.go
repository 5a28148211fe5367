package push

import (
	"fmt"
	"time"

	"github.com/assent-dev/assent/api"
)

// SignatureHeader is the header that carries a webhook's signature:
//
//	Assent-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." || body)>
//
// with the hex in lowercase. The timestamp is signed with the body so that a
// relay can refuse a request replayed later (see VerifyWebhook).
const SignatureHeader = api.HeaderWebhookSignature

// MinSecretSize is the shortest webhook secret accepted: 256 bits, the
// output size of the HMAC.
const MinSecretSize = api.MinWebhookSecretSize

func checkSecret(secret []byte) error {
	if len(secret) < MinSecretSize {
		return fmt.Errorf("%w: webhook secret shorter than %d bytes", ErrConfig, MinSecretSize)
	}
	return nil
}

// signatureHeader returns the SignatureHeader value for body sent at now
// (api.SignWebhook: the wire format is the api package's).
func signatureHeader(secret []byte, now time.Time, body []byte) string {
	return api.SignWebhook(secret, now, body)
}

// VerifyWebhook checks header, the value of SignatureHeader, against body and
// secret, for a relay that receives Assent's webhook: api.VerifyWebhook,
// with this package's errors. The timestamp must be within tolerance of
// now, in either direction. Any malformed header, wrong signature, or
// timestamp out of range fails with the opaque ErrWebhookSignature; the
// signatures are compared in constant time. A secret shorter than
// MinSecretSize or a tolerance that is not positive fails with ErrConfig.
//
// Within the tolerance the same request may be replayed. A replay can only
// repeat a notification the relay already sent, which the device answers
// by fetching the request again; a relay that wants none keeps the
// signatures it has seen for the tolerance window.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if err := checkSecret(secret); err != nil {
		return err
	}
	if tolerance <= 0 {
		return fmt.Errorf("%w: tolerance must be positive", ErrConfig)
	}
	if api.VerifyWebhook(secret, header, body, now, tolerance) != nil {
		return ErrWebhookSignature
	}
	return nil
}
