package envelope_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// FuzzReader feeds arbitrary bytes to a Reader under a fixed DEK, read in
// small pieces or whole chunks (the two paths of Read). It must never panic,
// fail only with ErrCorrupt (the source is in memory), sticky and leaving
// nothing in the caller's buffer, hand out whole chunks only before failing,
// and open nothing but envelopes a Writer made: forging one would mean
// forging AES-GCM.
func FuzzReader(f *testing.F) {
	dek := testKey(42)
	var genuine [][]byte
	for _, size := range []int{0, 1, 100, specChunk, specChunk + 1} {
		ct := seal(f, dek, testPlaintext(size, uint64(size)), fixedRand(byte(size)))
		genuine = append(genuine, ct)
		f.Add(ct, true)
		f.Add(ct, false)
	}
	f.Add(genuine[2][:specHeaderSize], false)
	f.Add(genuine[2][:len(genuine[2])-1], true)
	f.Add([]byte("ASNT"), false)

	f.Fuzz(func(t *testing.T, ct []byte, wholeChunks bool) {
		readSize := readSizes[0]
		if wholeChunks {
			readSize = readSizes[1]
		}
		out, err := openAll(dek, ct, readSize)
		if err == nil {
			if !slices.ContainsFunc(genuine, func(g []byte) bool { return bytes.Equal(g, ct) }) {
				t.Fatalf("opened an envelope no Writer made (%d bytes)", len(ct))
			}
			if envelope.CiphertextSize(int64(len(out))) != int64(len(ct)) {
				t.Fatalf("%d bytes of plaintext from %d of envelope", len(out), len(ct))
			}
			return
		}
		if err != envelope.ErrCorrupt {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
		if len(out)%specChunk != 0 {
			t.Fatalf("returned %d bytes before failing: not whole chunks", len(out))
		}
	})
}
