package blobdir

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const benchChunk = 64 << 10 // what the server writes per envelope chunk

// BenchmarkBlob measures put (stage, write in 64 KiB steps, sync, commit
// with the directory synced) and get (open, read in 64 KiB steps) of 1 MiB
// and 64 MiB blobs, next to the baseline of a raw os.File write and fsync of
// the same bytes in the same directory.
func BenchmarkBlob(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		label := fmt.Sprintf("size=%dMiB", size>>20)
		chunk := make([]byte, benchChunk)
		rand.Read(chunk)
		dir := b.TempDir()
		s := openTest(b, filepath.Join(dir, "blobs"))
		ctx := b.Context()
		put := func(name string) {
			w, err := s.Stage(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < size; i += benchChunk {
				if _, err := w.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			if err := s.Commit(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("raw-file-fsync/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			name := filepath.Join(dir, "raw")
			for b.Loop() {
				f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < size; i += benchChunk {
					if _, err := f.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				if err := os.Remove(name); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("put/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				put("bench")
				if err := s.Delete(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
		put("read")
		b.Run("get/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			buf := make([]byte, benchChunk)
			for b.Loop() {
				r, err := s.Open(ctx, "read")
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.CopyBuffer(io.Discard, onlyReader{r}, buf); err != nil || n != int64(size) {
					b.Fatal(n, err)
				}
				r.Close()
			}
		})
	}
}

// onlyReader hides any WriteTo or ReadFrom so the copy goes through Read.
type onlyReader struct{ io.Reader }
