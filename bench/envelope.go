package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/assent-dev/assent/envelope"
)

// runEnvelope measures part 3: the envelope sealing and opening a record
// held in memory, next to raw AES-256-GCM over the same 64 KiB chunks
// (part 1). One operation is the whole record, so that the header and the
// per-record key derivation are counted.
func (b *runner) runEnvelope(ctx context.Context) error {
	size := b.cfg.EnvelopeSize
	plain := make([]byte, size)
	if _, err := rand.Read(plain); err != nil {
		return err
	}
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return err
	}
	var sealed bytes.Buffer
	sealed.Grow(int(envelope.CiphertextSize(size)))
	if err := sealTo(&sealed, dek, plain); err != nil {
		return err
	}

	b.prog.set("part 3/6 envelope: seal %s", sizeName(size))
	seal, err := measure(ctx, b.timing, nil, func(int) error {
		return sealTo(io.Discard, dek, plain)
	})
	if err != nil {
		return err
	}
	// SHA-256 alone over the same record, right after the seal: the
	// wall-clock ratio then compares two measures taken under the same
	// load, not one of part 1's.
	b.prog.set("part 3/6 envelope: raw SHA-256 %s", sizeName(size))
	shaAlone, err := measure(ctx, b.timing, nil, func(int) error {
		h := sha256.New()
		for off := int64(0); off < size; off += chunkSize {
			h.Write(plain[off:min(off+chunkSize, size)])
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.prog.set("part 3/6 envelope: open %s", sizeName(size))
	open, err := measure(ctx, b.timing, nil, func(int) error {
		r, err := envelope.NewReader(bytes.NewReader(sealed.Bytes()), dek)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != size {
			err = fmt.Errorf("opened %d bytes, want %d", n, size)
		}
		return err
	})
	if err != nil {
		return err
	}

	// The limit of any streaming reader: read each sealed chunk from the
	// source into a buffer, then open it in place, with raw AES-256-GCM.
	gcm, err := newGCM(dek)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	var raw bytes.Buffer
	for off := int64(0); off < size; off += chunkSize {
		raw.Write(gcm.Seal(nil, nonce, plain[off:min(off+chunkSize, size)], nil))
	}
	b.prog.set("part 3/6 envelope: raw AES-256-GCM read and open %s", sizeName(size))
	buf := make([]byte, chunkSize+gcm.Overhead())
	readOpen, err := measure(ctx, b.timing, nil, func(int) error {
		src := bytes.NewReader(raw.Bytes())
		for {
			n, err := io.ReadFull(src, buf)
			if err == io.EOF {
				return nil
			}
			if err != nil && err != io.ErrUnexpectedEOF {
				return err
			}
			if _, err := gcm.Open(buf[:0], nonce, buf[:n], nil); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return err
	}

	p := &b.prim
	gcmSeal, gcmOpen := p.gcmSeal.mbPerSecond(chunkSize), p.gcmOpen.mbPerSecond(chunkSize)
	// The envelope must also hash the plaintext (content_sha256): GCM and
	// SHA-256 of each chunk one after the other is its physical limit.
	gcmSHA := float64(chunkSize) / 1e6 / (p.gcmSeal.CPU + p.sha.CPU).Seconds()
	name := fmt.Sprintf("envelope seal (with SHA-256 of the plaintext), %s record", sizeName(size))
	row := b.res.add(Row{ID: "envelope/seal", Part: 3, Name: name, Value: seal.mbPerSecond(size), Unit: UnitMBps,
		Baseline: gcmSeal, BaselineName: "raw AES-256-GCM seal"})
	row.goal(">= 0.9x", row.Ratio, 0.9, false)
	b.res.add(Row{ID: "envelope/seal-vs-gcm-sha256", Part: 3, Name: name, Value: seal.mbPerSecond(size), Unit: UnitMBps,
		Baseline: gcmSHA, BaselineName: "raw AES-256-GCM seal + SHA-256"})
	// The Writer hashes in a second goroutine while it seals, so its speed
	// is wall-clock bytes per second (the rows above count CPU seconds of
	// both goroutines), against SHA-256 alone on one core.
	row = b.res.add(Row{ID: "envelope/seal-wall-vs-sha256", Part: 3,
		Name:  fmt.Sprintf("envelope seal speed (wall clock; hashing in parallel), %s record", sizeName(size)),
		Value: float64(size) / 1e6 / seal.Wall.Seconds(), Unit: UnitMBps,
		Baseline: float64(size) / 1e6 / shaAlone.Wall.Seconds(), BaselineName: "raw SHA-256 alone over the same record, 64 KiB chunks, measured right after",
		Note: "needs two free cores; on a loaded machine wall time includes waiting for one"})
	row.goal(">= 0.9x", row.Ratio, 0.9, false)
	// Whether the machine gave this process two cores meanwhile: the
	// wall-clock goal needs them, and a loaded machine does not have them.
	b.res.add(Row{ID: "envelope/free-cores", Part: 3,
		Name:  "cores free for the two goroutines of a seal (two SHA-256 streams at once against one, wall clock)",
		Value: freeCores(plain), Unit: UnitCores,
		Note: "2.00 on an idle machine of two or more cores; below, the seal's wall-clock ratio is bounded by the machine's load"})
	row = b.res.add(Row{ID: "envelope/open", Part: 3, Name: fmt.Sprintf("envelope open, %s record", sizeName(size)),
		Value: open.mbPerSecond(size), Unit: UnitMBps, Baseline: gcmOpen, BaselineName: "raw AES-256-GCM open"})
	row.goal(">= 0.9x", row.Ratio, 0.9, false)
	b.res.add(Row{ID: "envelope/open-vs-gcm-read", Part: 3, Name: fmt.Sprintf("envelope open, %s record", sizeName(size)),
		Value: open.mbPerSecond(size), Unit: UnitMBps, Baseline: readOpen.mbPerSecond(size),
		BaselineName: "raw AES-256-GCM open of chunks read from the same source"})
	return nil
}

// sealTo seals plain into dst with the envelope, in chunk-sized writes.
func sealTo(dst io.Writer, dek, plain []byte) error {
	w, err := envelope.NewWriter(dst, dek, rand.Reader)
	if err != nil {
		return err
	}
	for len(plain) > 0 {
		n := min(len(plain), chunkSize)
		if _, err := w.Write(plain[:n]); err != nil {
			return err
		}
		plain = plain[n:]
	}
	return w.Close()
}

// sizeName names a size in bytes as "64 MiB", "1 GiB" or "4 KiB".
func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// freeCores hashes plain (up to 16 MiB of it) once on one goroutine and
// then on two at once, best of three each, and returns twice the first
// wall time over the second: 2 when two cores were free, 1 when one was.
func freeCores(plain []byte) float64 {
	plain = plain[:min(len(plain), 16<<20)]
	hashAll := func() {
		h := sha256.New()
		for off := 0; off < len(plain); off += chunkSize {
			h.Write(plain[off:min(off+chunkSize, len(plain))])
		}
	}
	best := func(f func()) time.Duration {
		var m time.Duration
		for i := range 3 {
			t0 := time.Now()
			f()
			if d := time.Since(t0); i == 0 || d < m {
				m = d
			}
		}
		return m
	}
	one := best(hashAll)
	two := best(func() {
		var wg sync.WaitGroup
		wg.Go(hashAll)
		wg.Go(hashAll)
		wg.Wait()
	})
	return 2 * one.Seconds() / two.Seconds()
}
