// Package ferrettest runs an embedded FerretDB v1 (the MongoDB wire protocol
// over SQLite, github.com/FerretDB/FerretDB/ferretdb) for the tests of
// store/mongo, listening on a Unix socket in a directory the caller owns:
// in this process (Start), or in a child process that is the test binary
// again (StartProcess, with ServeIfChild at the top of TestMain).
//
// FerretDB is a test engine for query semantics only (DESIGN.md, Storage): its
// findAndModify is not atomic, so no race test means anything against it.
// Tests that need a real MongoDB take its URI from ASSENT_TEST_MONGODB_URI.
package ferrettest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// maxSocketPath is the room for a Unix socket path (sun_path is 108 bytes on
// Linux, 104 on the BSDs).
const maxSocketPath = 100

// Server is one FerretDB instance. It can be stopped and started again on the
// same socket and data, to simulate a database outage.
type Server struct {
	dir    string
	socket string
	logger *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts FerretDB with its SQLite files in dir/data and its socket at
// dir/ferretdb.sock. dir must exist and be short enough for a socket path
// (os.MkdirTemp("", ...) is; t.TempDir() may not be). logger receives
// FerretDB's log; nil discards it.
func Start(dir string, logger *slog.Logger) (*Server, error) {
	socket := filepath.Join(dir, "ferretdb.sock")
	if len(socket) > maxSocketPath {
		return nil, fmt.Errorf("ferrettest: socket path %q is over %d bytes", socket, maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("ferrettest: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{dir: dir, socket: socket, logger: logger}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// URI is the MongoDB connection string of the server (no database).
func (s *Server) URI() string {
	return "mongodb://" + url.PathEscape(s.socket) + "/"
}

// Restart starts a stopped server again on the same socket and data. It
// fails if the server is running.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("ferrettest: server is running")
	}
	// A socket file left by a previous run would make the listen fail.
	if err := os.Remove(s.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ferrettest: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: s.socket},
		Logger:    s.logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.Join(s.dir, "data") + "/",
	})
	if err != nil {
		return fmt.Errorf("ferrettest: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // returns nil once ctx is canceled
	}()
	s.cancel, s.done = cancel, done
	return nil
}

// Stop stops the server and waits until its listener, connections and SQLite
// files are closed. FerretDB gives open connections up to 3 seconds to go.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel, s.done = nil, nil
}
