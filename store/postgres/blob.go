package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// Blobs returns the store.BlobStore on the same database and pool (see the
// package doc for the layout and why bytea chunks).
func (s *Store) Blobs() store.BlobStore { return &blobStore{s: s} }

type blobStore struct{ s *Store }

var _ store.BlobStore = (*blobStore)(nil)

// Blob states, in blobs.state.
const (
	blobWriting   = "writing"
	blobStaged    = "staged"
	blobCommitted = "committed"
)

// touchEvery is how often a blob being written refreshes its written_at, so
// that StagedBefore does not offer a live upload for clean-up (the server
// takes a staged blob untouched for a minute as left by a dead upload).
const touchEvery = 20 * time.Second

// maxStaged bounds one StagedBefore answer; the clean-up calls again.
const maxStaged = store.MaxLimit

// codeForeignKey is SQLSTATE foreign_key_violation: a chunk for a blob row
// that is gone.
const codeForeignKey = "23503"

// Stage implements store.BlobStore. ctx also governs the writes, Close and
// Abort of the returned blob, which is not safe for concurrent use.
func (b *blobStore) Stage(ctx context.Context, name string) (store.StagedBlob, error) {
	if err := check.BlobName(name); err != nil {
		return nil, err
	}
	now := time.Now()
	var id int64
	_, err := b.s.update(ctx, "stage blob "+name,
		`INSERT INTO blobs (name, state, chunk_size, written_at) VALUES ($1, 'writing', $2, $3) RETURNING id`,
		[]any{name, b.s.opts.BlobChunkSize, now.UnixNano()}, &id)
	if err != nil {
		return nil, err
	}
	return &stagedBlob{b: b, ctx: ctx, id: id, name: name, buf: make([]byte, 0, b.s.opts.BlobChunkSize), touched: now}, nil
}

// Commit implements store.BlobStore: staged -> committed in one update.
func (b *blobStore) Commit(ctx context.Context, name string) error {
	if err := check.BlobName(name); err != nil {
		return err
	}
	op := "commit blob " + name
	var id int64
	ok, err := b.s.update(ctx, op,
		`UPDATE blobs SET state = 'committed', written_at = $2 WHERE name = $1 AND state = 'staged' RETURNING id`,
		[]any{name, time.Now().UnixNano()}, &id)
	if err != nil || ok {
		return err
	}
	var state string
	if err := b.s.get(ctx, op, func(r pgx.Row) error { return r.Scan(&state) }, `SELECT state FROM blobs WHERE name = $1`, name); err != nil {
		return err
	}
	return fmt.Errorf("postgres: %s: %w: blob is %s, not staged and closed", op, store.ErrConflict, state)
}

// Open implements store.BlobStore. ctx also governs the reads of the
// returned blob, which reads one chunk at a time and is not safe for
// concurrent use.
func (b *blobStore) Open(ctx context.Context, name string) (store.Blob, error) {
	if err := check.BlobName(name); err != nil {
		return nil, err
	}
	r := &blobReader{b: b, ctx: ctx, name: name}
	err := b.s.get(ctx, "open blob "+name, func(row pgx.Row) error { return row.Scan(&r.id, &r.length, &r.chunkSize) },
		`SELECT id, length, chunk_size FROM blobs WHERE name = $1 AND state = 'committed'`, name)
	if err != nil {
		return nil, err
	}
	if r.length < 0 || r.chunkSize < 1 || r.chunkSize > MaxBlobChunkSize {
		return nil, fmt.Errorf("postgres: open blob %s: %w: corrupt blob row", name, store.ErrUnavailable)
	}
	return r, nil
}

// Delete implements store.BlobStore: one statement removes the blob row,
// in any state, and its chunks with it (ON DELETE CASCADE).
func (b *blobStore) Delete(ctx context.Context, name string) error {
	if err := check.BlobName(name); err != nil {
		return err
	}
	var id int64
	ok, err := b.s.update(ctx, "delete blob "+name, `DELETE FROM blobs WHERE name = $1 RETURNING id`, []any{name}, &id)
	if err == nil && !ok {
		return fmt.Errorf("postgres: delete blob %s: %w", name, store.ErrNotFound)
	}
	return err
}

// StagedBefore implements store.BlobStore: blobs being written or staged
// whose last write is before t, oldest first (at most maxStaged of them).
func (b *blobStore) StagedBefore(ctx context.Context, t time.Time) ([]string, error) {
	return list(ctx, b.s, "staged blobs", func(r pgx.Row) (string, error) {
		var name string
		return name, r.Scan(&name)
	}, `SELECT name FROM blobs WHERE state IN ('writing', 'staged') AND written_at < $1 ORDER BY written_at, id LIMIT $2`,
		t.UnixNano(), maxStaged)
}

// stagedBlob is a blob being written: whole chunks go to the database as
// they fill, the last one on Close.
type stagedBlob struct {
	b       *blobStore
	ctx     context.Context
	id      int64
	name    string
	buf     []byte
	n       int32 // chunks written
	length  int64
	touched time.Time
	err     error // sticky: a failed write fails every later one
	done    bool  // closed or aborted
}

func (w *stagedBlob) closedError() error {
	return fmt.Errorf("postgres: blob %s: %w: already closed or aborted", w.name, store.ErrConflict)
}

// Write implements io.Writer.
func (w *stagedBlob) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.closedError()
	}
	if w.err != nil {
		return 0, w.err
	}
	if now := time.Now(); now.Sub(w.touched) >= touchEvery {
		w.touch(now)
	}
	written := 0
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		written += k
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return written - k, err
			}
		}
	}
	return written, nil
}

// flush writes the buffer as the next chunk. A blob deleted meanwhile makes
// the foreign key refuse the chunk: ErrNotFound.
func (w *stagedBlob) flush() error {
	op := "write blob " + w.name
	if w.n == 1<<31-1 {
		w.err = fmt.Errorf("postgres: %s: %w: too many chunks", op, store.ErrInvalid)
		return w.err
	}
	err := w.b.s.exec(w.ctx, op, `INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3)`, w.id, w.n, w.buf)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeForeignKey {
		err = fmt.Errorf("postgres: %s: %w: deleted while being written", op, store.ErrNotFound)
	}
	if err != nil {
		w.err = err
		return err
	}
	w.n++
	w.length += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// touch refreshes written_at. A failed touch only makes the blob look idle
// sooner; the write that follows reports the failure.
func (w *stagedBlob) touch(now time.Time) {
	_ = w.b.s.exec(w.ctx, "touch blob "+w.name, `UPDATE blobs SET written_at = $2 WHERE id = $1 AND state = 'writing'`, w.id, now.UnixNano())
	w.touched = now
}

// Close implements store.StagedBlob: the last chunk, then writing -> staged
// with the length. After a failed write, Close removes what was written and
// returns that failure, so the blob can never be committed; if the removal
// fails too, the blob stays writing (never committable) until Abort, Delete
// or the clean-up of StagedBefore removes it.
func (w *stagedBlob) Close() error {
	if w.done {
		return w.closedError()
	}
	if w.err == nil && len(w.buf) > 0 {
		_ = w.flush() // a failure is in w.err, handled below
	}
	if w.err != nil {
		if w.remove(blobWriting) == nil {
			w.done = true
		}
		return w.err
	}
	op := "close blob " + w.name
	var id int64
	ok, err := w.b.s.update(w.ctx, op,
		`UPDATE blobs SET state = 'staged', length = $2, written_at = $3 WHERE id = $1 AND state = 'writing' RETURNING id`,
		[]any{w.id, w.length, time.Now().UnixNano()}, &id)
	if err != nil {
		w.err = err
		return err
	}
	w.done = true
	w.buf = nil
	if !ok {
		return fmt.Errorf("postgres: %s: %w: deleted while being written", op, store.ErrNotFound)
	}
	return nil
}

// Abort implements store.StagedBlob: the blob, written so far or staged by
// Close, is removed. A blob already committed is left alone.
func (w *stagedBlob) Abort() error {
	if w.done && w.err == nil {
		// Closed: remove it only if it is still staged, not committed.
		ok, err := w.removed(blobStaged)
		if err != nil {
			return err
		}
		if !ok {
			return w.closedError()
		}
		return nil
	}
	w.done = true
	w.buf = nil
	return w.remove(blobWriting)
}

// remove deletes the blob row (and its chunks) if it is in state.
func (w *stagedBlob) remove(state string) error {
	_, err := w.removed(state)
	return err
}

func (w *stagedBlob) removed(state string) (bool, error) {
	var id int64
	return w.b.s.update(w.ctx, "remove blob "+w.name, `DELETE FROM blobs WHERE id = $1 AND state = $2 RETURNING id`,
		[]any{w.id, state}, &id)
}

// blobReader reads a committed blob chunk by chunk, each by its primary key:
// one chunk in memory, one round trip per chunk.
type blobReader struct {
	b         *blobStore
	ctx       context.Context
	name      string
	id        int64
	length    int64
	chunkSize int
	n         int32  // next chunk
	chunk     []byte // unread part of the current chunk
	read      int64
	closed    bool
}

// Size implements store.Blob.
func (r *blobReader) Size() int64 { return r.length }

// Read implements io.Reader.
func (r *blobReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("postgres: read blob %s: %w: closed", r.name, store.ErrConflict)
	}
	if len(r.chunk) == 0 {
		if r.read >= r.length {
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

// next fetches the next chunk and checks that it has the size the blob row
// implies.
func (r *blobReader) next() error {
	op := "read blob " + r.name
	var data []byte
	err := r.b.s.get(r.ctx, op, func(row pgx.Row) error { return row.Scan(&data) },
		`SELECT data FROM blob_chunks WHERE blob_id = $1 AND n = $2`, r.id, r.n)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("postgres: %s: %w: chunk %d is missing", op, store.ErrUnavailable, r.n)
	}
	if err != nil {
		return err
	}
	want := min(int64(r.chunkSize), r.length-r.read)
	if int64(len(data)) != want {
		return fmt.Errorf("postgres: %s: %w: chunk %d has %d bytes, want %d", op, store.ErrUnavailable, r.n, len(data), want)
	}
	r.chunk = data
	r.n++
	return nil
}

// Close implements io.Closer.
func (r *blobReader) Close() error {
	r.closed = true
	r.chunk = nil
	return nil
}
