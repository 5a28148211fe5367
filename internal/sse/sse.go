// Package sse reads Server-Sent Events streams (WHATWG HTML, "Server-sent
// events"), strictly and in bounded memory: the device reads the server's
// GET /v1/device/events with it, and the server's tests read it back.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

var (
	// ErrTooLong is returned by Read for a line or an event longer than
	// MaxLineSize.
	ErrTooLong = errors.New("sse: event stream line or event too long")
	// ErrMalformed is returned by Read for a stream that is not UTF-8 text
	// with LF or CRLF line ends.
	ErrMalformed = errors.New("sse: malformed event stream")
)

// MaxLineSize caps a line of an event stream, and the data of one event,
// read by Read. A request event is well under 100 bytes.
const MaxLineSize = 64 << 10

// Read parses a Server-Sent Events stream (WHATWG HTML, "Server-sent
// events", event stream interpretation) from r and calls fn for each event
// dispatched, with its type ("message" when the event has none) and its data.
// data is only valid during the call.
//
// Comments (lines starting with ':'), id and retry fields and unknown fields
// are skipped, as the standard says; one leading byte order mark is skipped.
// It is stricter than the standard where the server never needs leeway: a
// line must end in LF or CRLF (a lone CR fails with ErrMalformed) and
// be UTF-8 (ErrMalformed), and a line or an event's data longer than
// MaxLineSize fails with ErrTooLong, so memory stays bounded whatever
// the peer sends.
//
// Read returns nil when r reports io.EOF (an event not yet ended by a
// blank line is discarded, as the standard says), fn's error if fn fails,
// or r's error.
func Read(r io.Reader, fn func(event string, data []byte) error) error {
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
			return ErrTooLong
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
			return ErrTooLong
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return fmt.Errorf("%w: carriage return inside a line", ErrMalformed)
		}
		if !utf8.Valid(line) {
			return fmt.Errorf("%w: not UTF-8", ErrMalformed)
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
				return ErrTooLong
			}
			data = append(data, value...)
			data = append(data, '\n')
		}
	}
}
