package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/server"
)

// serverProc is a server child process (ServeChild) and the control
// channel to it.
type serverProc struct {
	url     string
	cfg     server.Config // as the child runs it
	dataDir string
	logPath string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   *bufio.Scanner
	mu      sync.Mutex // one command at a time
	exited  chan struct{}
	waitErr error
}

// benchServerConfig is the server configuration of every part: the
// defaults, without the abuse limits that would throttle a benchmark.
func benchServerConfig(maxUpload int64, maxPending int) server.Config {
	cfg := server.DefaultConfig()
	cfg.UserRate, cfg.RequesterRate, cfg.UserRequesterRate = -1, -1, -1
	cfg.MaxPendingPerUser = max(maxPending, cfg.MaxPendingPerUser)
	cfg.MaxPendingPerRequester = cfg.MaxPendingPerUser
	cfg.EnrollRate, cfg.CreateRate = -1, -1
	cfg.MaxLongPollsPerClient = 1 << 20
	cfg.MaxUploadSize = max(maxUpload, cfg.MaxUploadSize)
	cfg.ApprovalTTL = time.Hour
	cfg.LogLevel = "warn"
	cfg.LogFormat = server.LogText
	// One node on its own store, as `assent serve -single-node`: device
	// nonces stay in memory.
	cfg.SingleNode = true
	return cfg
}

// startServer starts a server child on a new data directory named name.
func (b *runner) startServer(ctx context.Context, name string, cfg server.Config) (*serverProc, error) {
	dir := filepath.Join(b.work, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, childConfig), data, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(b.work, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	argv := append(append([]string(nil), b.cfg.ServerCommand...), "-data-dir", dir)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), b.cfg.ServerEnv...)
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	p := &serverProc{cfg: cfg, dataDir: dir, logPath: logPath, cmd: cmd, stdin: stdin,
		lines: bufio.NewScanner(stdout), exited: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		if !p.lines.Scan() {
			ready <- errors.New("the server exited before it was ready")
			return
		}
		u, ok := strings.CutPrefix(p.lines.Text(), "ready ")
		if !ok {
			ready <- fmt.Errorf("the server said %.80q", p.lines.Text())
			return
		}
		p.url = u
		ready <- nil
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	select {
	case err = <-ready:
	case <-time.After(time.Minute):
		err = errors.New("the server was not ready within a minute")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%w (log: %s)", err, p.logTail())
	}
	return p, nil
}

// ask sends a command and returns the fields of its "ok" answer.
func (p *serverProc) ask(command string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintln(p.stdin, command); err != nil {
		return nil, fmt.Errorf("server control: %w", err)
	}
	if !p.lines.Scan() {
		return nil, fmt.Errorf("server control: no answer to %q (log: %s)", command, p.logTail())
	}
	fields := strings.Fields(p.lines.Text())
	if len(fields) == 0 || fields[0] != "ok" {
		return nil, fmt.Errorf("server control: %s: %s", command, p.lines.Text())
	}
	return fields[1:], nil
}

// numbers asks command and parses n numbers from its answer.
func (p *serverProc) numbers(command string, n int) ([]uint64, error) {
	fields, err := p.ask(command)
	if err != nil {
		return nil, err
	}
	if len(fields) != n {
		return nil, fmt.Errorf("server control: %s: %d values, want %d", command, len(fields), n)
	}
	out := make([]uint64, n)
	for i, f := range fields {
		if out[i], err = strconv.ParseUint(f, 10, 64); err != nil {
			return nil, fmt.Errorf("server control: %s: %w", command, err)
		}
	}
	return out, nil
}

// cpu is the CPU time the server has used.
func (p *serverProc) cpu() (time.Duration, error) {
	v, err := p.numbers("cpu", 1)
	if err != nil {
		return 0, err
	}
	return time.Duration(v[0]), nil
}

// heap is the server's live heap after a garbage collection.
func (p *serverProc) heap() (uint64, error) {
	v, err := p.numbers("heap", 1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// rss is the server's resident set size and its peak since the last
// resetPeak.
func (p *serverProc) rss() (cur, peak uint64, err error) {
	v, err := p.numbers("rss", 2)
	if err != nil {
		return 0, 0, err
	}
	return v[0], v[1], nil
}

// storeMeter is what the server's store has done so far: its write calls,
// how long its write path has been busy, and its commits (each one fsync).
type storeMeter struct {
	writes, commits uint64
	busy            time.Duration
}

// storeStats reads the server's store meter.
func (p *serverProc) storeStats() (storeMeter, error) {
	v, err := p.numbers("store", 3)
	if err != nil {
		return storeMeter{}, err
	}
	return storeMeter{writes: v[0], busy: time.Duration(v[1]), commits: v[2]}, nil
}

func (p *serverProc) resetPeak() error {
	_, err := p.ask("reset-peak")
	return err
}

// stop ends the server (closing its stdin makes it shut down) and waits for
// it, killing it if it hangs.
func (p *serverProc) stop() error {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("the server did not stop within 30 s and was killed")
	}
	if p.waitErr != nil {
		return fmt.Errorf("the server exited: %w (log: %s)", p.waitErr, p.logTail())
	}
	return nil
}

// logTail is the end of the server's log, for an error message.
func (p *serverProc) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil || len(data) == 0 {
		return "empty"
	}
	if len(data) > 600 {
		data = data[len(data)-600:]
	}
	return strings.TrimSpace(string(data))
}

// startWithClient starts a server child as startServer does and registers
// its third party.
func (b *runner) startWithClient(ctx context.Context, name string, cfg server.Config) (*serverProc, *apiClient, error) {
	srv, err := b.startServer(ctx, name, cfg)
	if err != nil {
		return nil, nil, err
	}
	api, err := srv.thirdParty(ctx)
	if err != nil {
		return nil, nil, errors.Join(err, srv.stop())
	}
	return srv, api, nil
}

// thirdParty registers a third party with every scope in the server's store
// (as `assent admin client create` does, beside the running server) and
// returns its client.
func (p *serverProc) thirdParty(ctx context.Context) (*apiClient, error) {
	cfg := p.cfg
	cfg.DataDir = p.dataDir
	st, err := node.OpenStore(ctx, cfg.WithDefaults(), 0)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	key, _, err := server.CreateClient(ctx, st, rand.Reader, time.Now(), "Bench Clinic", server.AllScopes)
	if err != nil {
		return nil, err
	}
	return newAPIClient(p.url, key)
}
