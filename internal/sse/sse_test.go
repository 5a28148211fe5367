package sse

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

type event struct{ Type, Data string }

func readAll(r io.Reader) ([]event, error) {
	var got []event
	err := Read(r, func(typ string, data []byte) error {
		got = append(got, event{typ, string(data)})
		return nil
	})
	return got, err
}

func TestRead(t *testing.T) {
	cases := []struct {
		name, in string
		want     []event
	}{
		// The examples of WHATWG HTML, "Server-sent events", 9.2.6.
		{"multi-line data", "data: YHOO\ndata: +2\ndata: 10\n\n", []event{{"message", "YHOO\n+2\n10"}}},
		{"comments, ids, and a partial event at the end",
			": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[]event{{"message", "first event"}, {"message", "second event"}}},
		{"empty data and a lone newline", "data\n\ndata\ndata\n\ndata:", []event{{"message", ""}, {"message", "\n"}}},
		{"one space removed at most", "data:test\n\ndata: test\n\n", []event{{"message", "test"}, {"message", "test"}}},
		{"leading spaces kept past the first", "event:  x\ndata:   y\n\n", []event{{" x", "  y"}}},
		{"the hub's frame", "event: request\ndata: {\"request_id\":\"req_a\"}\n\n", []event{{"request", `{"request_id":"req_a"}`}}},
		{"CRLF line ends", "event: request\r\ndata: a\r\ndata: b\r\n\r\n", []event{{"request", "a\nb"}}},
		{"byte order mark", "\uFEFFdata: a\n\n", []event{{"message", "a"}}},
		{"a second BOM is a field name", "\uFEFF\uFEFFdata: a\n\n", nil},
		{"event without data is not dispatched", "event: request\n\ndata: a\n\n", []event{{"message", "a"}}},
		{"event type resets after dispatch", "event: x\ndata: a\n\ndata: b\n\n", []event{{"x", "a"}, {"message", "b"}}},
		{"empty event type", "event:\ndata: a\n\n", []event{{"message", "a"}}},
		{"unknown fields and retry ignored", "retry: 10\nfoo: bar\nDATA: no\ndata: a\n\n", []event{{"message", "a"}}},
		{"colon in the value", "data: a:b: c\n\n", []event{{"message", "a:b: c"}}},
		{"keepalives", ": keepalive\n\n: keepalive\n\n", nil},
		{"empty", "", nil},
		{"no final blank line", "data: a\n", nil},
		{"NUL in data", "data: a\x00b\n\n", []event{{"message", "a\x00b"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(strings.NewReader(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("events %q, want %q", got, c.want)
			}
			// The same one byte at a time: no dependence on read sizes.
			got, err = readAll(iotest.OneByteReader(strings.NewReader(c.in)))
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("byte by byte: events %q, %v", got, err)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	long := strings.Repeat("a", MaxLineSize+1)
	cases := []struct {
		name, in string
		want     error
	}{
		{"lone CR", "data: a\rdata: b\n\n", ErrMalformed},
		{"CR line ends", "data: a\r\r\n", ErrMalformed},
		{"invalid UTF-8", "data: \xff\n\n", ErrMalformed},
		{"invalid UTF-8 in a comment", ": \xc3\x28\n\n", ErrMalformed},
		{"line too long", "data:" + long + "\n\n", ErrTooLong},
		{"line too long without an end", ":" + long, ErrTooLong},
		{"data too long over many lines", strings.Repeat("data: "+strings.Repeat("a", 1000)+"\n", MaxLineSize/1000+1) + "\n", ErrTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(strings.NewReader(c.in))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if len(got) != 0 {
				t.Fatalf("dispatched %q before the bad input", got)
			}
		})
	}
}

func TestReadLimits(t *testing.T) {
	// A line of exactly MaxLineSize bytes, CRLF ended, and data of exactly
	// MaxLineSize bytes over two lines, are fine.
	line := "data:" + strings.Repeat("a", MaxLineSize-len("data:"))
	got, err := readAll(strings.NewReader(line + "\r\n\r\n"))
	if err != nil || len(got) != 1 || len(got[0].Data) != MaxLineSize-len("data:") {
		t.Fatalf("longest line: %d events, %v", len(got), err)
	}
	half := strings.Repeat("b", MaxLineSize/2-1)
	got, err = readAll(strings.NewReader("data:" + half + "\ndata:" + half + "b\n\n"))
	if err != nil || len(got) != 1 || len(got[0].Data) != MaxLineSize {
		t.Fatalf("largest event: %d events, %v", len(got), err)
	}
}

// endless is a stream of one byte forever.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

func TestReadBoundedOnEndlessLine(t *testing.T) {
	// Never buffering more than a line is what lets this return at all.
	if _, err := readAll(endless('a')); !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
}

func TestReadStopsOnErrors(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Read(strings.NewReader("data: a\n\ndata: b\n\n"), func(string, []byte) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err = %v after %d calls, want fn's error after 1", err, calls)
	}

	broken := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(broken))
	got, err := readAll(in)
	if !errors.Is(err, broken) || !reflect.DeepEqual(got, []event{{"message", "a"}}) {
		t.Fatalf("events %q, err %v; want one event then the reader's error", got, err)
	}
}

// encodeEvent writes ev the way a server would, for the round trip of
// FuzzRead.
func encodeEvent(ev event) string {
	var b strings.Builder
	b.WriteString("event: " + ev.Type + "\n")
	for line := range strings.SplitSeq(ev.Data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("event: request\ndata: {\"request_id\":\"req_aaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n\n: keepalive\n\n"))
	f.Add([]byte("data: YHOO\ndata: +2\ndata: 10\n\n"))
	f.Add([]byte(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"))
	f.Add([]byte("data\n\ndata\ndata\n\ndata:"))
	f.Add([]byte("\uFEFFevent:x\r\ndata: a\r\n\r\n"))
	f.Add([]byte("data: a\rb\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readAll(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		encoded := ""
		for _, ev := range got {
			if len(ev.Data) > MaxLineSize || ev.Type == "" || strings.ContainsAny(ev.Type, "\r\n") ||
				strings.Contains(ev.Data, "\r") || !utf8.ValidString(ev.Type+ev.Data) {
				t.Fatalf("event %q breaks the contract", ev)
			}
			encoded += encodeEvent(ev)
		}
		// What was read, written again, reads back the same (unless writing
		// it again makes a line too long: "data:x" becomes "data: x").
		for line := range strings.SplitSeq(encoded, "\n") {
			if len(line) > MaxLineSize {
				return
			}
		}
		again, err := readAll(strings.NewReader(encoded))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip: %q, %v; want %q", again, err, got)
		}
	})
}
