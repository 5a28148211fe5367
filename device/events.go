package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/sse"
)

// DefaultEventIdleTimeout is how long the event stream may stay silent
// before the device takes it for dead. The server sends a keepalive comment
// every 15 s.
const DefaultEventIdleTimeout = time.Minute

var (
	// errStreamIdle: nothing, not even a keepalive, came for too long.
	errStreamIdle = errors.New("device: event stream silent for too long")
	// errStreamEnded: the server closed the event stream.
	errStreamEnded = errors.New("device: event stream ended")
)

// Events opens the server's event stream (GET /v1/device/events, signed)
// and reads it until it ends, ctx is done or nothing arrives for idle
// (0: DefaultEventIdleTimeout). It calls connected once the server has
// accepted the stream, and request with the id of each request event, from
// this goroutine; both must not block for long. Events always returns an
// error saying why the stream ended (ctx's error once ctx is done); the
// caller reconnects. A server refusal is an *APIError; an event that is not
// exactly {"request_id":"req_..."} ends the stream with ErrProtocol.
func (c *Client) Events(ctx context.Context, idle time.Duration, connected func(), request func(requestID string)) error {
	if idle <= 0 {
		idle = DefaultEventIdleTimeout
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.send(ctx, call{method: methodGet, target: "/v1/device/events", signed: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.Status != statusOK {
		return readAPIError(resp)
	}
	if mediaType(resp.Header.Get("Content-Type")) != "text/event-stream" {
		return fmt.Errorf("%w: event stream has content type %.60q", ErrProtocol, resp.Header.Get("Content-Type"))
	}
	connected()

	timer := time.AfterFunc(idle, func() { cancel(errStreamIdle) })
	defer timer.Stop()
	body := &idleReader{r: resp.Body, timer: timer, idle: idle}
	err = sse.Read(body, func(event string, data []byte) error {
		if event != api.SSEEventRequest {
			return nil // a later server may send other events
		}
		id, err := api.DecodePushPayload(data)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		request(id)
		return nil
	})
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if err == nil {
		return errStreamEnded
	}
	return err
}

// mediaType returns the media type of a Content-Type value: before any
// parameter, trimmed, in lower case (RFC 9110 section 8.3.1). Package mime
// is not used for it: its tables would grow the approval app's WebAssembly,
// and the parameters of an event stream do not matter to the device.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// idleReader restarts the idle timer on every read that returns data, so a
// keepalive comment keeps the stream alive.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	return n, err
}
