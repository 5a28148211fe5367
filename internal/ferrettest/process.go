package ferrettest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// readyLine is what the child prints once its socket accepts connections.
const readyLine = "ferrettest: ready"

// startTimeout bounds how long StartProcess waits for the child.
const startTimeout = 60 * time.Second

// Process is FerretDB in a child process: the command of the nested module
// internal/ferretdb, built without the race detector. Out of process, the
// database's own memory and goroutines stay out of what the tests measure
// (heap bounds, the race detector), and Stop is a crash rather than a polite
// shutdown.
type Process struct {
	dir string
	exe string

	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.Closer
	done  chan struct{}
}

// StartProcess starts FerretDB in a child process with its data and socket
// in dir, as Start does, and waits until it accepts connections.
func StartProcess(dir string) (*Process, error) {
	if len(filepath.Join(dir, "ferretdb.sock")) > maxSocketPath {
		return nil, fmt.Errorf("ferrettest: socket path in %q is over %d bytes", dir, maxSocketPath)
	}
	exe, err := serverExecutable(dir)
	if err != nil {
		return nil, err
	}
	p := &Process{dir: dir, exe: exe}
	if err := p.Restart(); err != nil {
		return nil, err
	}
	return p, nil
}

// URI is the MongoDB connection string of the server (no database).
func (p *Process) URI() string {
	return socketURI(p.dir)
}

// Restart starts a stopped server again on the same socket and data. It
// fails if the server is running.
func (p *Process) Restart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("ferrettest: server is running")
	}
	cmd := exec.Command(p.exe, p.dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("ferrettest: %w", err)
	}
	// A pipe of our own rather than StdoutPipe, whose reads must end before
	// Wait: the child's output is read while it runs.
	stdout, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("ferrettest: %w", err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		return fmt.Errorf("ferrettest: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		ok := s.Scan() && s.Text() == readyLine
		ready <- ok
		_, _ = io.Copy(io.Discard, stdout)
		stdout.Close()
	}()
	fail := func(why string) error {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("ferrettest: child FerretDB %s", why)
	}
	select {
	case ok := <-ready:
		if !ok {
			return fail("exited before it was ready")
		}
	case <-time.After(startTimeout):
		return fail(fmt.Sprintf("not ready after %v", startTimeout))
	}
	p.cmd, p.stdin, p.done = cmd, stdin, done
	return nil
}

// Stop kills the server, as a crash would, and waits until it is gone.
// Stopping a stopped server does nothing.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	_ = p.stdin.Close()
	p.cmd, p.stdin, p.done = nil, nil, nil
}

// serverExecutable builds the command of the nested module internal/ferretdb
// into dir with the go command that runs the tests (go test puts it first in
// PATH; the build cache makes it quick after the first time), without the
// race detector: FerretDB instrumented by it runs ten times slower, and it is
// not the code under test. The nested module keeps FerretDB's dependencies
// out of Assent's go.mod.
func serverExecutable(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("ferrettest: the Assent module is not found from %s (run the tests inside it): %v", cwd(), err)
	}
	src := filepath.Join(filepath.Dir(gomod), "internal", "ferretdb")
	exe := filepath.Join(dir, "ferretdb-server")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ferrettest: building %s: %v: %s", src, err, bytes.TrimSpace(out))
	}
	return exe, nil
}

func cwd() string {
	d, _ := os.Getwd()
	return d
}

// withoutRace drops -race from a GOFLAGS value.
func withoutRace(goflags string) string {
	var keep []string
	for _, f := range strings.Fields(goflags) {
		if f != "-race" && f != "--race" && f != "-race=true" {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}
