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

	"golang.org/x/term"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/e2e"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
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
// real parts (see package e2e): a server on the embedded store in a
// temporary directory, a third party registered through the admin path, a
// device agent enrolled over HTTP that approves every request, and a
// generated record sealed, opened, downloaded and checked. It prints a
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
	d := &demo{size: int64(size), dir: dir, out: stdout, progress: progressOut(stderr), logs: &demoLog{}, start: time.Now()}
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
	progress *progressOutput
	logs     *demoLog
	start    time.Time

	app *demoApp // set by --app: the device is the approval app in a browser

	mu    sync.Mutex
	asked map[string]time.Time // when the device was asked, by request id
}

// step prints one line of the timeline.
func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "  %8s  %s\n", "+"+seconds(time.Since(d.start)), fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context) error {
	d.asked = map[string]time.Time{}
	fmt.Fprintf(d.out, "assent demo: a %s record, sealed and opened with the device's consent\n", mib(d.size))

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
	node, err := e2e.StartNode(cfg, slog.New(slog.NewTextHandler(d.logs, nil)))
	if err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	defer node.Stop()
	d.step("server listening on %s (SQLite and blobs in %s)", node.URL, cfg.DataDir)
	if d.app != nil {
		return d.runApp(ctx, node)
	}

	clinic, err := e2e.NewThirdParty(ctx, node, "Demo clinic", server.AllScopes...)
	if err != nil {
		return fmt.Errorf("registering the third party: %w", err)
	}
	user, err := clinic.CreateUser(ctx, "demo-user", "Demo user")
	if err != nil {
		return fmt.Errorf("creating the user: %w", err)
	}
	d.step("third party %s registered (API key via the admin path); user %s created", clinic.ID, user.UserID)

	t0 := time.Now()
	dev, err := e2e.EnrollDevice(ctx, node.URL, user.EnrollmentCode, "Demo device", filepath.Join(d.dir, "device", "ledger"),
		d.approve, device.AgentOptions{})
	if err != nil {
		return fmt.Errorf("enrolling the device: %w", err)
	}
	defer dev.Close()
	d.step("device %s enrolled in %s; its agent approves every request, listening over SSE", dev.Identity.DeviceID, millis(time.Since(t0)))

	sum, rid, err := d.seal(ctx, clinic, user.UserID, dev.Identity.SigningPublicKey())
	if err != nil {
		return err
	}
	if err := d.open(ctx, clinic, rid, sum); err != nil {
		return err
	}
	entries, err := dev.Client.Audit(ctx)
	if err != nil {
		return fmt.Errorf("verifying the audit chain: %w", err)
	}
	d.step("audit chain of %d entries fetched and verified by the device", len(entries))
	fmt.Fprintf(d.out, "done in %s: the content downloaded is the content uploaded\n", seconds(time.Since(d.start)))
	return nil
}

// seal creates a record, uploads generated content and waits until the
// device's approval seals it. It returns the content's SHA-256.
func (d *demo) seal(ctx context.Context, clinic *e2e.ThirdParty, uid string, signer ed25519.PublicKey) ([]byte, string, error) {
	rid, err := clinic.CreateRecord(ctx, uid, "Demo record ("+mib(d.size)+")", "application/octet-stream", "demo: keep this record")
	if err != nil {
		return nil, "", fmt.Errorf("creating the record: %w", err)
	}
	gen := newGenerator(d.size, d.progress.start("uploading  ", d.size))
	t0 := time.Now()
	p, err := clinic.Upload(ctx, rid, gen, d.size)
	gen.bar.finish(err == nil)
	if err != nil {
		return nil, "", fmt.Errorf("uploading the record: %w", err)
	}
	uploaded := time.Now()
	sum := gen.h.Sum(nil)
	d.step("record %s uploaded: %s in %s (%s), encrypted while streaming; SHA-256 %x…", rid, mib(d.size),
		seconds(uploaded.Sub(t0)), rate(d.size, uploaded.Sub(t0)), sum[:8])

	r, err := clinic.AwaitRecord(ctx, rid)
	if err != nil {
		return nil, "", fmt.Errorf("waiting for the seal: %w", err)
	}
	sealed := time.Now()
	if r.State != store.RecordSealed {
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
func (d *demo) open(ctx context.Context, clinic *e2e.ThirdParty, rid string, sum []byte) error {
	t0 := time.Now()
	p, err := clinic.Access(ctx, rid, "demo: read it back")
	if err != nil {
		return fmt.Errorf("asking access: %w", err)
	}
	s, err := clinic.AwaitSession(ctx, p.SessionID)
	if err != nil {
		return fmt.Errorf("waiting for the session: %w", err)
	}
	if s.State != store.SessionOpen {
		return fmt.Errorf("session %s ended %s, not open", p.SessionID, s.State)
	}
	d.step("access session %s open %s after asking (the device was asked %s after it, and approved)", p.SessionID,
		millis(time.Since(t0)), d.since(t0, p.RequestID))

	bar := d.progress.start("downloading", d.size)
	t0 = time.Now()
	got, err := clinic.Download(ctx, p.SessionID, bar)
	bar.finish(err == nil)
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	took := time.Since(t0)
	if got.Size != d.size || !bytes.Equal(got.SHA256, sum) {
		return fmt.Errorf("the download (%d bytes, SHA-256 %x) is not the upload (%d bytes, SHA-256 %x)", got.Size, got.SHA256, d.size, sum)
	}
	d.step("downloaded %s in %s (%s), decrypted while streaming; SHA-256 equals the upload's and the Repr-Digest",
		mib(got.Size), seconds(took), rate(got.Size, took))
	return nil
}

// approve is the device's policy: approve everything, noting when it was
// asked.
func (d *demo) approve(_ context.Context, p *device.Prompt) (device.Decision, error) {
	d.mu.Lock()
	d.asked[p.RequestID] = time.Now()
	d.mu.Unlock()
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
	bar  *progressBar
}

func newGenerator(size int64, bar *progressBar) *generator {
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

// progressOutput draws progress on stderr: a bar redrawn in place on a
// terminal, a line at every quarter otherwise.
type progressOutput struct {
	w   io.Writer
	tty bool
}

func progressOut(stderr io.Writer) *progressOutput {
	f, ok := stderr.(*os.File)
	return &progressOutput{w: stderr, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// progressBar is the progress of one transfer; Write counts bytes.
type progressBar struct {
	out     *progressOutput
	label   string
	total   int64
	done    int64
	start   time.Time
	drawn   time.Time
	quarter int64
}

func (o *progressOutput) start(label string, total int64) *progressBar {
	return &progressBar{out: o, label: label, total: total, start: time.Now()}
}

func (b *progressBar) Write(p []byte) (int, error) {
	b.done += int64(len(p))
	if b.out.tty {
		if now := time.Now(); now.Sub(b.drawn) >= 100*time.Millisecond {
			b.drawn = now
			b.draw()
		}
	} else if q := b.done * 4 / b.total; q > b.quarter && q < 4 {
		b.quarter = q
		fmt.Fprintf(b.out.w, "  %s %3d%%  %s of %s\n", b.label, q*25, mib(b.done), mib(b.total))
	}
	return len(p), nil
}

func (b *progressBar) draw() {
	const width = 30
	filled := int(b.done * width / b.total)
	fmt.Fprintf(b.out.w, "\r  %s [%s%s] %3d%%  %s of %s  %s ", b.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		b.done*100/b.total, mib(b.done), mib(b.total), rate(b.done, time.Since(b.start)))
}

// finish draws the end of the transfer.
func (b *progressBar) finish(ok bool) {
	switch {
	case b.out.tty:
		b.draw()
		fmt.Fprintln(b.out.w)
	case ok:
		fmt.Fprintf(b.out.w, "  %s 100%%  %s\n", b.label, mib(b.total))
	}
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

// mib shows a size in MiB (in KiB below one MiB).
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func millis(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds())
}
