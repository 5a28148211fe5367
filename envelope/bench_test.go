package envelope_test

import (
	"crypto/sha256"
	"io"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// BenchmarkEnvelope compares the envelope with plain AES-256-GCM over the
// same 64 KiB chunks, in the same process: one op is one chunk. The raw
// sub-benchmarks are the physical limit; raw-gcm-sha256-seal adds the SHA-256
// of the plaintext that the Writer must compute (DESIGN.md: content_sha256),
// the limit for sealing with it.
func BenchmarkEnvelope(b *testing.B) {
	dek := testKey(1)
	chunk := testPlaintext(specChunk, 1)

	nonce := make([]byte, 12)

	b.Run("seal", func(b *testing.B) {
		w, err := envelope.NewWriter(io.Discard, dek, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(specChunk)
		b.ReportAllocs()
		for b.Loop() {
			w.Write(chunk)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("raw-gcm-seal", func(b *testing.B) {
		aead := newGCM(b, dek)
		dst := make([]byte, 0, specEncChunk)
		b.SetBytes(specChunk)
		b.ReportAllocs()
		for b.Loop() {
			aead.Seal(dst, nonce, chunk, nil)
		}
	})
	b.Run("raw-gcm-sha256-seal", func(b *testing.B) {
		aead := newGCM(b, dek)
		h := sha256.New()
		dst := make([]byte, 0, specEncChunk)
		b.SetBytes(specChunk)
		b.ReportAllocs()
		for b.Loop() {
			h.Write(chunk)
			aead.Seal(dst, nonce, chunk, nil)
		}
	})
	b.Run("open", func(b *testing.B) {
		// The source seals ahead in batches with the timer stopped, so
		// that only the Reader is measured, over one unbroken envelope.
		src := newSealingSource(b, dek, -1, 32)
		r, err := envelope.NewReader(src, dek)
		if err != nil {
			b.Fatal(err)
		}
		src.pause, src.resume = b.StopTimer, b.StartTimer
		buf := make([]byte, specChunk)
		b.SetBytes(specChunk)
		b.ReportAllocs()
		for b.Loop() {
			if n, err := r.Read(buf); n != specChunk || err != nil {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("raw-gcm-open", func(b *testing.B) {
		aead := newGCM(b, dek)
		ct := aead.Seal(nil, nonce, chunk, nil)
		dst := make([]byte, 0, specChunk)
		b.SetBytes(specChunk)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := aead.Open(dst, nonce, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
