package push

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxLineSize caps a line of an event stream, and the data of one event,
// read by ReadEvents. A request event is well under 100 bytes.
const MaxLineSize = 64 << 10

// ReadEvents parses a Server-Sent Events stream (WHATWG HTML, "Server-sent
// events", event stream interpretation) from r and calls fn for each event
// dispatched, with its type ("message" when the event has none) and its data.
// data is only valid during the call.
//
// Comments (lines starting with ':'), id and retry fields and unknown fields
// are skipped, as the standard says; one leading byte order mark is skipped.
// It is stricter than the standard where the server never needs leeway: a
// line must end in LF or CRLF (a lone CR fails with ErrStreamMalformed) and
// be UTF-8 (ErrStreamMalformed), and a line or an event's data longer than
// MaxLineSize fails with ErrStreamTooLong, so memory stays bounded whatever
// the peer sends.
//
// ReadEvents returns nil when r reports io.EOF (an event not yet ended by a
// blank line is discarded, as the standard says), fn's error if fn fails,
// or r's error.
func ReadEvents(r io.Reader, fn func(event string, data []byte) error) error {
	// Room for a longest line and its CRLF, so that any longer line shows up
	// as bufio.ErrBufferFull instead of being read in pieces.
	br := bufio.NewReaderSize(r, MaxLineSize+2)
	var (
		event string
		data  []byte
		first = true
	)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return ErrStreamTooLong
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		if first {
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
			first = false
		}
		if len(line) > MaxLineSize {
			return ErrStreamTooLong
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return fmt.Errorf("%w: carriage return inside a line", ErrStreamMalformed)
		}
		if !utf8.Valid(line) {
			return fmt.Errorf("%w: not UTF-8", ErrStreamMalformed)
		}

		if len(line) == 0 {
			if len(data) > 0 {
				if event == "" {
					event = "message"
				}
				// The last data line's LF is not part of the data.
				if err := fn(event, data[:len(data)-1]); err != nil {
					return err
				}
			}
			event, data = "", data[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if len(data)+len(value) > MaxLineSize {
				return ErrStreamTooLong
			}
			data = append(data, value...)
			data = append(data, '\n')
		}
	}
}
