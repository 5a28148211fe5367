package envelope_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/assent-dev/assent/envelope"
)

func TestKeySize(t *testing.T) {
	ct := seal(t, testKey(1), []byte("x"), nil)
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := envelope.NewWriter(io.Discard, make([]byte, n), nil); err != envelope.ErrKeySize {
			t.Errorf("NewWriter with a %d-byte key: %v", n, err)
		}
		if _, err := envelope.NewReader(bytes.NewReader(ct), make([]byte, n)); err != envelope.ErrKeySize {
			t.Errorf("NewReader with a %d-byte key: %v", n, err)
		}
	}
}

func TestWriterClosed(t *testing.T) {
	var out bytes.Buffer
	w, err := envelope.NewWriter(&out, testKey(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Sum() != nil {
		t.Error("Sum before Close is not nil")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := out.Len()
	if _, err := w.Write([]byte("late")); err != envelope.ErrClosed {
		t.Errorf("Write after Close: %v", err)
	}
	if err := w.Close(); err != envelope.ErrClosed {
		t.Errorf("second Close: %v", err)
	}
	if out.Len() != n {
		t.Error("bytes written after Close")
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct {
	limit int
	short bool // report a short write without an error
}

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.limit {
		f.limit -= len(p)
		return len(p), nil
	}
	n := f.limit
	f.limit = 0
	if f.short {
		return n, nil
	}
	return n, errDisk
}

func TestWriterDestinationFails(t *testing.T) {
	dek := testKey(2)
	pt := testPlaintext(2*specChunk+1, 1)
	for _, tc := range []struct {
		name  string
		dst   *failWriter
		want  error
		phase string
	}{
		{"header", &failWriter{limit: 10}, errDisk, "new"},
		{"first chunk", &failWriter{limit: specHeaderSize + 100}, errDisk, "write"},
		{"short write", &failWriter{limit: specHeaderSize + 100, short: true}, io.ErrShortWrite, "write"},
		{"final chunk", &failWriter{limit: specHeaderSize + 2*specEncChunk}, errDisk, "close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := envelope.NewWriter(tc.dst, dek, nil)
			if tc.phase == "new" {
				if !errors.Is(err, tc.want) {
					t.Fatalf("NewWriter: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.Write(pt)
			if tc.phase == "close" {
				if err != nil {
					t.Fatal(err)
				}
				err = w.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The failure is sticky and no digest is offered.
			if _, err2 := w.Write([]byte("x")); err2 != err {
				t.Errorf("Write after failure: %v", err2)
			}
			if err2 := w.Close(); err2 != err {
				t.Errorf("Close after failure: %v", err2)
			}
			if w.Sum() != nil {
				t.Error("Sum after a failed envelope")
			}
		})
	}
}

func TestWriterRandFails(t *testing.T) {
	errRand := errors.New("no entropy")
	_, err := envelope.NewWriter(io.Discard, testKey(1), iotest.ErrReader(errRand))
	if !errors.Is(err, errRand) {
		t.Fatalf("NewWriter with failing rand: %v", err)
	}
	_, err = envelope.NewWriter(io.Discard, testKey(1), bytes.NewReader(make([]byte, 15)))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("NewWriter with short rand: %v", err)
	}
}

// TestWriterFreshNonce: two envelopes of the same plaintext under the same
// DEK share nothing but the header prefix.
func TestWriterFreshNonce(t *testing.T) {
	pt := []byte("same plaintext")
	a, b := seal(t, testKey(1), pt, nil), seal(t, testKey(1), pt, nil)
	if bytes.Equal(a[10:], b[10:]) {
		t.Fatal("two envelopes with the same DEK are identical")
	}
}

// TestReaderSourceFails: a read error of the source is passed on (wrapped), not
// mistaken for a forgery, and is sticky.
func TestReaderSourceFails(t *testing.T) {
	dek := testKey(3)
	pt := testPlaintext(2*specChunk+7, 2)
	ct := seal(t, dek, pt, nil)
	errNet := errors.New("connection reset")
	for _, at := range []int{5, specHeaderSize, specHeaderSize + 100, chunkAt(1), chunkAt(1) + 1, len(ct) - 1} {
		src := io.MultiReader(bytes.NewReader(ct[:at]), iotest.ErrReader(errNet))
		r, err := envelope.NewReader(src, dek)
		if at < specHeaderSize {
			if !errors.Is(err, errNet) {
				t.Errorf("at %d: NewReader = %v", at, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !errors.Is(err, errNet) || errors.Is(err, envelope.ErrCorrupt) {
			t.Errorf("at %d: err = %v", at, err)
		}
		// Only whole authenticated chunks before the failure came out.
		if good := (at - specHeaderSize - 1) / specEncChunk; !bytes.Equal(got, pt[:good*specChunk]) {
			t.Errorf("at %d: returned %d bytes", at, len(got))
		}
		if _, err2 := r.Read(make([]byte, 10)); err2 != err {
			t.Errorf("at %d: error not sticky: %v", at, err2)
		}
	}
}

func TestReaderClose(t *testing.T) {
	dek := testKey(4)
	ct := seal(t, dek, testPlaintext(specChunk+1, 3), nil)
	r, err := envelope.NewReader(bytes.NewReader(ct), dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != envelope.ErrClosed {
		t.Fatalf("Read after Close = %d, %v", n, err)
	}
	if _, err := r.WriteTo(io.Discard); err != envelope.ErrClosed {
		t.Fatalf("WriteTo after Close: %v", err)
	}
}

// TestReaderWriteToFails: a failing destination does not spoil the Reader;
// the rest of the plaintext can still be read.
func TestReaderWriteToFails(t *testing.T) {
	dek := testKey(5)
	pt := testPlaintext(specChunk+50, 4)
	r, err := envelope.NewReader(bytes.NewReader(seal(t, dek, pt, nil)), dek)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.WriteTo(&failWriter{limit: 1000})
	if !errors.Is(err, errDisk) || n != 1000 {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, pt[1000:]) {
		t.Fatalf("reading on after WriteTo failed: %d bytes, %v", len(rest), err)
	}
}

// liarWriter claims to have written more than it was given.
type liarWriter struct{}

func (liarWriter) Write(p []byte) (int, error) { return len(p) + 1, nil }

func TestReaderWriteToInvalidWrite(t *testing.T) {
	dek := testKey(6)
	r, err := envelope.NewReader(bytes.NewReader(seal(t, dek, []byte("abc"), nil)), dek)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.WriteTo(liarWriter{}); n != 0 || err == nil {
		t.Fatalf("WriteTo to a lying writer = %d, %v", n, err)
	}
}
