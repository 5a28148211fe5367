// Package sqlite is the embedded default store.Store of DESIGN.md
// ("Storage"): one SQLite database file in the data directory, in WAL mode,
// through modernc.org/sqlite (pure Go, no cgo).
//
// Several processes on one host may open the same file. Every state change
// is one conditional UPDATE whose WHERE clause holds the state it starts
// from, so SQLite's single writer lock makes exactly one of any number of
// racers win, in one process or many. Each Store sends its writes through one
// connection held by one writer goroutine (SQLite admits one writer at a
// time anyway), so racers in one process queue in Go rather than in SQLite's
// busy handler, and the writes that queue during a commit share the next one
// (group commit, batch.go); reads use a pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/assent-dev/assent/store"
)

// FileName is the name of the database file in the data directory.
const FileName = "assent.db"

// Options tune a Store. The zero value is the production setting.
type Options struct {
	// BusyTimeout is how long a write waits for another process holding the
	// write lock before failing with ErrUnavailable; 5 s when zero.
	BusyTimeout time.Duration
	// Readers is the number of read connections; 4 when zero.
	Readers int
	// BatchSize is the most write calls one commit carries (group commit,
	// see write); 64 when zero.
	BatchSize int
	// QueueSize is the most write calls that wait for the writer; a caller
	// past it waits to queue (back-pressure). 256 when zero.
	QueueSize int
	// SyncNormal commits without syncing the WAL to disk (SQLite's
	// synchronous=NORMAL). A power loss or kernel crash may then undo the
	// last commits (it never corrupts the file); a process crash loses
	// nothing. The default (false) syncs every commit, so a change is durable
	// once a method returns.
	SyncNormal bool
}

// Store is the SQLite store.Store. It is safe for concurrent use.
type Store struct {
	path   string
	file   os.FileInfo // the database file as opened, to notice it being removed or replaced
	writer *pool       // one connection, held by the writer goroutine
	reader *pool       // read-only connections
	closed atomic.Bool

	// The writer goroutine (batch.go) takes calls from queue until quit
	// is closed, then closes writerDone.
	queue        chan *call
	quit         chan struct{}
	writerDone   chan struct{}
	batchSize    int
	beforeCommit func() error // a test's failure, injected before COMMIT
	wc           atomic.Pointer[wconn]
	commits      atomic.Uint64 // batches committed with at least one change

	busyTimeout time.Duration
	writes      atomic.Uint64 // counts nonce inserts, to purge expired nonces now and then
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the database <dir>/assent.db with the
// default Options. See OpenOptions.
func Open(ctx context.Context, dir string) (*Store, error) {
	return OpenOptions(ctx, dir, Options{})
}

// OpenOptions opens (creating it if needed) the database <dir>/assent.db:
// dir is created with mode 0700 and the file with mode 0600 if absent. The
// schema is created or migrated to the version this binary knows; a database
// with a newer schema is refused with ErrNewerSchema, a file that is not an
// Assent database with ErrNotAssent. Storage failures wrap
// store.ErrUnavailable.
func OpenOptions(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	path, fi, err := createFile(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		path: path, file: fi, busyTimeout: opts.BusyTimeout,
		queue: make(chan *call, opts.QueueSize), quit: make(chan struct{}), writerDone: make(chan struct{}),
		batchSize: opts.BatchSize,
	}
	syncMode := "FULL"
	if opts.SyncNormal {
		syncMode = "NORMAL"
	}
	// mode=rw: a connection opened later must fail rather than create a new,
	// empty database if the file has gone.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=rw" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + syncMode + ")"
	// The writer waits for the write lock in Go (see write), the readers
	// (which wait only in rare cases, such as WAL recovery) in SQLite. The
	// writer's page cache (16 MiB, SQLite's default is 2) keeps the pages of
	// random-key updates of a larger database in memory.
	if s.writer, err = newPool(base+"&_txlock=immediate&_pragma=busy_timeout(0)&_pragma=cache_size(-16384)", 1); err != nil {
		return nil, err
	}
	if s.reader, err = newPool(base+fmt.Sprintf("&_pragma=query_only(1)&_pragma=busy_timeout(%d)", opts.BusyTimeout.Milliseconds()), opts.Readers); err != nil {
		s.writer.close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		close(s.writerDone)
		s.Close()
		return nil, err
	}
	go s.runWriter()
	return s, nil
}

// createFile makes dir (0700) and the database file (0600) if they are
// absent, and returns the file's path and identity.
func createFile(dir string) (string, os.FileInfo, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("sqlite: %w: creating data directory: %v", store.ErrUnavailable, err)
		}
		// MkdirAll's mode passes through the umask; make sure of 0700.
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("sqlite: %w: data directory: %v", store.ErrUnavailable, err)
		}
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: %w: data directory: %v", store.ErrUnavailable, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		err = errors.Join(f.Chmod(0o600), f.Close())
	case errors.Is(err, os.ErrExist):
		err = nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: %w: creating database file: %v", store.ErrUnavailable, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: %w: database file: %v", store.ErrUnavailable, err)
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("sqlite: %w: database file %s is not a regular file", store.ErrUnavailable, path)
	}
	return path, fi, nil
}

// Close closes the store; later calls fail with ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.quit)
	<-s.writerDone
	return errors.Join(s.writer.close(), s.reader.close())
}

// Ping checks that the database file is still the one opened and readable.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, "ping", func(ctx context.Context, p *pool) error {
		var v int
		return p.queryRow(ctx, func(r scanner) error { return r.Scan(&v) }, "PRAGMA schema_version")
	})
}

// checkFile reports ErrUnavailable when the database file has been removed
// or replaced since Open: SQLite would go on writing to the open, unlinked
// file, and every change would be lost when the store closes.
func (s *Store) checkFile() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("%w: database file: %v", store.ErrUnavailable, err)
	}
	if !os.SameFile(fi, s.file) {
		return fmt.Errorf("%w: database file %s was replaced after the store opened it; restart to open the new one", store.ErrUnavailable, s.path)
	}
	return nil
}

// isBusy reports SQLITE_BUSY: the write lock is held by another connection.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// read runs f on the reader pool.
func (s *Store) read(ctx context.Context, op string, f func(ctx context.Context, p *pool) error) error {
	return s.use(ctx, s.reader, op, func() error { return f(ctx, s.reader) })
}

func (s *Store) use(ctx context.Context, p *pool, op string, f func() error) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w: store closed", op, store.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	// The writer checks the file once per batch, before its BEGIN (begin,
	// batch.go): a write call need not stat it a second time.
	if p != s.writer || s.wc.Load() == nil {
		if err := s.checkFile(); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	err, broken := mapErr(f())
	if broken {
		// A connection that failed on the file itself may be stuck read-only
		// or on a stale handle: drop the idle ones so that the next call
		// opens fresh ones.
		p.reset()
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// mapErr turns a database error into the store's errors. broken reports an
// error of the file or the connection, after which the connection is dropped.
func mapErr(err error) (_ error, broken bool) {
	var se *sqlite.Error
	switch {
	case err == nil:
		return nil, false
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrExpired),
		errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err, false
	case errors.Is(err, sql.ErrConnDone), err.Error() == "sql: database is closed":
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err), false
	case !errors.As(err, &se):
		return err, false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return fmt.Errorf("%w: %w", store.ErrConflict, err), false
		}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err), false
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM, sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_AUTH:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err), true
	}
	return err, false
}
