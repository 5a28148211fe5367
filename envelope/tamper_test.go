package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// attack is a damaged envelope and the number of leading chunks whose
// plaintext the Reader may hand out before failing: those that are intact and
// in place. The Reader must return exactly that plaintext, then ErrCorrupt.
type attack struct {
	name string
	ct   []byte
	good int
}

// expectCorrupt checks that every attack fails with the one opaque error and
// that no plaintext of a bad chunk was returned.
func expectCorrupt(t *testing.T, dek, pt []byte, attacks []attack) {
	t.Helper()
	for _, a := range attacks {
		for _, rs := range readSizes {
			got, err := openAll(dek, a.ct, rs)
			if err != envelope.ErrCorrupt {
				t.Errorf("%s (reads of %d): err = %v, want exactly ErrCorrupt", a.name, rs, err)
			}
			if want := pt[:min(a.good*specChunk, len(pt))]; !bytes.Equal(got, want) {
				t.Errorf("%s (reads of %d): returned %d bytes of plaintext, want the %d of the first %d chunks",
					a.name, rs, len(got), len(want), a.good)
			}
		}
	}
}

// chunkAt returns the offset of chunk i in an envelope.
func chunkAt(i int) int { return specHeaderSize + i*specEncChunk }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// The two streams most attacks start from: three chunks with a short final
// one, and three full chunks.
const (
	shortLast = 2*specChunk + 1000
	fullLast  = 3 * specChunk
)

func TestTruncation(t *testing.T) {
	dek := testKey(10)
	for _, size := range []int{0, shortLast, fullLast} {
		pt := testPlaintext(size, 1)
		ct := seal(t, dek, pt, nil)
		chunks := (len(ct) - specHeaderSize + specEncChunk - 1) / specEncChunk
		var attacks []attack
		for n := range specHeaderSize + 1 {
			attacks = append(attacks, attack{fmt.Sprintf("header cut at %d", n), ct[:n], 0})
		}
		for i := 1; i < chunks; i++ {
			// A full chunk followed by the end must be final: chunk i-1 fails.
			attacks = append(attacks, attack{fmt.Sprintf("cut before chunk %d", i), ct[:chunkAt(i)], i - 1})
		}
		for i := range chunks {
			for _, k := range []int{1, 15, 16, 17, 1000, specEncChunk / 2, specEncChunk - 1} {
				if chunkAt(i)+k < len(ct) {
					attacks = append(attacks, attack{fmt.Sprintf("cut %d into chunk %d", k, i), ct[:chunkAt(i)+k], i})
				}
			}
		}
		attacks = append(attacks, attack{"last byte cut", ct[:len(ct)-1], chunks - 1})
		t.Run(fmt.Sprint(size), func(t *testing.T) { expectCorrupt(t, dek, pt, attacks) })
	}
}

func TestAppended(t *testing.T) {
	dek := testKey(11)
	nonce := make([]byte, 16)
	for _, size := range []int{0, 1, shortLast, fullLast} {
		pt := testPlaintext(size, 2)
		chunks := refSplit(pt)
		n := len(chunks)
		ct := refEnvelope(t, dek, refHeader(nonce), chunks)
		lastChunk := ct[chunkAt(n-1):]
		extra := refEnvelope(t, dek, refHeader(nonce), append(chunks, refChunk{counter: uint64(n), last: true, pt: []byte("more")}))
		attacks := []attack{
			{"one byte", cat(ct, []byte{0}), n - 1},
			{"a tag's worth", cat(ct, make([]byte, 16)), n - 1},
			{"final chunk again", cat(ct, lastChunk), n - 1},
			{"a sealed chunk after the final one", extra, n - 1},
			{"a second envelope", cat(ct, ct), n - 1},
		}
		t.Run(fmt.Sprint(size), func(t *testing.T) { expectCorrupt(t, dek, pt, attacks) })
	}
}

// TestEmptyFinalChunk: a Writer never ends a non-empty plaintext with an empty
// chunk, so a Reader refuses one even though it authenticates.
func TestEmptyFinalChunk(t *testing.T) {
	dek := testKey(12)
	nonce := make([]byte, 16)
	pt := testPlaintext(2*specChunk, 3)
	ct := refEnvelope(t, dek, refHeader(nonce), []refChunk{
		{counter: 0, pt: pt[:specChunk]},
		{counter: 1, pt: pt[specChunk:]},
		{counter: 2, last: true},
	})
	// The two full chunks are authentic and in place; the empty one is not
	// allowed.
	expectCorrupt(t, dek, pt, []attack{{"empty final chunk after full chunks", ct, 2}})
}

func TestReordered(t *testing.T) {
	dek := testKey(13)
	for _, size := range []int{shortLast, fullLast} {
		pt := testPlaintext(size, 4)
		ct := seal(t, dek, pt, nil)
		h, c0, c1, c2 := ct[:chunkAt(0)], ct[chunkAt(0):chunkAt(1)], ct[chunkAt(1):chunkAt(2)], ct[chunkAt(2):]
		attacks := []attack{
			{"0 and 1 swapped", cat(h, c1, c0, c2), 0},
			{"first chunk twice", cat(h, c0, c0, c2), 1},
			{"chunk 1 dropped", cat(h, c0, c2), 1},
		}
		if size == fullLast {
			attacks = append(attacks, attack{"1 and 2 swapped", cat(h, c0, c2, c1), 1})
		}
		t.Run(fmt.Sprint(size), func(t *testing.T) { expectCorrupt(t, dek, pt, attacks) })
	}
}

// TestOtherStream splices chunks and headers of two envelopes of the same
// size under the same DEK (the Writer draws a fresh header nonce for each).
func TestOtherStream(t *testing.T) {
	dek := testKey(14)
	pt := testPlaintext(shortLast, 5)
	a, b := seal(t, dek, pt, nil), seal(t, dek, pt, nil)
	attacks := []attack{
		{"chunk 1 from another envelope", cat(a[:chunkAt(1)], b[chunkAt(1):chunkAt(2)], a[chunkAt(2):]), 1},
		{"final chunk from another envelope", cat(a[:chunkAt(2)], b[chunkAt(2):]), 2},
		{"header from another envelope", cat(b[:chunkAt(0)], a[chunkAt(0):]), 0},
	}
	expectCorrupt(t, dek, pt, attacks)
	// The same chunk sequence under another DEK.
	expectCorrupt(t, testKey(15), pt, []attack{{"wrong key", a, 0}})
}

func TestHeaderBitFlips(t *testing.T) {
	dek := testKey(16)
	pt := testPlaintext(specChunk+10, 6)
	ct := seal(t, dek, pt, nil)
	var attacks []attack
	for i := range specHeaderSize {
		for bit := range 8 {
			bad := bytes.Clone(ct)
			bad[i] ^= 1 << bit
			attacks = append(attacks, attack{fmt.Sprintf("header byte %d bit %d", i, bit), bad, 0})
		}
	}
	expectCorrupt(t, dek, pt, attacks)
}

func TestChunkBitFlips(t *testing.T) {
	dek := testKey(17)
	pt := testPlaintext(shortLast, 7)
	ct := seal(t, dek, pt, nil)
	var attacks []attack
	for i := range 3 {
		end := min(chunkAt(i+1), len(ct))
		for _, off := range []int{chunkAt(i), (chunkAt(i) + end) / 2, end - 17, end - 16, end - 1} {
			bad := bytes.Clone(ct)
			bad[off] ^= 0x80
			attacks = append(attacks, attack{fmt.Sprintf("chunk %d byte %d", i, off-chunkAt(i)), bad, i})
		}
	}
	expectCorrupt(t, dek, pt, attacks)
}

// TestFinalFlagMoved builds envelopes whose chunks authenticate under the DEK
// but carry the final flag in the wrong place, or counters out of sequence.
func TestFinalFlagMoved(t *testing.T) {
	dek := testKey(18)
	nonce := make([]byte, 16)
	for _, size := range []int{shortLast, fullLast} {
		pt := testPlaintext(size, 8)
		c := refSplit(pt)
		p0, p1, p2 := c[0].pt, c[1].pt, c[2].pt
		build := func(cs ...refChunk) []byte { return refEnvelope(t, dek, refHeader(nonce), cs) }
		attacks := []attack{
			{"no final flag", build(refChunk{0, false, p0}, refChunk{1, false, p1}, refChunk{2, false, p2}), 2},
			{"flag on chunk 0", build(refChunk{0, true, p0}, refChunk{1, false, p1}, refChunk{2, true, p2}), 0},
			{"flag on chunk 1", build(refChunk{0, false, p0}, refChunk{1, true, p1}, refChunk{2, false, p2}), 1},
			{"flag on every chunk", build(refChunk{0, true, p0}, refChunk{1, true, p1}, refChunk{2, true, p2}), 0},
			{"counter skips", build(refChunk{0, false, p0}, refChunk{2, false, p1}, refChunk{3, true, p2}), 1},
			{"counter starts at 1", build(refChunk{1, false, p0}, refChunk{2, false, p1}, refChunk{3, true, p2}), 0},
		}
		t.Run(fmt.Sprint(size), func(t *testing.T) { expectCorrupt(t, dek, pt, attacks) })
	}
}

// TestOneOpaqueError: every kind of damage reads as the same error value with
// the same text, so an attacker learns nothing from which check failed.
func TestOneOpaqueError(t *testing.T) {
	dek := testKey(19)
	ct := seal(t, dek, testPlaintext(100, 9), nil)
	flipHeader, flipBody := bytes.Clone(ct), bytes.Clone(ct)
	flipHeader[4] ^= 1
	flipBody[len(ct)-1] ^= 1
	var msgs []string
	for _, bad := range [][]byte{ct[:10], ct[:len(ct)-1], flipHeader, flipBody, cat(ct, []byte{1})} {
		_, err := openAll(dek, bad, 100)
		if !errors.Is(err, envelope.ErrCorrupt) {
			t.Fatalf("err = %v", err)
		}
		msgs = append(msgs, err.Error())
	}
	_, err := openAll(testKey(20), ct, 100)
	msgs = append(msgs, err.Error())
	for _, m := range msgs {
		if m != msgs[0] {
			t.Fatalf("error texts differ: %q", msgs)
		}
	}
}
