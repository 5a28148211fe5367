package store

import (
	"context"
	"io"
	"time"
)

// BlobStore keeps ciphertext. A blob is written to a staging name first and
// becomes visible under its final name only when committed, atomically and
// durably, so a partial write is never seen under a final name. Names are
// chosen by the server (record ids); an implementation rejects any name that
// could escape its namespace (ErrInvalid).
//
// Errors: ErrNotFound for an unknown name, ErrConflict when the name is
// already staged or committed, ErrUnavailable (wrapped) when storage fails.
type BlobStore interface {
	// Stage opens a new staged blob for streaming writes.
	Stage(ctx context.Context, name string) (StagedBlob, error)
	// Commit makes a staged, closed blob visible under its final name; once it
	// returns nil the blob is durable.
	Commit(ctx context.Context, name string) error
	// Open opens a committed blob for reading.
	Open(ctx context.Context, name string) (Blob, error)
	// Delete removes the blob, staged or committed. Deleting a missing blob
	// returns ErrNotFound.
	Delete(ctx context.Context, name string) error
	// StagedBefore lists staged blobs last written before t (for clean-up after
	// a crash).
	StagedBefore(ctx context.Context, t time.Time) ([]string, error)
}

// StagedBlob is a blob being written. Close flushes it durably and leaves it
// staged; Abort removes it. After either, further writes fail.
type StagedBlob interface {
	io.Writer
	Close() error
	Abort() error
}

// Blob is a committed blob open for reading.
type Blob interface {
	io.ReadCloser
	// Size is the blob's length in bytes.
	Size() int64
}
