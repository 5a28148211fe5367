package push

import (
	"io"

	"github.com/assent-dev/assent/internal/sse"
)

// MaxLineSize caps a line of an event stream, and the data of one event,
// read by ReadEvents.
const MaxLineSize = sse.MaxLineSize

// ReadEvents parses a Server-Sent Events stream from r and calls fn for
// each event; it is internal/sse's Read (see there for its strictness and
// errors), for the server's tests and for relays written in Go.
func ReadEvents(r io.Reader, fn func(event string, data []byte) error) error {
	return sse.Read(r, fn)
}
