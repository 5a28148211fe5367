package mongo

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/store"
)

const testChunk = 1000

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestBlobChunks writes blobs of sizes around the chunk size in writes of
// odd sizes, and reads them back whole and in small reads.
func TestBlobChunks(t *testing.T) {
	s := openStore(t, WithChunkSize(testChunk))
	b := s.Blobs()
	ctx := t.Context()
	for _, size := range []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 10*testChunk + 7} {
		name := fmt.Sprintf("blob-%d", size)
		data := randomBytes(size)
		w, err := b.Stage(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 333)
			n, err := w.Write(rest[:k])
			if err != nil || n != k {
				t.Fatalf("Write: %d, %v", n, err)
			}
			rest = rest[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx, name); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, b, name); !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d different bytes", size, len(got))
		}
		r, err := b.Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var small []byte
		buf := make([]byte, 7)
		for {
			n, err := r.Read(buf)
			small = append(small, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		if !bytes.Equal(small, data) {
			t.Fatalf("size %d: read back in 7-byte reads %d different bytes", size, len(small))
		}
		if _, err := r.Read(buf); err == nil {
			t.Fatal("Read after Close succeeded")
		}
	}
}

// TestBlobGridFSLayout: a committed blob is a standard GridFS file, which
// the driver's own GridFS bucket reads.
func TestBlobGridFSLayout(t *testing.T) {
	s := openStore(t, WithChunkSize(testChunk))
	data := randomBytes(5*testChunk + 123)
	writeBlob(t, s.Blobs(), "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011", data)
	bucket := s.db.GridFSBucket(optionsBucket())
	var out bytes.Buffer
	if _, err := bucket.DownloadToStreamByName(t.Context(), "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011", &out); err != nil {
		t.Fatalf("the driver's GridFS cannot read the blob: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("the driver's GridFS reads different bytes")
	}
}

// TestBlobCorruptChunks: a missing, shortened or lengthened chunk is an
// error, never a short or padded read that looks complete.
func TestBlobCorruptChunks(t *testing.T) {
	s := openStore(t, WithChunkSize(testChunk))
	ctx := t.Context()
	data := randomBytes(4*testChunk + 10)
	for name, damage := range map[string]bson.D{
		"missing":   nil,
		"short":     set(eq("data", randomBytes(testChunk-1))),
		"long":      set(eq("data", randomBytes(testChunk+1))),
		"shortlast": set(eq("data", randomBytes(9))),
	} {
		writeBlob(t, s.Blobs(), name, data)
		var f fileDoc
		if err := s.blobs.files.FindOne(ctx, bson.D{eq("filename", name)}).Decode(&f); err != nil {
			t.Fatal(err)
		}
		n := int32(2)
		if name == "shortlast" {
			n = 4
		}
		chunk := bson.D{eq("files_id", f.ID), eq("n", n)}
		var err error
		if damage == nil {
			_, err = s.blobs.chunks.DeleteOne(ctx, chunk)
		} else {
			_, err = s.blobs.chunks.UpdateOne(ctx, chunk, damage)
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Blobs().Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s chunk: err = %v, want ErrUnavailable", name, err)
		}
		if len(got) > int(n)*testChunk {
			t.Errorf("%s chunk: %d bytes read, past the damaged chunk", name, len(got))
		}
	}
}

// TestBlobStates walks a blob through its states and checks what each
// operation does in each.
func TestBlobStates(t *testing.T) {
	s := openStore(t, WithChunkSize(testChunk))
	b := s.Blobs()
	ctx := t.Context()
	data := randomBytes(2*testChunk + 5)

	w := stage(t, b, "x", data)
	if _, err := b.Stage(ctx, "x"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Stage of a blob being written: err = %v, want ErrConflict", err)
	}
	if err := b.Commit(ctx, "x"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit before Close: err = %v, want ErrConflict", err)
	}
	if _, err := b.Open(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of a blob being written: err = %v, want ErrNotFound", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	if _, err := b.Open(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of a staged blob: err = %v, want ErrNotFound", err)
	}
	if err := b.Commit(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, "x"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Commit: err = %v, want ErrConflict", err)
	}
	if _, err := b.Stage(ctx, "x"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Stage of a committed name: err = %v, want ErrConflict", err)
	}
	if err := w.Abort(); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Abort after Commit: err = %v, want ErrConflict", err)
	}
	if got := readBlob(t, b, "x"); !bytes.Equal(got, data) {
		t.Fatal("Abort after Commit changed the blob")
	}
	if err := b.Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete: err = %v, want ErrNotFound", err)
	}
	if err := b.Commit(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Commit of a deleted blob: err = %v, want ErrNotFound", err)
	}
	assertNoChunks(t, s)

	// Abort after Close removes the staged blob.
	w = stage(t, b, "x", data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort of a closed, staged blob: %v", err)
	}
	if err := b.Commit(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Commit after Abort: err = %v, want ErrNotFound", err)
	}
	assertNoChunks(t, s)

	// Delete while being written: the writer's Close fails and takes the
	// chunks it wrote since along.
	w = stage(t, b, "x", data)
	if err := b.Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Close of a blob deleted meanwhile: err = %v, want ErrNotFound", err)
	}
	assertNoChunks(t, s)
}

func assertNoChunks(t *testing.T, s *Store) {
	t.Helper()
	n, err := s.blobs.chunks.CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d chunks left behind", n)
	}
}

// TestBlobStagedBefore: what a crash leaves (a blob being written, a staged
// one, a half-done delete) is listed for clean-up once older than t;
// committed blobs never are.
func TestBlobStagedBefore(t *testing.T) {
	s := openStore(t, WithChunkSize(testChunk))
	b := s.Blobs()
	ctx := t.Context()
	writeBlob(t, b, "committed", randomBytes(10))
	if _, err := b.Stage(ctx, "writing"); err != nil {
		t.Fatal(err)
	}
	if err := stage(t, b, "staged", nil).Close(); err != nil {
		t.Fatal(err)
	}
	writeBlob(t, b, "halfdeleted", randomBytes(10))
	if _, err := s.blobs.files.UpdateOne(ctx, bson.D{eq("filename", "halfdeleted")},
		set(eq("metadata.state", blobDeleting))); err != nil {
		t.Fatal(err)
	}

	if err := b.Commit(ctx, "halfdeleted"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Commit of a half-deleted blob: err = %v, want ErrNotFound", err)
	}
	if _, err := b.Open(ctx, "halfdeleted"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open of a half-deleted blob: err = %v, want ErrNotFound", err)
	}
	before, err := b.StagedBefore(ctx, time.Now().Add(-time.Hour))
	if err != nil || len(before) != 0 {
		t.Fatalf("StagedBefore an hour ago: %v, %v; want none", before, err)
	}
	got, err := b.StagedBefore(ctx, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"halfdeleted", "staged", "writing"}; !slices.Equal(got, want) {
		t.Fatalf("StagedBefore now: %v, want %v", got, want)
	}
	for _, name := range got {
		if err := b.Delete(ctx, name); err != nil {
			t.Fatalf("Delete(%s): %v", name, err)
		}
	}
	if got, err := b.StagedBefore(ctx, time.Now().Add(time.Second)); err != nil || len(got) != 0 {
		t.Fatalf("StagedBefore after the clean-up: %v, %v", got, err)
	}
	if got := readBlob(t, b, "committed"); len(got) != 10 {
		t.Fatal("the committed blob did not survive the clean-up")
	}
}

func TestBlobNames(t *testing.T) {
	s := openStore(t)
	b := s.Blobs()
	ctx := t.Context()
	for _, name := range []string{"", ".", "..", "../x", "a/b", `{"$ne":null}`, "a\x00", string(make([]byte, 129))} {
		if _, err := b.Stage(ctx, name); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Stage(%q): err = %v, want ErrInvalid", name, err)
		}
		if err := b.Commit(ctx, name); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Commit(%q): err = %v, want ErrInvalid", name, err)
		}
		if _, err := b.Open(ctx, name); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want ErrInvalid", name, err)
		}
		if err := b.Delete(ctx, name); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Delete(%q): err = %v, want ErrInvalid", name, err)
		}
	}
}

func optionsBucket() *options.BucketOptionsBuilder {
	return options.GridFSBucket().SetName(blobBucket)
}
