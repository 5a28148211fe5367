package blobdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
)

// ErrClosed is returned by a staged blob's methods after Close or Abort
// (or after Delete of its name).
var ErrClosed = errors.New("blobdir: staged blob closed or aborted")

// staged is a blob being written. After a failed write it can only be
// aborted: Close then removes it and reports the failure, so a short file
// never becomes committable.
type staged struct {
	s    *Store
	name string

	// Guarded by s.mu.
	f      *os.File // nil once closed or aborted
	failed error
}

func (b *staged) file() (*os.File, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if b.f == nil {
		return nil, fmt.Errorf("%w: %s", ErrClosed, b.name)
	}
	if b.failed != nil {
		return nil, b.failed
	}
	return b.f, nil
}

// Write writes p to the staged file. Calls must not overlap.
func (b *staged) Write(p []byte) (int, error) {
	f, err := b.file()
	if err != nil {
		return 0, err
	}
	n, err := f.Write(p)
	if errors.Is(err, os.ErrClosed) {
		return n, fmt.Errorf("%w: %s", ErrClosed, b.name) // deleted meanwhile
	}
	if err != nil {
		err = mapErr("write", b.name, err)
		b.s.mu.Lock()
		b.failed = err
		b.s.mu.Unlock()
	}
	return n, err
}

// Close syncs the staged file to disk and leaves it staged. After a failed
// write it removes the file instead and returns that failure.
func (b *staged) Close() error {
	b.s.mu.Lock()
	f, failed := b.f, b.failed
	b.s.mu.Unlock()
	if f == nil {
		return fmt.Errorf("%w: %s", ErrClosed, b.name)
	}
	if failed == nil {
		if err := f.Sync(); err != nil {
			failed = mapErr("sync", b.name, err)
		}
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if b.f == nil { // deleted meanwhile
		return fmt.Errorf("%w: %s", ErrClosed, b.name)
	}
	if failed != nil {
		b.abortLocked()
		b.s.root.Remove(path.Join(StagedDir, b.name))
		return failed
	}
	b.f = nil
	delete(b.s.writing, b.name)
	if err := f.Close(); err != nil {
		b.s.root.Remove(path.Join(StagedDir, b.name))
		return mapErr("close", b.name, err)
	}
	return nil
}

// Abort removes the staged blob, also after Close (unless committed since).
func (b *staged) Abort() error {
	b.s.mu.Lock()
	b.abortLocked()
	b.s.mu.Unlock()
	err := b.s.root.Remove(path.Join(StagedDir, b.name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return mapErr("abort", b.name, err)
	}
	return nil
}

// abortLocked closes the file and forgets the blob; s.mu is held.
func (b *staged) abortLocked() {
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
	if b.s.writing[b.name] == b {
		delete(b.s.writing, b.name)
	}
}

// blob is a committed blob open for reading.
type blob struct {
	f    *os.File
	name string
	size int64
}

func (b *blob) Size() int64 { return b.size }

func (b *blob) Read(p []byte) (int, error) {
	n, err := b.f.Read(p)
	if err != nil && err != io.EOF {
		err = mapErr("read", b.name, err)
	}
	return n, err
}

func (b *blob) Close() error {
	if err := b.f.Close(); err != nil {
		return mapErr("close", b.name, err)
	}
	return nil
}
