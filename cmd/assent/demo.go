package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/internal/progress"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/threshold"
)

func init() {
	register("demo", "run the whole flow here: server, device agent, a 256 MiB record sealed, opened and checked", runDemo)
}

const (
	demoDefaultSize = 256 << 20
	// demoTimeout bounds the whole demo, so that a hang fails instead of
	// waiting forever.
	demoTimeout = 10 * time.Minute
)

// byteSize is a flag value of bytes: a whole number with an optional unit
// B, KiB, MiB or GiB (also KB, MB, GB as powers of 1000).
type byteSize int64

var byteUnits = []struct {
	suffix string
	n      int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

func (b *byteSize) String() string {
	for _, u := range byteUnits[:3] {
		if n := int64(*b); n >= u.n && n%u.n == 0 && (n/u.n < 1024 || u.suffix == "GiB") {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	num, unit := s, int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = strings.TrimSpace(rest), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<62)/unit {
		return fmt.Errorf("%q is not a positive size such as 256MiB", s)
	}
	*b = byteSize(n * unit)
	return nil
}

// runDemo is `assent demo`: DESIGN.md's main job on this machine, with the
// real parts: a server on the embedded store in a temporary directory
// (internal/node, as `assent serve` wires it), a third party registered
// through the admin path and using the SDK (package client), a device agent
// (package device) enrolled over HTTP that requires number matching and
// types the code itself, and a generated record sealed, opened, downloaded
// and checked. It prints a
// timeline and fails with a clear message if any step does.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	size := byteSize(demoDefaultSize)
	fs.Var(&size, "size", "record `size` (B, KiB, MiB, GiB)")
	keep := fs.Bool("keep", false, "keep the temporary directory (database, blobs, master key, device ledger)")
	app := fs.Bool("app", false, "use the approval app in a browser as the device: serve it, print its URL and an enrollment code, and wait for you to enroll and approve there")
	appListen := fs.String("app-listen", "127.0.0.1:8081", "with --app: TCP `address` of the approval app")
	appDir := fs.String("app-dir", "", "with --app: a bundle `directory` from assent app build (default: build one now from this source tree)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	dir, err := os.MkdirTemp("", "assent-demo-")
	if err != nil {
		return fmt.Errorf("making the temporary directory: %w", err)
	}
	defer func() {
		if *keep {
			fmt.Fprintf(stdout, "kept %s\n", dir)
		} else if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(stderr, "assent demo: removing %s: %v\n", dir, err)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	d := &demo{size: int64(size), dir: dir, out: stdout, progress: progress.New(progress.OnTerminal(stderr)), logs: &demoLog{}, start: time.Now()}
	if *app {
		d.app = &demoApp{listen: *appListen, dir: *appDir}
	}
	err = d.run(ctx)
	if err != nil {
		if tail := d.logs.tail(20); tail != "" {
			fmt.Fprintf(stderr, "last lines of the server log:\n%s", tail)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the demo did not finish within %s)", err, demoTimeout)
		}
	}
	return err
}

// demo is one run of `assent demo`.
type demo struct {
	size     int64
	dir      string
	out      io.Writer
	progress *progress.Line
	logs     *demoLog
	start    time.Time
	app      *demoApp // set by --app: the device is the approval app in a browser

	mu    sync.Mutex
	asked map[string]time.Time // when the device was asked, by request id
}

// step prints one line of the timeline.
func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "  %8s  %s\n", "+"+seconds(time.Since(d.start)), fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context) error {
	d.asked = map[string]time.Time{}
	fmt.Fprintf(d.out, "assent demo: a %s record, sealed and opened with the device's consent\n", progress.MiB(d.size))

	cfg := server.Config{
		Listen:        "127.0.0.1:0",
		DataDir:       filepath.Join(d.dir, "data"),
		MaxUploadSize: max(d.size, server.DefaultConfig().MaxUploadSize),
		LogFormat:     server.LogText,
	}
	if d.app != nil {
		if err := d.app.listenApp(); err != nil {
			return err
		}
		defer d.app.close()
		cfg.AppOrigins = []string{d.app.url}
	}
	n, err := node.Open(ctx, cfg, node.Options{Logger: slog.New(slog.NewTextHandler(d.logs, nil))})
	if err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	if err := n.Start(ctx); err != nil {
		return errors.Join(fmt.Errorf("starting the server: %w", err), n.Close())
	}
	defer n.Stop()
	d.step("server listening on %s (SQLite and blobs in %s)", n.URL, cfg.DataDir)
	if d.app != nil {
		return d.runApp(ctx, n)
	}

	clinic, user, err := d.thirdParty(ctx, n)
	if err != nil {
		return err
	}

	t0 := time.Now()
	dev, err := startDemoDevice(ctx, n.URL, user.EnrollmentCode, filepath.Join(d.dir, "device", "ledger"), d.approve)
	if err != nil {
		return fmt.Errorf("enrolling the device: %w", err)
	}
	defer dev.close()
	d.step("device %s enrolled in %s; its agent approves every request (typing the match code itself), listening over SSE",
		dev.id.DeviceID, millis(time.Since(t0)))

	sum, rid, err := d.seal(ctx, clinic, user.UserID, dev.id.SigningPublicKey())
	if err != nil {
		return err
	}
	if err := d.open(ctx, clinic, rid, sum); err != nil {
		return err
	}
	entries, err := dev.client.Audit(ctx)
	if err != nil {
		return fmt.Errorf("verifying the audit chain: %w", err)
	}
	d.step("audit chain of %d entries fetched and verified by the device", len(entries))
	fmt.Fprintf(d.out, "done in %s: the content downloaded is the content uploaded\n", seconds(time.Since(d.start)))
	return nil
}

// demoDevice is the demo's device: its identity, client, ledger and agent.
type demoDevice struct {
	id     *device.Identity
	client *device.Client
	ledger *device.Ledger
	stop   context.CancelFunc
	done   chan struct{}
}

// startDemoDevice enrolls a device with code, opens its ledger and runs
// its agent (number matching required) until close, returning once its
// event stream is connected.
func startDemoDevice(ctx context.Context, serverURL, code, ledgerPath string, policy device.Policy) (_ *demoDevice, err error) {
	d := &demoDevice{}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	anon, err := device.NewClient(serverURL, nil, device.ClientOptions{})
	if err != nil {
		return nil, err
	}
	if d.id, err = anon.Enroll(ctx, code, device.EnrollOptions{Name: "Demo device"}); err != nil {
		return nil, err
	}
	if d.client, err = device.NewClient(serverURL, d.id, device.ClientOptions{}); err != nil {
		return nil, err
	}
	if d.ledger, err = device.OpenLedger(ledgerPath); err != nil {
		return nil, err
	}
	connected := make(chan struct{}, 1)
	agent, err := device.NewAgent(d.client, d.ledger, policy, device.AgentOptions{RequireMatch: true, Notify: func(n device.Notice) {
		if n.Kind == device.NoticeConnected {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	}})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stop, d.done = stop, make(chan struct{})
	go func() {
		defer close(d.done)
		_ = agent.Run(runCtx)
	}()
	select {
	case <-connected:
		return d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("the device's event stream did not connect: %w", ctx.Err())
	}
}

// close stops the agent, closes the ledger and clears the identity.
func (d *demoDevice) close() {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	if d.ledger != nil {
		d.ledger.Close()
	}
	if d.id != nil {
		d.id.Destroy()
	}
}

// seal creates a record, uploads generated content and waits until the
// device's approval seals it. It returns the content's SHA-256.
func (d *demo) seal(ctx context.Context, clinic *client.Client, uid string, signer ed25519.PublicKey) ([]byte, string, error) {
	created, err := clinic.CreateRecord(ctx, uid, api.CreateRecordRequest{Title: "Demo record (" + progress.MiB(d.size) + ")",
		ContentType: "application/octet-stream", Purpose: "demo: keep this record"})
	if err != nil {
		return nil, "", fmt.Errorf("creating the record: %w", err)
	}
	rid := created.RecordID
	bar := d.progress.Bar("uploading  ", d.size)
	gen := newGenerator(d.size, bar)
	t0 := time.Now()
	p, err := clinic.Upload(ctx, rid, gen, d.size)
	bar.Finish()
	if err != nil {
		return nil, "", fmt.Errorf("uploading the record: %w", err)
	}
	uploaded := time.Now()
	sum := gen.h.Sum(nil)
	d.step("record %s uploaded: %s in %s (%s), encrypted while streaming; SHA-256 %x…; match code %s", rid, progress.MiB(d.size),
		seconds(uploaded.Sub(t0)), rate(d.size, uploaded.Sub(t0)), sum[:8], p.MatchCode)

	r, err := clinic.AwaitRecord(ctx, rid)
	if err != nil {
		return nil, "", fmt.Errorf("waiting for the seal: %w", err)
	}
	sealed := time.Now()
	if r.State != api.RecordSealed {
		return nil, "", fmt.Errorf("record %s ended %s, not sealed", rid, r.State)
	}
	if r.Size == nil || *r.Size != d.size || !bytes.Equal(r.ContentSHA256, sum) || r.Approval == nil {
		return nil, "", errors.New("the sealed record does not carry the size and digest of the upload, or lacks its approval")
	}
	if err := threshold.Verify(signer, r.Approval.Statement, r.Approval.Signature); err != nil {
		return nil, "", errors.New("the sealed record's approval does not verify under the device's key")
	}
	d.step("sealed %s after the upload (the device was asked %s after it, and approved); approval signature verified",
		millis(sealed.Sub(uploaded)), d.since(uploaded, p.RequestID))
	return sum, rid, nil
}

// open asks access to the record, waits for the device, downloads the
// content and checks it against the upload's digest.
func (d *demo) open(ctx context.Context, clinic *client.Client, rid string, sum []byte) error {
	t0 := time.Now()
	p, err := clinic.RequestAccess(ctx, rid, "demo: read it back")
	if err != nil {
		return fmt.Errorf("asking access: %w", err)
	}
	if d.app != nil {
		d.step("access to the record asked; match code %s (type it on the page to approve)", p.MatchCode)
	}
	s, err := clinic.AwaitSession(ctx, p.SessionID)
	if err != nil {
		return fmt.Errorf("waiting for the session: %w", err)
	}
	if s.State != api.SessionOpen {
		return fmt.Errorf("session %s ended %s, not open", p.SessionID, s.State)
	}
	d.step("access session %s open %s after asking (match code %s; the device was asked %s after it, and approved)", p.SessionID,
		millis(time.Since(t0)), p.MatchCode, d.since(t0, p.RequestID))

	bar := d.progress.Bar("downloading", d.size)
	t0 = time.Now()
	got, err := clinic.Download(ctx, p.SessionID, bar)
	bar.Finish()
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	took := time.Since(t0)
	if got.Size != d.size || !bytes.Equal(got.SHA256, sum) {
		return fmt.Errorf("the download (%d bytes, SHA-256 %x) is not the upload (%d bytes, SHA-256 %x)", got.Size, got.SHA256, d.size, sum)
	}
	d.step("downloaded %s in %s (%s), decrypted while streaming; SHA-256 equals the upload's and the Repr-Digest",
		progress.MiB(got.Size), seconds(took), rate(got.Size, took))
	return nil
}

// approve is the device's policy: approve everything, typing the match
// code the device computes (as --auto-approve does), noting when it was
// asked.
func (d *demo) approve(_ context.Context, p *device.Prompt) (device.Decision, error) {
	d.mu.Lock()
	d.asked[p.RequestID] = time.Now()
	d.mu.Unlock()
	p.MatchTyped = p.MatchCode()
	return device.Approve, nil
}

// since says how long after t0 the device was asked about requestID.
func (d *demo) since(t0 time.Time, requestID string) string {
	if d.app != nil {
		return "in the browser"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.asked[requestID]
	if !ok {
		return "?"
	}
	return millis(t.Sub(t0))
}

// generator streams size pseudo-random bytes (ChaCha8 with a random seed),
// hashing them as they go out: the record is never held whole.
type generator struct {
	src  *mrand.ChaCha8
	left int64
	h    hash.Hash
	bar  *progress.Bar
}

func newGenerator(size int64, bar *progress.Bar) *generator {
	var seed [32]byte
	rand.Read(seed[:])
	return &generator{src: mrand.NewChaCha8(seed), left: size, h: sha256.New(), bar: bar}
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	n, _ := g.src.Read(p)
	g.left -= int64(n)
	g.h.Write(p[:n])
	g.bar.Write(p[:n])
	return n, nil
}

// demoLog keeps the server's log in memory, to show its end if the demo
// fails.
type demoLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// demoLogCap bounds the log kept.
const demoLogCap = 1 << 20

func (l *demoLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > demoLogCap {
		l.buf.Next(l.buf.Len() / 2)
	}
	return l.buf.Write(p)
}

// tail returns the last n lines.
func (l *demoLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.SplitAfter(l.buf.String(), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func millis(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds())
}

// thirdParty registers the demo's third party (its API key made through
// the admin path, on the node's store) and has it create the demo user.
func (d *demo) thirdParty(ctx context.Context, n *node.Node) (*client.Client, *api.Enrollment, error) {
	key, cl, err := server.CreateClient(ctx, n.Store, rand.Reader, time.Now(), "Demo clinic", server.AllScopes)
	if err != nil {
		return nil, nil, fmt.Errorf("registering the third party: %w", err)
	}
	clinic, err := client.New(n.URL, key, nil)
	if err != nil {
		return nil, nil, err
	}
	user, err := clinic.CreateUser(ctx, "demo-user", "Demo user")
	if err != nil {
		return nil, nil, fmt.Errorf("creating the user: %w", err)
	}
	d.step("third party %s registered (API key via the admin path); user %s created", cl.ID, user.UserID)
	return clinic, user, nil
}
