package postgres

import (
	"testing"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

// TestBlobConformance runs the BlobStore suite, races included, with 64 KiB
// chunks, so that the round-trip sizes fall on and around chunk boundaries.
func TestBlobConformance(t *testing.T) {
	storetest.RunBlobs(t, func(t *testing.T) store.BlobStore {
		s, _ := openTest(t, Options{BlobChunkSize: 64 << 10})
		return s.Blobs()
	}, storetest.Options{})
}

// TestBlobConformanceDefaultChunks runs it with the production chunk size
// (the memory test streams 32 MiB through it) and two pools.
func TestBlobConformanceDefaultChunks(t *testing.T) {
	storetest.RunBlobs(t, func(t *testing.T) store.BlobStore {
		a, url := openTest(t, Options{})
		return storetest.AlternateBlobs(a.Blobs(), openURL(t, url, Options{MaxConns: 4}).Blobs())
	}, storetest.Options{})
}
