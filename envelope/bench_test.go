package envelope_test

import (
	"crypto/sha256"
	"io"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// BenchmarkEnvelope compares the envelope with plain AES-256-GCM over the
// same 64 KiB chunks, in the same process: one op is one chunk. The raw
// sub-benchmarks are the physical limit. Two more show what the envelope
// cannot avoid: raw-gcm-sha256-seal adds the SHA-256 of the plaintext that the
// Writer must compute (DESIGN.md: content_sha256), and raw-gcm-read-open the
// copy of each chunk out of the source that any io.Reader consumer makes.
// raw-sha256 is SHA-256 alone over the same chunks: the Writer hashes groups
// of chunks in a second goroutine while it seals the next, so seal's ceiling is the slower of
// raw-sha256 and raw-gcm-seal, not raw-gcm-sha256-seal.
func BenchmarkEnvelope(b *testing.B) {
	dek := testKey(1)
	chunk := testPlaintext(specChunk, 1)
	nonce := make([]byte, 12)

	b.Run("seal", func(b *testing.B) {
		w, err := envelope.NewWriter(io.Discard, dek, nil)
		if err != nil {
			b.Fatal(err)
		}
		perChunk(b, func() { w.Write(chunk) }, nil)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("raw-gcm-seal", func(b *testing.B) {
		aead := newGCM(b, dek)
		dst := make([]byte, 0, specEncChunk)
		perChunk(b, func() { aead.Seal(dst, nonce, chunk, nil) }, nil)
	})
	b.Run("raw-sha256", func(b *testing.B) {
		h := sha256.New()
		perChunk(b, func() { h.Write(chunk) }, nil)
	})
	b.Run("raw-gcm-sha256-seal", func(b *testing.B) {
		aead := newGCM(b, dek)
		h := sha256.New()
		dst := make([]byte, 0, specEncChunk)
		perChunk(b, func() {
			h.Write(chunk)
			aead.Seal(dst, nonce, chunk, nil)
		}, nil)
	})
	b.Run("open", func(b *testing.B) {
		// One unbroken envelope, sealed a chunk ahead of the Reader
		// between measures, so that only the Reader is timed and its
		// input is as warm in cache as raw-gcm-open's.
		src := newSealingSource(b, dek, -1)
		r, err := envelope.NewReader(src, dek)
		if err != nil {
			b.Fatal(err)
		}
		for range 3 {
			src.sealNext()
		}
		buf := make([]byte, specChunk)
		perChunk(b, func() {
			if n, err := r.Read(buf); n != specChunk || err != nil {
				b.Fatal(n, err)
			}
		}, func() { src.sealNext() })
	})
	b.Run("raw-gcm-open", func(b *testing.B) {
		aead := newGCM(b, dek)
		ct := aead.Seal(nil, nonce, chunk, nil)
		dst := make([]byte, 0, specChunk)
		perChunk(b, func() {
			if _, err := aead.Open(dst, nonce, ct, nil); err != nil {
				b.Fatal(err)
			}
		}, nil)
	})
	b.Run("raw-gcm-read-open", func(b *testing.B) {
		aead := newGCM(b, dek)
		ct := aead.Seal(nil, nonce, chunk, nil)
		in := make([]byte, len(ct))
		dst := make([]byte, 0, specChunk)
		perChunk(b, func() {
			copy(in, ct) // what taking the chunk from an io.Reader costs
			if _, err := aead.Open(dst, nonce, in, nil); err != nil {
				b.Fatal(err)
			}
		}, nil)
	})
}

// perChunk times op, one chunk per call, and runs between (if any) with the
// timer stopped after each call. open needs the pause to seal its next chunk;
// the others pause alike so that all are timed the same way (on a loaded
// machine a pause changes how the scheduler slices the measured part).
func perChunk(b *testing.B, op, between func()) {
	b.SetBytes(specChunk)
	b.ReportAllocs()
	for b.Loop() {
		op()
		// The timer stops only around between: the Writer hashes in a
		// goroutine of its own, which would otherwise work unmeasured
		// while the timer is stopped and inflate the seal's rate.
		if between != nil {
			b.StopTimer()
			between()
			b.StartTimer()
		}
	}
}
