package mongo

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

func TestConformance(t *testing.T) {
	needEngine(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) }, storetest.Options{SkipRaces: raceSkip()})
}

// TestConformanceTwoNodes runs the suite on two Stores (two API nodes) on
// one database, each call going to the next: what one writes, the other
// reads, and racers on different nodes still have one winner.
func TestConformanceTwoNodes(t *testing.T) {
	needEngine(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		a := openStore(t)
		return storetest.Alternate(a, openDatabase(t, a.db.Name()))
	}, storetest.Options{SkipRaces: raceSkip()})
}

func TestBlobConformance(t *testing.T) {
	needEngine(t)
	storetest.RunBlobs(t, func(t *testing.T) store.BlobStore { return openStore(t).Blobs() },
		storetest.Options{SkipRaces: raceSkip()})
}

// TestBlobsTwoNodes: a blob staged and written through one Store is
// committed, read, listed and deleted through another on the same database
// (two API nodes). The whole blob suite on two nodes would stream its 32 MiB
// twice more for no more coverage than this.
func TestBlobsTwoNodes(t *testing.T) {
	a := openStore(t, WithChunkSize(testChunk))
	b := openDatabase(t, a.db.Name(), WithChunkSize(testChunk)).Blobs()
	ctx := t.Context()
	data := randomBytes(3*testChunk + 1)
	w := stage(t, a.Blobs(), "shared", data)
	if _, err := b.Stage(ctx, "shared"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Stage on the other node of a name being written: err = %v, want ErrConflict", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if names, err := b.StagedBefore(ctx, time.Now().Add(time.Minute)); err != nil || !slices.Equal(names, []string{"shared"}) {
		t.Fatalf("StagedBefore on the other node: %v, %v", names, err)
	}
	if err := b.Commit(ctx, "shared"); err != nil {
		t.Fatalf("Commit on the other node: %v", err)
	}
	if got := readBlob(t, b, "shared"); !bytes.Equal(got, data) {
		t.Fatal("the other node reads different bytes")
	}
	if err := b.Delete(ctx, "shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Blobs().Open(ctx, "shared"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open after a Delete on the other node: err = %v, want ErrNotFound", err)
	}
	assertNoChunks(t, a)
}
