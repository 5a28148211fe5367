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

// childEnv names the directory a child process serves; it is set only in
// the environment of a process started by StartProcess.
const childEnv = "ASSENT_FERRETTEST_CHILD_DIR"

// readyLine is what a child prints once its socket accepts connections.
const readyLine = "ferrettest: ready"

// startTimeout bounds how long StartProcess waits for the child.
const startTimeout = 60 * time.Second

// ServeIfChild must be the first call of a TestMain that uses StartProcess.
// In a process started by StartProcess it runs FerretDB until its standard
// input closes (the parent stopped it, or died) and exits; in any other
// process it returns at once.
func ServeIfChild() {
	dir := os.Getenv(childEnv)
	if dir == "" {
		return
	}
	srv, err := Start(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(readyLine)
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Stop()
	os.Exit(0)
}

// Process is FerretDB in a child process: the test binary run again, whose
// TestMain calls ServeIfChild, or, when the test binary is built with the
// race detector, the command ./server built without it. Out of process, the
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
	return (&Server{socket: filepath.Join(p.dir, "ferretdb.sock")}).URI()
}

// Restart starts a stopped server again on the same socket and data. It
// fails if the server is running.
func (p *Process) Restart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("ferrettest: server is running")
	}
	cmd := exec.Command(p.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+p.dir)
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

// serverPackage is the command a race-enabled test binary runs instead of
// itself.
const serverPackage = "github.com/assent-dev/assent/internal/ferrettest/server"

// serverExecutable returns the program to run as the child: the test binary
// itself, unless it is built with the race detector; then the server
// command, built into dir by the go command that runs the tests (go test
// puts it first in PATH; the build cache makes it quick after the first
// time). If that build fails, the test binary is used all the same, slowly.
func serverExecutable(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("ferrettest: %w", err)
	}
	if !raceEnabled {
		return self, nil
	}
	exe := filepath.Join(dir, "ferretdb-server")
	cmd := exec.Command("go", "build", "-o", exe, serverPackage)
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ferrettest: building %s without the race detector failed (%v: %s); running FerretDB race-instrumented, slowly\n",
			serverPackage, err, bytes.TrimSpace(out))
		return self, nil
	}
	return exe, nil
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
