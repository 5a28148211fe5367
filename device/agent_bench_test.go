//go:build unix

package device_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/nodetest"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/threshold"
)

// benchServerEnv, when set, makes TestAgentBenchServer the server process
// of BenchmarkAgent instead of a skipped test.
const benchServerEnv = "ASSENT_DEVICE_BENCH_SERVER"

// BenchmarkAgent measures the CPU the device agent spends per answered
// create request, the way a phone (and `assent bench`'s simulated devices)
// runs it: device.Agent.Run on the event stream of a real server, fetching
// each request, checking it, evaluating and signing, writing its ledger
// (fsync) and posting the answer. The server and the third party that
// makes the requests run in a child process (this test binary, as
// TestAgentBenchServer), so that this process's CPU time (getrusage, user
// and system) is the device's alone: reported as cpu-µs/answer, next to
// the primitives measured in this process (prim-µs: POPRF evaluation with
// proof + Ed25519 sign, the same sum `assent bench` uses) and their ratio
// (x-primitives), and the CPU of the request's fetch alone (get-µs). Run
// with -cpuprofile to see where the device's time goes.
func BenchmarkAgent(b *testing.B) {
	srv := startBenchServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	anon, err := device.NewClient(srv.URL, nil, device.ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	id, err := anon.Enroll(ctx, srv.Code, device.EnrollOptions{Name: "bench phone"})
	if err != nil {
		b.Fatal(err)
	}
	defer id.Destroy()
	c, err := device.NewClient(srv.URL, id, device.ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := device.OpenLedger(filepath.Join(b.TempDir(), "device.ledger"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	answered := make(chan struct{}, 1<<16)
	connected := make(chan struct{}, 1)
	var mu sync.Mutex
	var failures []error
	var lastID string
	approve := func(context.Context, *device.Prompt) (device.Decision, error) { return device.Approve, nil }
	a, err := device.NewAgent(c, l, approve, device.AgentOptions{
		MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second,
		Notify: func(n device.Notice) {
			switch n.Kind {
			case device.NoticeConnected:
				select {
				case connected <- struct{}{}:
				default:
				}
			case device.NoticeAnswered:
				mu.Lock()
				lastID = n.RequestID
				mu.Unlock()
				answered <- struct{}{}
			case device.NoticeError, device.NoticeRefused:
				mu.Lock()
				failures = append(failures, n.Err)
				mu.Unlock()
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	<-connected

	answer := func(n int) {
		srv.create(b, n)
		for range n {
			select {
			case <-answered:
			case <-time.After(time.Minute):
				mu.Lock()
				defer mu.Unlock()
				b.Fatalf("no answer within a minute; failures: %v", failures)
			}
		}
	}
	answer(20) // connections, caches and the ledger's first lines
	prim := primitivesCPU(b, id, 200)

	b.ResetTimer()
	start := processCPU(b)
	answer(b.N)
	cpu := processCPU(b) - start
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		b.Fatalf("the agent failed: %v", failures)
	}
	per := float64(cpu.Microseconds()) / float64(b.N)
	b.ReportMetric(per, "cpu-µs/answer")
	b.ReportMetric(float64(fetchCPU(b, c, lastID, 200).Microseconds()), "get-µs")
	b.ReportMetric(float64(prim.Microseconds()), "prim-µs")
	b.ReportMetric(per/float64(prim.Microseconds()), "x-primitives")
}

// fetchCPU returns the CPU time of one signed fetch of a request (the GET
// the agent makes after each event), averaged over n: what a push carrying
// the request itself would save.
func fetchCPU(b *testing.B, c *device.Client, requestID string, n int) time.Duration {
	b.Helper()
	start := processCPU(b)
	for range n {
		if _, err := c.GetRequest(context.Background(), requestID); err != nil {
			b.Fatal(err)
		}
	}
	return (processCPU(b) - start) / time.Duration(n)
}

// primitivesCPU returns the CPU time of one POPRF evaluation with proof and
// one Ed25519 signature, averaged over n, measured as the agent is.
func primitivesCPU(b *testing.B, id *device.Identity, n int) time.Duration {
	b.Helper()
	uid, rid := mustNewID(b, ids.User), mustNewRecordID(b)
	info, err := threshold.RecordInfo(uid, rid)
	if err != nil {
		b.Fatal(err)
	}
	bl, err := oprf.Blind(rand.Reader, [][]byte{[]byte("record")})
	if err != nil {
		b.Fatal(err)
	}
	defer bl.Destroy()
	msg := bytes.Repeat([]byte("s"), 400) // about a statement's size
	start := processCPU(b)
	for range n {
		if _, _, err := id.OPRFKey.EvaluatePOPRF(rand.Reader, bl.Elements(), info); err != nil {
			b.Fatal(err)
		}
		threshold.Sign(id.SigningKey, msg)
	}
	return (processCPU(b) - start) / time.Duration(n)
}

// processCPU is the user and system CPU time of this process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustNewID(b *testing.B, prefix string) string {
	b.Helper()
	id, err := ids.New(prefix, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

func mustNewRecordID(b *testing.B) string {
	b.Helper()
	id, err := ids.NewRecord(rand.Reader, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// benchServer is the child process of BenchmarkAgent: it serves on URL,
// has made a user whose enrollment code is Code, and makes create
// requests for that user on demand.
type benchServer struct {
	URL  string `json:"url"`
	Code string `json:"code"`

	in  io.Writer
	out *bufio.Scanner
}

// startBenchServer runs this test binary as TestAgentBenchServer and reads
// what it serves.
func startBenchServer(b *testing.B) *benchServer {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgentBenchServer$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+b.TempDir())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close() // the child stops at the end of its input
		_ = cmd.Wait()
	})
	s := &benchServer{in: in, out: bufio.NewScanner(outPipe)}
	if !s.out.Scan() {
		b.Fatalf("the server process said nothing: %v", s.out.Err())
	}
	if err := json.Unmarshal(s.out.Bytes(), s); err != nil {
		b.Fatalf("the server process said %q: %v", s.out.Text(), err)
	}
	return s
}

// create asks the child for n create requests and waits until it made them.
func (s *benchServer) create(b *testing.B, n int) {
	b.Helper()
	if _, err := fmt.Fprintln(s.in, n); err != nil {
		b.Fatal(err)
	}
	if !s.out.Scan() || s.out.Text() != "ok" {
		b.Fatalf("the server process failed: %q %v", s.out.Text(), s.out.Err())
	}
}

// TestAgentBenchServer is BenchmarkAgent's server process; it is skipped
// unless the benchmark started it. It serves a real node on loopback,
// prints {url, code} on a line, then for each number n on its input makes
// n records (created and uploaded by a third party, so each is a create
// request for the device) and prints "ok", until its input ends.
func TestAgentBenchServer(t *testing.T) {
	dir := os.Getenv(benchServerEnv)
	if dir == "" {
		t.Skip("BenchmarkAgent's server process")
	}
	ctx := context.Background()
	cfg := server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, BlobDir: filepath.Join(dir, "blobs"),
		MasterKeyPath: filepath.Join(dir, "master.key"), ApprovalTTL: 10 * time.Minute,
		SweepInterval: time.Second, AnswerPollInterval: 20 * time.Millisecond,
		UserRate: -1, RequesterRate: -1, UserRequesterRate: -1, EnrollRate: -1, CreateRate: -1,
		MaxPendingPerUser: 64, MaxPendingPerRequester: 64, SingleNode: true, ShutdownTimeout: 5 * time.Second,
	}
	n, err := nodetest.StartNode(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	admin, err := nodetest.NewThirdParty(ctx, n, "Admin", server.ScopeUsersAdmin)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := nodetest.NewThirdParty(ctx, n, "Lab", server.ScopeRecordsWrite)
	if err != nil {
		t.Fatal(err)
	}
	u, err := admin.CreateUser(ctx, "bench", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := json.Marshal(benchServer{URL: n.URL, Code: u.EnrollmentCode})
	fmt.Println(string(hello))
	content := bytes.Repeat([]byte("x"), 4096)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		count, err := strconv.Atoi(in.Text())
		if err != nil {
			t.Fatal(err)
		}
		// A few at a time, as third parties would send them.
		work := make(chan struct{})
		var wg sync.WaitGroup
		var failed error
		var fmu sync.Mutex
		for range 4 {
			wg.Go(func() {
				for range work {
					rid, err := lab.CreateRecord(ctx, u.UserID, "results", "text/plain", "lab results")
					if err == nil {
						_, err = lab.Upload(ctx, rid, bytes.NewReader(content), int64(len(content)))
					}
					// Past the cap of pending requests, wait for the
					// device to catch up.
					for ae := (*nodetest.APIError)(nil); errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests; {
						time.Sleep(20 * time.Millisecond)
						_, err = lab.Upload(ctx, rid, bytes.NewReader(content), int64(len(content)))
					}
					if err != nil {
						fmu.Lock()
						failed = err
						fmu.Unlock()
					}
				}
			})
		}
		for range count {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		if failed != nil {
			fmt.Println("failed:", failed)
			return
		}
		fmt.Println("ok")
	}
}
