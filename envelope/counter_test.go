package envelope

import (
	"bytes"
	"io"
	"testing"
)

func TestNonceNext(t *testing.T) {
	var n streamNonce
	if !n.isFirst() || !n.next() || n.isFirst() || n != (streamNonce{10: 1}) {
		t.Fatalf("first step: %x", n)
	}
	n = streamNonce{9: 0x01, 10: 0xff}
	if !n.next() || n != (streamNonce{9: 0x02}) {
		t.Fatalf("carry: %x", n)
	}
	max := streamNonce{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	n = max
	if n.next() || n != max {
		t.Fatalf("overflow not refused: %x", n)
	}
	n.setLast()
	if n[11] != 0x01 || [11]byte(n[:11]) != [11]byte(max[:11]) {
		t.Fatalf("setLast: %x", n)
	}
}

// maxCounter is the nonce of the last chunk an envelope can hold.
var maxCounter = streamNonce{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// TestCounterOverflow runs a Writer and a Reader from the top of the counter
// range: the last counter can only carry a final chunk.
func TestCounterOverflow(t *testing.T) {
	dek := bytes.Repeat([]byte{7}, KeySize)
	chunk := make([]byte, ChunkSize)

	// One full chunk at the last counter, then Close: a valid final chunk.
	var out bytes.Buffer
	w, err := NewWriter(&out, dek, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.nonce = maxCounter
	if _, err := w.Write(chunk); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(out.Bytes()), dek)
	if err != nil {
		t.Fatal(err)
	}
	r.nonce = maxCounter
	if got, err := io.ReadAll(r); err != nil || len(got) != ChunkSize {
		t.Fatalf("final chunk at the last counter: %d bytes, %v", len(got), err)
	}

	// A chunk after the last counter cannot be written.
	w, err = NewWriter(io.Discard, dek, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.nonce = maxCounter
	if _, err := w.Write(chunk); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte{1}); err != ErrTooLong {
		t.Fatalf("Write past the last counter: %v", err)
	}
	if err := w.Close(); err != ErrTooLong {
		t.Fatalf("Close after overflow: %v", err)
	}

	// A Reader refuses a non-final chunk at the last counter, even one that
	// authenticates (sealed here with the same key and nonce).
	out.Reset()
	w, err = NewWriter(&out, dek, nil) // writes the header
	if err != nil {
		t.Fatal(err)
	}
	sealed := w.aead.Seal(nil, maxCounter[:], chunk, w.header[:])
	out.Write(sealed)
	out.Write(sealed) // anything may follow; the counter has no successor
	r, err = NewReader(bytes.NewReader(out.Bytes()), dek)
	if err != nil {
		t.Fatal(err)
	}
	r.nonce = maxCounter
	if got, err := io.ReadAll(r); err != ErrCorrupt || len(got) != 0 {
		t.Fatalf("non-final chunk at the last counter: %d bytes, %v", len(got), err)
	}
}
