package sqlite

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// The environment variables that turn the test binary into the second
// process of TestTwoProcesses.
const (
	envChildDir      = "ASSENT_SQLITE_CHILD_DIR"
	envChildUser     = "ASSENT_SQLITE_CHILD_USER"
	envChildSessions = "ASSENT_SQLITE_CHILD_SESSIONS"
)

// racers is the number of goroutines racing in each process.
const racers = 8

// raceSessions has racers goroutines of this process try to take the one
// download of each session, and appends one audit entry per goroutine per
// session to user's chain. It returns the sessions this process won.
func raceSessions(t testing.TB, s *Store, sessions []string, user string, racers int) []string {
	var mu sync.Mutex
	var won []string
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			for _, id := range sessions {
				_, err := s.UseDownload(t.Context(), id, t0)
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, id)
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("UseDownload: %v", err)
				}
				if _, err := s.AppendAudit(t.Context(), &store.AuditEntry{
					UserID: user, Event: store.EventContentDelivered, Actor: "server", Subject: fmt.Sprint(os.Getpid(), i), At: t0,
				}); err != nil {
					t.Errorf("AppendAudit: %v", err)
				}
			}
		})
	}
	wg.Wait()
	return won
}

// TestTwoProcesses races two real processes on one file (SQLite's locks
// between processes, not only between connections of one): every session's
// last download goes to exactly one of them, and their audit appends make
// one unforked chain.
func TestTwoProcesses(t *testing.T) {
	if dir := os.Getenv(envChildDir); dir != "" {
		childProcess(t, dir)
		return
	}
	const sessionsN = 40
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	var sessions []string
	for range sessionsN {
		sid, _ := ids.New(ids.Session, rand.Reader)
		rid, _ := ids.NewRecord(rand.Reader, t0)
		uid, _ := ids.New(ids.User, rand.Reader)
		cid, _ := ids.New(ids.Client, rand.Reader)
		req, _ := ids.New(ids.Request, rand.Reader)
		dev, _ := ids.New(ids.Device, rand.Reader)
		x := &store.Session{ID: sid, RecordID: rid, UserID: uid, RequesterID: cid, RequestID: req, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateSession(t.Context(), x); err != nil {
			t.Fatal(err)
		}
		o := store.SessionOpening{ExpiresAt: t0.Add(time.Hour), Downloads: 1, OpenedAt: t0,
			Approval: store.Approval{DeviceID: dev, Statement: []byte("s"), Signature: []byte("sig")}}
		if err := s.OpenSession(t.Context(), sid, o, t0); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, sid)
	}
	user, _ := ids.New(ids.User, rand.Reader)

	// The child opens the store, says "ready", and waits for the start
	// time the parent then sends on its standard input.
	child := exec.Command(os.Args[0], "-test.run=^TestTwoProcesses$")
	child.Env = append(os.Environ(), envChildDir+"="+dir, envChildUser+"="+user,
		envChildSessions+"="+strings.Join(sessions, ","))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var report strings.Builder // what the child says besides its wins
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "ready" {
		report.WriteString(lines.Text() + "\n")
	}
	start := time.Now().Add(100 * time.Millisecond)
	fmt.Fprintln(stdin, start.UnixNano())
	time.Sleep(time.Until(start))
	mine := raceSessions(t, s, sessions, user, racers)
	var theirs []string
	for lines.Scan() {
		if id, ok := strings.CutPrefix(lines.Text(), "won "); ok {
			theirs = append(theirs, id)
		} else {
			report.WriteString(lines.Text() + "\n")
		}
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s%s", err, report.String(), stderr.String())
	}
	winners := map[string]int{}
	for _, id := range append(mine, theirs...) {
		winners[id]++
	}
	for _, id := range sessions {
		if winners[id] != 1 {
			t.Errorf("session %s: %d winners", id, winners[id])
		}
	}
	t.Logf("sessions won: this process %d, the other %d", len(mine), len(theirs))
	entries, err := s.AuditEntries(t.Context(), user, 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * racers * sessionsN; len(entries) != want {
		t.Fatalf("chain has %d entries, want %d", len(entries), want)
	}
	if err := store.VerifyChain(entries); err != nil {
		t.Fatal(err)
	}
}

func childProcess(t *testing.T, dir string) {
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fmt.Println("ready")
	var startNano int64
	if _, err := fmt.Scan(&startNano); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, startNano)))
	for _, id := range raceSessions(t, s, strings.Split(os.Getenv(envChildSessions), ","), os.Getenv(envChildUser), racers) {
		fmt.Println("won " + id)
	}
}
