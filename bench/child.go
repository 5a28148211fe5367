package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// childConfig is the file in the data directory that tells the child how to
// configure its server.
const childConfig = "bench-server.json"

// ServeChild is the server side of a benchmark run, called in the child
// process that Config.ServerCommand starts, with the arguments Run gives it
// (-data-dir DIR). It runs the real server (server.New on the SQLite store
// and blob directory of DIR, with the server.Config in DIR/bench-server.json)
// on a loopback port, prints "ready <URL>" on stdout, then answers the
// parent's commands, one line each on stdin, with one line on stdout:
//
//	cpu                  "ok <ns>": user+system CPU time of this process
//	heap                 "ok <bytes>": live heap after a garbage collection
//	rss                  "ok <VmRSS> <VmHWM>" in bytes (Linux)
//	reset-peak           "ok": resets VmHWM (Linux)
//	store                "ok <writes> <ns> <commits>": store writes so far, how
//	                     long the store's write path has been busy
//	                     (meteredStore), and the SQLite commits (fsyncs)
//	profile-start <file> "ok": starts a CPU profile
//	profile-stop         "ok": stops and writes it
//
// A failed command answers "err <message>". It stops the server and returns
// when stdin ends, so the server never outlives the parent.
func ServeChild(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data `directory`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || fs.NArg() > 0 {
		return errors.New("bench child: usage: -data-dir DIR")
	}
	data, err := os.ReadFile(filepath.Join(*dataDir, childConfig))
	if err != nil {
		return err
	}
	var cfg server.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("bench child: %s: %w", childConfig, err)
	}
	cfg.DataDir = *dataDir
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}

	cfg.Listen = "127.0.0.1:0"
	meter, commits, n, err := newChildServer(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if err := n.Listen(); err != nil {
		return errors.Join(err, n.Close())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- n.Serve(ctx) }()

	fmt.Fprintln(stdout, "ready "+n.URL)
	c := &child{meter: meter, commits: commits}
	defer c.stopProfile()
	commands := make(chan struct{})
	go func() {
		defer close(commands)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			fmt.Fprintln(stdout, c.command(sc.Text()))
		}
	}()
	select {
	case <-commands: // the parent closed stdin, or died
		cancel()
	case err := <-served:
		return err
	}
	// A server stuck past its own shutdown timeout must not keep the
	// process alive: the caller exits, without waiting on the store.
	select {
	case err := <-served:
		return err
	case <-time.After(cfg.ShutdownTimeout + 5*time.Second):
		return errors.New("bench child: the server did not stop in time")
	}
}

// newChildServer builds the node of cfg (internal/node, as `assent serve`
// does), its store writes metered, and returns it with the store's commit
// counter (SQLite's; zero on PostgreSQL). Only here is the no-consent
// baseline route (Deps.NoConsentBaseline) turned on.
func newChildServer(ctx context.Context, cfg server.Config, logs io.Writer) (*meteredStore, func() uint64, *node.Node, error) {
	// The bench's PostgreSQL schema is its own, so the child makes the
	// master key there too, which a node with a shared store never does.
	mk, err := threshold.LoadOrCreateMasterKey(cfg.MasterKeyPath, rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	mk.Destroy()
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // checked by Validate
	var meter *meteredStore
	n, err := node.Open(ctx, cfg, node.Options{
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})),
		WrapStore:         func(st store.Store) store.Store { meter = &meteredStore{Store: st}; return meter },
		PostgresMaxConns:  64,
		NoConsentBaseline: true,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	commits := func() uint64 { return 0 }
	if c, ok := n.Store.(interface{ Commits() uint64 }); ok {
		commits = c.Commits
	}
	return meter, commits, n, nil
}

// child is the state of ServeChild's command loop.
type child struct {
	meter   *meteredStore
	commits func() uint64
	mu      sync.Mutex
	profile *os.File // the CPU profile being written
}

func (c *child) stopProfile() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopProfileLocked()
}

func (c *child) stopProfileLocked() error {
	if c.profile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := c.profile.Close()
	c.profile = nil
	return err
}

// command runs one command of the parent and returns the answer line.
func (c *child) command(line string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	answer := func(fields ...any) string { return strings.TrimSpace("ok " + fmt.Sprintln(fields...)) }
	switch name {
	case "cpu":
		d, err := processCPU()
		if err != nil {
			return "err " + err.Error()
		}
		return answer(int64(d))
	case "heap":
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return answer(m.HeapAlloc)
	case "rss":
		cur, peak, err := selfRSS()
		if err != nil {
			return "err " + err.Error()
		}
		return answer(cur, peak)
	case "store":
		writes, busy := c.meter.stats()
		return answer(writes, int64(busy), c.commits())
	case "reset-peak":
		if err := resetPeakRSS(); err != nil {
			return "err " + err.Error()
		}
		return "ok"
	case "profile-start":
		if c.profile != nil {
			return "err a profile is running"
		}
		f, err := os.Create(arg)
		if err != nil {
			return "err " + err.Error()
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return "err " + err.Error()
		}
		c.profile = f
		return "ok"
	case "profile-stop":
		if err := c.stopProfileLocked(); err != nil {
			return "err " + err.Error()
		}
		return "ok"
	}
	return fmt.Sprintf("err unknown command %.40q", name)
}
