// Package push tells a user's devices that a request waits for them, as the
// Push section of DESIGN.md describes: a Notifier carries the request id and
// nothing else, over Server-Sent Events to connected devices (Hub, serving
// GET /v1/device/events), a signed webhook to a self-hosted relay (Webhook),
// or Web Push to the subscriptions devices register (WebPush, RFC 8030 with
// RFC 8291 payload encryption and RFC 8292 VAPID).
//
// A push is only a hint. The device learns what is asked by fetching the
// request over its authenticated API, and a device that missed a push finds
// the request with GET /v1/device/requests?state=pending. So delivery is best
// effort everywhere in this package: a slow subscriber is disconnected rather
// than waited for, and a user with no connected device is not an error.
package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/sse"
)

// Notifier tells the devices of a user that request requestID waits for them.
//
// What a notifier may carry: the request id, which is opaque and random, and
// which is worthless without a device's signing key (the device fetches the
// request over its authenticated API). What it must never carry: the user id
// (to a third party), the record title, purpose, requester, content digest,
// blinded elements or anything else from the request. Push providers (FCM,
// APNs, a relay) keep logs that may leak; DESIGN.md trusts them with nothing.
// The user id is an argument only so that a notifier can route the message;
// the ones in this package never send it off the server.
//
// Notify fails with an error wrapping ids.ErrMalformed if requestID is not a
// request id, which also keeps anything else from being smuggled in it.
type Notifier interface {
	Notify(ctx context.Context, userID, requestID string) error
}

// EventRequest is the SSE event type of a request notification.
const EventRequest = "request"

var (
	// ErrConfig is returned by NewHub and NewWebhook for an invalid option.
	ErrConfig = errors.New("push: invalid configuration")
	// ErrClosed is returned by Hub.Serve and Hub.Notify after Hub.Close,
	// and by Webhook.Notify after Webhook.Close.
	ErrClosed = errors.New("push: closed")
	// ErrTooManySubscribers is returned by Hub.Serve past the per-user or
	// the total cap of streams; the server answers 429.
	ErrTooManySubscribers = errors.New("push: too many event subscribers")
	// ErrNoFlush is returned by Hub.Serve for a ResponseWriter that cannot
	// flush, on which no event would ever reach the device.
	ErrNoFlush = errors.New("push: response writer cannot flush")
	// ErrSlowSubscriber is returned by Hub.Serve when the hub ended a stream
	// whose buffer was full.
	ErrSlowSubscriber = errors.New("push: subscriber too slow, disconnected")
	// ErrReplaced is returned by Hub.Serve when the same device opened a
	// newer stream.
	ErrReplaced = errors.New("push: stream replaced by a newer one from the same device")
	// ErrDeviceEnded is returned by Hub.Serve when the hub ended the stream
	// of a device that was revoked or suspended (Hub.EndDevice).
	ErrDeviceEnded = errors.New("push: the device may no longer receive events")
	// ErrWebhookStatus is returned by Webhook.Notify when the relay answered
	// with a status other than 2xx; the error names the status.
	ErrWebhookStatus = errors.New("push: webhook answered with a non-2xx status")
	// ErrWebhookSignature is the one opaque error of VerifyWebhook for any
	// malformed, stale or wrong signature.
	ErrWebhookSignature = errors.New("push: webhook signature invalid")
	// ErrPayload is returned by DecodePayload for anything but exactly
	// {"request_id":"<request id>"}.
	ErrPayload = errors.New("push: malformed payload")
	// ErrStreamTooLong and ErrStreamMalformed are ReadEvents' errors
	// (internal/sse).
	ErrStreamTooLong   = sse.ErrTooLong
	ErrStreamMalformed = sse.ErrMalformed
)

// payload is the whole of what leaves the server in a push, as SSE data and
// as the webhook body.
type payload struct {
	RequestID string `json:"request_id"`
}

// encodePayload returns {"request_id":"<requestID>"}. Checking the id first
// keeps newlines (which would end an SSE field) and other data out.
func encodePayload(requestID string) ([]byte, error) {
	if err := ids.Check(ids.Request, requestID); err != nil {
		return nil, fmt.Errorf("push: request id: %w", err)
	}
	return json.Marshal(payload{RequestID: requestID})
}

// DecodePayload returns the request id of an SSE event's data or a webhook
// body. It accepts only the exact bytes the server sends,
// {"request_id":"<request id>"} with no other field, space or escape, and
// fails with ErrPayload otherwise.
func DecodePayload(data []byte) (requestID string, err error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return "", ErrPayload
	}
	// Re-encoding and comparing rejects what Unmarshal forgives: other
	// fields, duplicate or differently cased keys, spaces, escapes.
	want, err := encodePayload(p.RequestID)
	if err != nil || !bytes.Equal(want, data) {
		return "", ErrPayload
	}
	return p.RequestID, nil
}
