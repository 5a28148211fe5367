package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/assent-dev/assent/internal/securefile"
)

// FilePaths name the files of a FileStorage. An empty path leaves that part
// out: its methods fail (ErrKeystore, ErrLedger or ErrHead).
type FilePaths struct {
	Keystore string // the sealed keystore, written once (securefile.WriteNew)
	Ledger   string // the ledger, JSON lines, appended and synced
	Head     string // the pinned audit head, replaced whole (securefile.Replace)
}

// DefaultFilePaths is the layout of `assent device` for a keystore file:
// the ledger and the head next to it, named as the keystore without its
// ".key" suffix plus ".ledger" and ".head" (~/.assent/device.key,
// device.ledger, device.head).
func DefaultFilePaths(keystore string) FilePaths {
	base := strings.TrimSuffix(keystore, ".key")
	return FilePaths{Keystore: keystore, Ledger: base + ".ledger", Head: base + ".head"}
}

// FileStorage is the Storage of `assent device`: plain files, each mode
// 0600 in a directory made 0700. Every file is refused when it is not a
// regular file or grants any group or other permission. The ledger file is
// opened, checked and locked (flock, ErrLedgerLocked for a second holder) on
// the first ledger call and stays so until Close; a failed sync makes every
// later ledger call fail, since the file may then not hold what was written.
// The head's compare-and-swap holds a lock on a file named as the head plus
// ".lock", so that two processes of the same device never both win.
type FileStorage struct {
	mu     sync.Mutex
	paths  FilePaths
	ledger *os.File
	failed error
	closed bool
	// dirty: ledger bytes were written by appendLedgerLazy and not synced
	// since.
	dirty bool
}

// NewFileStorage returns the storage of the files p names. It touches no
// file until a method is called.
func NewFileStorage(p FilePaths) *FileStorage { return &FileStorage{paths: p} }

// Paths returns the files the storage uses.
func (s *FileStorage) Paths() FilePaths { return s.paths }

var errStorageClosed = errors.New("storage closed")

func (s *FileStorage) usable(ctx context.Context, sentinel error, path string) error {
	if s.closed {
		return fmt.Errorf("%w: %w", sentinel, errStorageClosed)
	}
	if path == "" {
		return fmt.Errorf("%w: this storage has no file for it", sentinel)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return nil
}

// ReadKeystore reads the keystore file (at most 16 KiB).
func (s *FileStorage) ReadKeystore(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, ErrKeystore, s.paths.Keystore); err != nil {
		return nil, err
	}
	return readPrivateFile(s.paths.Keystore, maxKeystoreSize)
}

// CreateKeystore writes the keystore file with securefile.WriteNew: whole
// or not at all, never over an existing file (ErrKeystoreExists).
func (s *FileStorage) CreateKeystore(ctx context.Context, blob []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, ErrKeystore, s.paths.Keystore); err != nil {
		return err
	}
	return writeNewFile(s.paths.Keystore, blob)
}

// ledgerFile opens, checks and locks the ledger file once.
func (s *FileStorage) ledgerFile(ctx context.Context) (*os.File, error) {
	if err := s.usable(ctx, ErrLedger, s.paths.Ledger); err != nil {
		return nil, err
	}
	if s.failed != nil {
		return nil, s.failed
	}
	if s.ledger != nil {
		return s.ledger, nil
	}
	path := s.paths.Ledger
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	if err := checkPrivate(f, path); err != nil {
		f.Close()
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	s.ledger = f
	return f, nil
}

// ReadLedger reads the whole ledger file, creating it empty if absent.
func (s *FileStorage) ReadLedger(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.ledgerFile(ctx)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	if st.Size() > maxLedgerSize {
		return nil, fmt.Errorf("%w: ledger of %d bytes is over the limit", ErrLedger, st.Size())
	}
	data, err := io.ReadAll(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLedger, err)
	}
	return data, nil
}

// AppendLedger writes data at the end of the ledger file and syncs it (and
// with it any line appendLedgerLazy wrote before).
func (s *FileStorage) AppendLedger(ctx context.Context, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLedger(ctx, data, true)
}

// appendLedgerLazy writes data at the end of the ledger file without
// waiting for the disk (lazyLedger): the next sync carries it.
func (s *FileStorage) appendLedgerLazy(ctx context.Context, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLedger(ctx, data, false)
}

func (s *FileStorage) appendLedger(ctx context.Context, data []byte, durable bool) error {
	f, err := s.ledgerFile(ctx)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("%w: writing: %v", ErrLedger, err)
	}
	s.dirty = true
	if !durable {
		return nil
	}
	return s.syncLedger(f)
}

// flushLedger syncs the ledger file if appendLedgerLazy wrote to it since
// the last sync (lazyLedger).
func (s *FileStorage) flushLedger(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	f, err := s.ledgerFile(ctx)
	if err != nil {
		return err
	}
	return s.syncLedger(f)
}

// syncLedger syncs the ledger file; a failure fails every later ledger
// call, since what the file holds is then unknown.
func (s *FileStorage) syncLedger(f *os.File) error {
	if err := f.Sync(); err != nil {
		s.failed = fmt.Errorf("%w: syncing failed earlier: %v", ErrLedger, err)
		return fmt.Errorf("%w: syncing: %v", ErrLedger, err)
	}
	s.dirty = false
	return nil
}

// TruncateLedger cuts the ledger file and syncs it.
func (s *FileStorage) TruncateLedger(ctx context.Context, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.ledgerFile(ctx)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLedger, err)
	}
	if size < 0 || size > st.Size() {
		return fmt.Errorf("%w: cannot cut a ledger of %d bytes to %d", ErrLedger, st.Size(), size)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("%w: cutting: %v", ErrLedger, err)
	}
	return s.syncLedger(f)
}

// ReadHead reads the head file; nil if there is none.
func (s *FileStorage) ReadHead(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, ErrHead, s.paths.Head); err != nil {
		return nil, err
	}
	return readHeadFile(s.paths.Head)
}

func readHeadFile(path string) ([]byte, error) {
	data, err := readPrivate(path, maxHeadSize, ErrHead)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// SwapHead compares and replaces the head file under its lock file.
func (s *FileStorage) SwapHead(ctx context.Context, old, next []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, ErrHead, s.paths.Head); err != nil {
		return err
	}
	if len(next) == 0 || len(next) > maxHeadSize {
		return fmt.Errorf("%w: a head of %d bytes", ErrHead, len(next))
	}
	path := s.paths.Head
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrHead, err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHead, err)
	}
	defer lock.Close()
	if err := lockFileWait(lock); err != nil {
		return fmt.Errorf("%w: locking: %v", ErrHead, err)
	}
	cur, err := readHeadFile(path)
	if err != nil {
		return err
	}
	if len(old) == 0 && cur != nil || len(old) > 0 && !bytes.Equal(cur, old) {
		return ErrHeadConflict
	}
	if err := securefile.Replace(path, next); err != nil {
		return fmt.Errorf("%w: %v", ErrHead, err)
	}
	return nil
}

// Close syncs what the ledger file holds unsynced, then closes it,
// releasing its lock. Later calls fail.
func (s *FileStorage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.ledger == nil {
		return nil
	}
	var err error
	if s.dirty && s.failed == nil {
		err = s.syncLedger(s.ledger)
	}
	return errors.Join(err, s.ledger.Close())
}
