// Command ferretdb runs an embedded FerretDB v1 (the MongoDB wire protocol
// over SQLite) on a Unix socket, for the tests of store/mongo: started by
// internal/ferrettest, never by hand. It is a module of its own so that
// FerretDB and the forty-odd modules behind it stay out of Assent's go.mod:
// FerretDB is a test engine for query semantics only (its findAndModify is
// not atomic), never a production backend.
//
// Usage: ferretdb DIR. It keeps its SQLite files in DIR/data, listens on
// DIR/ferretdb.sock, prints "ferrettest: ready" once the socket accepts
// connections, and stops when its standard input closes.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// readyLine is what internal/ferrettest waits for.
const readyLine = "ferrettest: ready"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ferretdb DIR (started by internal/ferrettest)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	socket := filepath.Join(dir, "ferretdb.sock")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return err
	}
	// A socket file left by a previous run would make the listen fail.
	if err := os.Remove(socket); err != nil && !os.IsNotExist(err) {
		return err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: socket},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.Join(dir, "data") + "/",
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }() // nil once ctx is canceled
	if err := waitListening(socket, done); err != nil {
		return err
	}
	fmt.Println(readyLine)
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	return <-done
}

// waitListening returns once socket accepts a connection, or the server's
// error if it stopped first.
func waitListening(socket string, done <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("stopped before listening: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not listening after 30s", socket)
}
