package push

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a webhook's signature:
//
//	Assent-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." || body)>
//
// with the hex in lowercase. The timestamp is signed with the body so that a
// relay can refuse a request replayed later (see VerifyWebhook).
const SignatureHeader = "Assent-Webhook-Signature"

// MinSecretSize is the shortest webhook secret accepted: 256 bits, the
// output size of the HMAC.
const MinSecretSize = 32

func checkSecret(secret []byte) error {
	if len(secret) < MinSecretSize {
		return fmt.Errorf("%w: webhook secret shorter than %d bytes", ErrConfig, MinSecretSize)
	}
	return nil
}

// signatureMAC returns the lowercase hex HMAC-SHA256 of "<t>." || body.
func signatureMAC(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte("."))
	m.Write(body)
	return hex.AppendEncode(nil, m.Sum(nil))
}

// signatureHeader returns the SignatureHeader value for body sent at now.
func signatureHeader(secret []byte, now time.Time, body []byte) string {
	t := strconv.FormatInt(now.Unix(), 10)
	return "t=" + t + ",v1=" + string(signatureMAC(secret, t, body))
}

// VerifyWebhook checks header, the value of SignatureHeader, against body and
// secret, for a relay that receives Assent's webhook. The timestamp must be
// within tolerance of now, in either direction. Any malformed header, wrong
// signature, or timestamp out of range fails with the opaque
// ErrWebhookSignature; the signatures are compared in constant time. A
// secret shorter than MinSecretSize or a tolerance that is not positive
// fails with ErrConfig.
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
	// Exactly "t=<digits>,v1=<hex>", nothing before, between or after.
	tPart, vPart, ok := strings.Cut(header, ",")
	if !ok {
		return ErrWebhookSignature
	}
	t, ok := strings.CutPrefix(tPart, "t=")
	if !ok {
		return ErrWebhookSignature
	}
	v1, ok := strings.CutPrefix(vPart, "v1=")
	if !ok {
		return ErrWebhookSignature
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	// The canonical form only: no sign, no leading zeros.
	if err != nil || sec < 0 || strconv.FormatInt(sec, 10) != t {
		return ErrWebhookSignature
	}
	// In whole seconds, where neither bound can overflow: a Duration is at
	// most 2^63 ns, about 9.2e9 s.
	tol := int64(tolerance / time.Second)
	if sec < now.Unix()-tol || sec > now.Unix()+tol {
		return ErrWebhookSignature
	}
	// Comparing the hex strings also rejects uppercase and wrong lengths.
	if !hmac.Equal([]byte(v1), signatureMAC(secret, t, body)) {
		return ErrWebhookSignature
	}
	return nil
}
