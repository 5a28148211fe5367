// Package blobdir is the default store.BlobStore of DESIGN.md ("Storage"):
// ciphertext in files of one directory.
//
// A blob is written to staged/<name> and committed by a hard link to
// blobs/<name>, so a final name only ever names a complete, synced file:
// the staged file is synced before Close returns, the blobs directory before
// Commit returns (concurrent commits share the directory's fsyncs: one that
// began after a commit's link covers it). Names pass store.CheckBlobName and every path is resolved
// through an os.Root, so neither a name nor a symbolic link planted in the
// directory leads outside it. Files are created with mode 0600, directories
// with 0700. Several processes may share the directory.
package blobdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"
	"time"

	"github.com/assent-dev/assent/store"
)

// The two subdirectories of the store's directory.
const (
	StagedDir = "staged"
	BlobsDir  = "blobs"
)

// Store is a directory blob store. It is safe for concurrent use.
type Store struct {
	root *os.Root
	sync syncGroup // of the blobs directory: commits share its fsyncs

	mu      sync.Mutex
	writing map[string]*staged // blobs being written by this Store
}

var _ store.BlobStore = (*Store)(nil)

// Open opens the blob store in dir, creating dir (0700) and its staged and
// blobs subdirectories as needed. Failures wrap store.ErrUnavailable.
func Open(dir string) (*Store, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("blobdir: %w: %v", store.ErrUnavailable, err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blobdir: %w: %v", store.ErrUnavailable, err)
	}
	for _, sub := range []string{StagedDir, BlobsDir} {
		if err := root.Mkdir(sub, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			root.Close()
			return nil, fmt.Errorf("blobdir: %w: %v", store.ErrUnavailable, err)
		}
		// The umask may have narrowed 0700; it cannot have widened it, but
		// an existing directory may be wider.
		if err := root.Chmod(sub, 0o700); err != nil {
			root.Close()
			return nil, fmt.Errorf("blobdir: %w: %v", store.ErrUnavailable, err)
		}
	}
	s := &Store{root: root, writing: map[string]*staged{}}
	s.sync.init(func() error { return s.syncDir(BlobsDir) })
	return s, nil
}

// Close releases the directory. Blobs open for reading or writing stay
// usable until closed.
func (s *Store) Close() error { return s.root.Close() }

// Stage implements store.BlobStore: ErrConflict if name is staged or
// committed already.
func (s *Store) Stage(ctx context.Context, name string) (store.StagedBlob, error) {
	if err := check(ctx, name); err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(path.Join(StagedDir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, mapErr("stage", name, err) // ErrConflict if staged already
	}
	// Only now that the staged name is ours is the final name looked up:
	// a commit of the same name that linked and unlinked before the create
	// is seen, and a name committed long ago costs one create and remove
	// (a rare conflict) rather than every stage a second lookup.
	if s.committed(name) {
		f.Close()
		s.root.Remove(path.Join(StagedDir, name))
		return nil, fmt.Errorf("blobdir: stage %s: %w: committed already", name, store.ErrConflict)
	}
	b := &staged{s: s, name: name, f: f}
	s.mu.Lock()
	s.writing[name] = b
	s.mu.Unlock()
	return b, nil
}

// Commit implements store.BlobStore: ErrNotFound if name is not staged,
// ErrConflict if it is committed already or still being written by this
// Store. Once Commit returns nil, the blob is on disk under its final name.
func (s *Store) Commit(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	s.mu.Lock()
	_, open := s.writing[name]
	s.mu.Unlock()
	if open {
		return fmt.Errorf("blobdir: commit %s: %w: still being written", name, store.ErrConflict)
	}
	final := path.Join(BlobsDir, name)
	// Link refuses an existing final name: of racing commits one wins.
	if err := s.root.Link(path.Join(StagedDir, name), final); err != nil {
		if errors.Is(err, fs.ErrNotExist) && s.committed(name) {
			return fmt.Errorf("blobdir: commit %s: %w: committed already", name, store.ErrConflict)
		}
		return mapErr("commit", name, err)
	}
	if err := s.sync.wait(); err != nil {
		// Not durable: take the final name back so that the caller may retry.
		s.root.Remove(final)
		return mapErr("commit", name, err)
	}
	// The staged name is only a second link now. Should a crash keep it,
	// StagedBefore removes it without listing it.
	s.root.Remove(path.Join(StagedDir, name))
	return nil
}

// Open implements store.BlobStore: ErrNotFound unless name is committed.
func (s *Store) Open(ctx context.Context, name string) (store.Blob, error) {
	if err := check(ctx, name); err != nil {
		return nil, err
	}
	f, err := s.root.Open(path.Join(BlobsDir, name))
	if err != nil {
		return nil, mapErr("open", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, mapErr("open", name, err)
	}
	return &blob{f: f, name: name, size: fi.Size()}, nil
}

// Delete implements store.BlobStore: it removes name, staged or committed
// or both; ErrNotFound if it is neither. A blob this Store is writing fails
// its later writes.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	s.mu.Lock()
	if b := s.writing[name]; b != nil {
		b.abortLocked()
	}
	s.mu.Unlock()
	found := false
	for _, dir := range []string{BlobsDir, StagedDir} {
		err := s.root.Remove(path.Join(dir, name))
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, fs.ErrNotExist):
			return mapErr("delete", name, err)
		}
	}
	if !found {
		return fmt.Errorf("blobdir: delete %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// StagedBefore implements store.BlobStore. It leaves out blobs this Store
// is writing, and removes (without listing) a staged name left behind by a
// crash after its blob was committed.
func (s *Store) StagedBefore(ctx context.Context, t time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blobdir: staged before: %w", err)
	}
	d, err := s.root.Open(StagedDir)
	if err != nil {
		return nil, mapErr("staged before", StagedDir, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, mapErr("staged before", StagedDir, err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if store.CheckBlobName(name) != nil || !e.Type().IsRegular() {
			continue // not ours
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(t) {
			continue // gone meanwhile, or recent
		}
		s.mu.Lock()
		_, open := s.writing[name]
		s.mu.Unlock()
		if open {
			continue
		}
		if s.committed(name) {
			s.root.Remove(path.Join(StagedDir, name))
			continue
		}
		out = append(out, name)
	}
	return out, nil
}

func (s *Store) committed(name string) bool {
	_, err := s.root.Lstat(path.Join(BlobsDir, name))
	return err == nil
}

// syncGroup runs a directory's fsync for every caller that needs its last
// change in the directory durable, sharing one fsync among the callers that
// arrive while another is in flight: an fsync begun after a caller's change
// covers it. Under concurrent commits this is one fsync for many links
// rather than one each (and on a virtual machine's disk each costs tens of
// microseconds of CPU besides the wait).
type syncGroup struct {
	f        func() error
	mu       sync.Mutex
	cond     sync.Cond
	started  uint64 // fsyncs begun
	finished uint64 // fsyncs finished, in order (one runs at a time)
	running  bool
	last     error // the outcome of fsync number finished
}

func (g *syncGroup) init(f func() error) {
	g.f = f
	g.cond.L = &g.mu
}

// wait returns once an fsync that began after the call has finished, with
// its error. A later fsync's outcome is as good: it began after the call
// too (an error then is one the caller may see for a change that was in
// fact made durable by the earlier one; it takes its change back, which is
// the safe side).
func (g *syncGroup) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1 // the next to begin; a running one may have begun before the change
	for g.finished < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := g.f()
		g.mu.Lock()
		g.running = false
		g.finished, g.last = n, err
		g.cond.Broadcast()
	}
	return g.last
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func check(ctx context.Context, name string) error {
	if err := store.CheckBlobName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blobdir: %w", err)
	}
	return nil
}

// mapErr turns a file error into the store's errors.
func mapErr(op, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("blobdir: %s %s: %w", op, name, store.ErrNotFound)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("blobdir: %s %s: %w", op, name, store.ErrConflict)
	}
	return fmt.Errorf("blobdir: %s %s: %w: %w", op, name, store.ErrUnavailable, err)
}
