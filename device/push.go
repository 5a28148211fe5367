package device

import (
	"context"
	"fmt"

	"github.com/assent-dev/assent/api"
)

// vapidKeySize is the length of an uncompressed P-256 public key.
const vapidKeySize = 65

// PushConfig returns the server's VAPID public key (GET
// /v1/device/push-subscription), which a browser subscribes with. A server
// without Web Push answers 404 (an *APIError); a key that is not 65 bytes
// is ErrProtocol.
func (c *Client) PushConfig(ctx context.Context) ([]byte, error) {
	var pc api.PushConfig
	if err := c.do(ctx, call{method: methodGet, target: api.PathDevicePushSubscription, signed: true, want: statusOK, out: &pc}); err != nil {
		return nil, err
	}
	if len(pc.VAPIDPublicKey) != vapidKeySize || pc.VAPIDPublicKey[0] != 4 {
		return nil, fmt.Errorf("%w: the VAPID key is not an uncompressed P-256 point", ErrProtocol)
	}
	return pc.VAPIDPublicKey, nil
}

// SubscribePush registers sub as this device's Web Push subscription (POST
// /v1/device/push-subscription): the server then pushes the id of each of
// the user's requests to it, encrypted (RFC 8291). The server answers 201
// or, when it had exactly this subscription already, 200; both succeed. A
// refusal is an *APIError (400 for an endpoint that is not public https).
func (c *Client) SubscribePush(ctx context.Context, sub *api.PushSubscription) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.send(ctx, call{method: methodPost, target: api.PathDevicePushSubscription, body: sub, signed: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.Status != statusCreated && resp.Status != statusOK {
		return readAPIError(resp)
	}
	return nil
}
