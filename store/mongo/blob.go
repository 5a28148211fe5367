package mongo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// gridFS is the store.BlobStore of Blobs (see there for why it does not use
// the driver's GridFSBucket). A blob's files document has a unique filename
// (its name) and its life in metadata.state: writing (chunks being added) ->
// staged (Close: length known, all chunks durable) -> committed (Commit:
// visible to Open). Delete first marks the document deleting (invisible,
// still listed by StagedBefore so that an interrupted delete is finished
// later), then removes the chunks, then the document.
type gridFS struct {
	files, chunks *mongo.Collection
	chunkSize     int
	op            time.Duration
}

var _ store.BlobStore = (*gridFS)(nil)

// Blob states, in metadata.state.
const (
	blobWriting   = "writing"
	blobStaged    = "staged"
	blobCommitted = "committed"
	blobDeleting  = "deleting"
)

// touchEvery is how often a blob being written refreshes its written_at, so
// that StagedBefore does not offer a live upload for clean-up (the server
// takes a staged blob untouched for a minute as left by a dead upload).
const touchEvery = 20 * time.Second

type fileDoc struct {
	ID         bson.ObjectID `bson:"_id"`
	Length     int64         `bson:"length"`
	ChunkSize  int32         `bson:"chunkSize"`
	UploadDate time.Time     `bson:"uploadDate"`
	Filename   string        `bson:"filename"`
	Metadata   fileMeta      `bson:"metadata"`
}

type fileMeta struct {
	State     string    `bson:"state"`
	WrittenAt time.Time `bson:"written_at"`
}

type chunkDoc struct {
	ID      string        `bson:"_id"` // chunkID(files_id, n)
	FilesID bson.ObjectID `bson:"files_id"`
	N       int32         `bson:"n"`
	Data    []byte        `bson:"data"`
}

// chunkID is the _id of chunk n of a blob. GridFS readers find chunks by
// files_id and n and leave the _id to the writer; naming it after both lets
// a blob be read by _id, which every engine looks up directly (FerretDB v1
// looks up nothing else without scanning the whole collection).
func chunkID(file bson.ObjectID, n int32) string {
	return fmt.Sprintf("%s-%d", file.Hex(), n)
}

func (g *gridFS) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.op)
}

// Stage implements store.BlobStore. ctx also governs the writes, Close and
// Abort of the returned blob, which is not safe for concurrent use.
func (g *gridFS) Stage(ctx context.Context, name string) (store.StagedBlob, error) {
	if err := check.BlobName(name); err != nil {
		return nil, err
	}
	now := time.Now()
	d := &fileDoc{
		ID: bson.NewObjectID(), ChunkSize: int32(g.chunkSize), UploadDate: now, Filename: name,
		Metadata: fileMeta{State: blobWriting, WrittenAt: now},
	}
	octx, cancel := g.opContext(ctx)
	defer cancel()
	if _, err := g.files.InsertOne(octx, d); err != nil {
		return nil, fail("stage blob "+name, err)
	}
	return &stagedBlob{g: g, ctx: ctx, id: d.ID, name: name, buf: make([]byte, 0, g.chunkSize), touched: now}, nil
}

// Commit implements store.BlobStore: staged -> committed in one update.
func (g *gridFS) Commit(ctx context.Context, name string) error {
	if err := check.BlobName(name); err != nil {
		return err
	}
	op := "commit blob " + name
	octx, cancel := g.opContext(ctx)
	defer cancel()
	err := g.files.FindOneAndUpdate(octx,
		bson.D{eq("filename", name), eq("metadata.state", blobStaged)},
		set(eq("metadata.state", blobCommitted), eq("metadata.written_at", time.Now()))).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fail(op, err)
	}
	d, err := g.find(octx, op, bson.D{eq("filename", name)})
	switch {
	case err != nil:
		return err
	case d.Metadata.State == blobDeleting:
		return fmt.Errorf("mongo: %s: %w: blob is being deleted", op, store.ErrNotFound)
	}
	return fmt.Errorf("mongo: %s: %w: blob is %s, not staged and closed", op, store.ErrConflict, d.Metadata.State)
}

// find returns the files document matching filter: ErrNotFound if none.
func (g *gridFS) find(ctx context.Context, op string, filter bson.D) (*fileDoc, error) {
	var d fileDoc
	err := g.files.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, fail(op, err)
	}
	return &d, nil
}

// Open implements store.BlobStore. ctx also governs the reads of the
// returned blob, which reads one chunk at a time and is not safe for
// concurrent use.
func (g *gridFS) Open(ctx context.Context, name string) (store.Blob, error) {
	if err := check.BlobName(name); err != nil {
		return nil, err
	}
	octx, cancel := g.opContext(ctx)
	defer cancel()
	d, err := g.find(octx, "open blob "+name, bson.D{eq("filename", name), eq("metadata.state", blobCommitted)})
	if err != nil {
		return nil, err
	}
	if d.Length < 0 || d.ChunkSize < 1 || d.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("mongo: open blob %s: %w: corrupt files document", name, store.ErrUnavailable)
	}
	return &blobReader{g: g, ctx: ctx, d: d}, nil
}

// Delete implements store.BlobStore.
func (g *gridFS) Delete(ctx context.Context, name string) error {
	if err := check.BlobName(name); err != nil {
		return err
	}
	op := "delete blob " + name
	octx, cancel := g.opContext(ctx)
	defer cancel()
	var d fileDoc
	err := g.files.FindOneAndUpdate(octx, bson.D{eq("filename", name)}, set(eq("metadata.state", blobDeleting))).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return fail(op, err)
	}
	return g.remove(ctx, op, d.ID)
}

// remove deletes the chunks, then the files document, of a blob already
// marked deleting (or never visible).
func (g *gridFS) remove(ctx context.Context, op string, id bson.ObjectID) error {
	octx, cancel := g.opContext(ctx)
	defer cancel()
	if _, err := g.chunks.DeleteMany(octx, bson.D{eq("files_id", id)}); err != nil {
		return fail(op, err)
	}
	_, err := g.files.DeleteOne(octx, bson.D{eq("_id", id)})
	return fail(op, err)
}

// maxStaged bounds one StagedBefore answer; the clean-up calls again.
const maxStaged = store.MaxLimit

// StagedBefore implements store.BlobStore: blobs being written, staged, or
// left half-deleted, whose last write is before t, oldest first (at most
// maxStaged of them).
func (g *gridFS) StagedBefore(ctx context.Context, t time.Time) ([]string, error) {
	const op = "staged blobs"
	octx, cancel := g.opContext(ctx)
	defer cancel()
	cur, err := g.files.Find(octx,
		bson.D{eq("metadata.state", in(blobWriting, blobStaged, blobDeleting)), eq("metadata.written_at", cmp("$lt", t))},
		options.Find().SetSort(bson.D{eq("metadata.written_at", 1), eq("_id", 1)}).SetLimit(maxStaged).
			SetProjection(bson.D{eq("filename", 1)}))
	if err != nil {
		return nil, fail(op, err)
	}
	defer cur.Close(octx)
	var names []string
	for cur.Next(octx) {
		var d struct {
			Filename string `bson:"filename"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fail(op, err)
		}
		names = append(names, d.Filename)
	}
	return names, fail(op, cur.Err())
}

// stagedBlob is a blob being written: whole chunks go to the database as
// they fill, the last one on Close.
type stagedBlob struct {
	g       *gridFS
	ctx     context.Context
	id      bson.ObjectID
	name    string
	buf     []byte
	n       int32 // chunks written
	length  int64
	touched time.Time
	err     error // sticky: a failed write fails every later one
	done    bool  // closed or aborted
}

func (b *stagedBlob) closedError() error {
	return fmt.Errorf("mongo: blob %s: %w: already closed or aborted", b.name, store.ErrConflict)
}

// Write implements io.Writer.
func (b *stagedBlob) Write(p []byte) (int, error) {
	if b.done {
		return 0, b.closedError()
	}
	if b.err != nil {
		return 0, b.err
	}
	if now := time.Now(); now.Sub(b.touched) >= touchEvery {
		b.touch(now)
	}
	written := 0
	for len(p) > 0 {
		k := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf = b.buf[:len(b.buf)+k]
		p = p[k:]
		written += k
		if len(b.buf) == cap(b.buf) {
			if err := b.flush(); err != nil {
				return written - k, err
			}
		}
	}
	return written, nil
}

// flush writes the buffer as the next chunk.
func (b *stagedBlob) flush() error {
	op := "write blob " + b.name
	if b.n == 1<<31-1 {
		b.err = fmt.Errorf("mongo: %s: %w: too many chunks", op, store.ErrInvalid)
		return b.err
	}
	ctx, cancel := b.g.opContext(b.ctx)
	defer cancel()
	if _, err := b.g.chunks.InsertOne(ctx, &chunkDoc{ID: chunkID(b.id, b.n), FilesID: b.id, N: b.n, Data: b.buf}); err != nil {
		b.err = fail(op, err)
		return b.err
	}
	b.n++
	b.length += int64(len(b.buf))
	b.buf = b.buf[:0]
	return nil
}

// touch refreshes written_at. A failed touch only makes the blob look idle
// sooner; the write that follows reports the failure.
func (b *stagedBlob) touch(now time.Time) {
	ctx, cancel := b.g.opContext(b.ctx)
	defer cancel()
	_, _ = b.g.files.UpdateOne(ctx, bson.D{eq("_id", b.id), eq("metadata.state", blobWriting)},
		set(eq("metadata.written_at", now)))
	b.touched = now
}

// Close implements store.StagedBlob: the last chunk, then writing -> staged
// with the length. After a failed write, Close removes what was written and
// returns that failure, so the blob can never be committed; if the removal
// fails too, the blob stays writing (never committable) until Abort, Delete
// or the clean-up of StagedBefore removes it.
func (b *stagedBlob) Close() error {
	if b.done {
		return b.closedError()
	}
	if b.err == nil && len(b.buf) > 0 {
		_ = b.flush() // a failure is in b.err, handled below
	}
	if b.err != nil {
		if b.g.abandon(b.ctx, "close blob "+b.name, b.id) == nil {
			b.done = true
		}
		return b.err
	}
	op := "close blob " + b.name
	ctx, cancel := b.g.opContext(b.ctx)
	defer cancel()
	now := time.Now()
	r, err := b.g.files.UpdateOne(ctx, bson.D{eq("_id", b.id), eq("metadata.state", blobWriting)},
		set(eq("length", b.length), eq("uploadDate", now), eq("metadata.state", blobStaged), eq("metadata.written_at", now)))
	if err != nil {
		b.err = fail(op, err)
		return b.err
	}
	b.done = true
	if r.MatchedCount == 0 {
		// Deleted while being written: take the chunks written since along.
		_ = b.g.remove(b.ctx, op, b.id)
		return fmt.Errorf("mongo: %s: %w: deleted while being written", op, store.ErrNotFound)
	}
	return nil
}

// Abort implements store.StagedBlob: the blob, written so far or staged by
// Close, is removed. A blob already committed is left alone.
func (b *stagedBlob) Abort() error {
	op := "abort blob " + b.name
	if b.done && b.err == nil {
		ctx, cancel := b.g.opContext(b.ctx)
		defer cancel()
		// Closed: remove it only if it is still staged, not committed.
		r, err := b.g.files.UpdateOne(ctx, bson.D{eq("_id", b.id), eq("metadata.state", blobStaged)},
			set(eq("metadata.state", blobDeleting)))
		if err != nil {
			return fail(op, err)
		}
		if r.MatchedCount == 0 {
			return b.closedError()
		}
		return b.g.remove(b.ctx, op, b.id)
	}
	b.done = true
	return b.g.abandon(b.ctx, op, b.id)
}

// abandon removes a blob still being written: writing -> deleting, then its
// chunks and files document.
func (g *gridFS) abandon(ctx context.Context, op string, id bson.ObjectID) error {
	octx, cancel := g.opContext(ctx)
	defer cancel()
	if _, err := g.files.UpdateOne(octx, bson.D{eq("_id", id), eq("metadata.state", blobWriting)},
		set(eq("metadata.state", blobDeleting))); err != nil {
		return fail(op, err)
	}
	return g.remove(ctx, op, id)
}

// blobReader reads a committed blob chunk by chunk, each by its _id: one
// chunk in memory, one round trip per chunk.
type blobReader struct {
	g      *gridFS
	ctx    context.Context
	d      *fileDoc
	n      int32  // next chunk
	chunk  []byte // unread part of the current chunk
	read   int64
	closed bool
}

// Size implements store.Blob.
func (r *blobReader) Size() int64 { return r.d.Length }

// Read implements io.Reader.
func (r *blobReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("mongo: read blob %s: %w: closed", r.d.Filename, store.ErrConflict)
	}
	if len(r.chunk) == 0 {
		if r.read >= r.d.Length {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	k := copy(p, r.chunk)
	r.chunk = r.chunk[k:]
	r.read += int64(k)
	return k, nil
}

// next fetches the next chunk and checks that it is the one expected, with
// the size the files document implies.
func (r *blobReader) next() error {
	op := "read blob " + r.d.Filename
	ctx, cancel := r.g.opContext(r.ctx)
	defer cancel()
	var c chunkDoc
	err := r.g.chunks.FindOne(ctx, bson.D{eq("_id", chunkID(r.d.ID, r.n))}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && (c.FilesID != r.d.ID || c.N != r.n) {
		return fmt.Errorf("mongo: %s: %w: chunk %d is missing", op, store.ErrUnavailable, r.n)
	}
	if err != nil {
		return fail(op, err)
	}
	want := min(int64(r.d.ChunkSize), r.d.Length-r.read)
	if int64(len(c.Data)) != want {
		return fmt.Errorf("mongo: %s: %w: chunk %d has %d bytes, want %d", op, store.ErrUnavailable, r.n, len(c.Data), want)
	}
	r.chunk = c.Data
	r.n++
	return nil
}

// Close implements io.Closer.
func (r *blobReader) Close() error {
	r.closed = true
	return nil
}
