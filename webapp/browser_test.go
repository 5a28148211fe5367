package webapp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/nodetest"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/webapp"
	"github.com/assent-dev/assent/webapp/internal/approvalbench"
)

const (
	testPassphrase = "correct horse battery"
	// browserTimeout bounds the whole browser test.
	browserTimeout = 6 * time.Minute
	// stepTimeout bounds each step, so that a failure says where.
	stepTimeout = time.Minute
)

// chromium finds Debian's chromium. Under CI it must be there (.ci/run
// installs it): the test fails loudly instead of skipping.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on $PATH: the approval app's browser test cannot run (apt-get install chromium)")
	}
	t.Skip("no chromium on $PATH (apt-get install chromium); CI=true makes this a failure")
	return ""
}

// world is the browser test's loopback world: the API node, the app's
// origin serving a freshly built bundle, and a third party.
type world struct {
	node   *nodetest.Node
	appURL string
	bundle *webapp.Bundle
	tp     *client.Client
	userID string
	code   string
	appSrv *http.Server
}

func startWorld(t *testing.T, ctx context.Context) *world {
	dir := t.TempDir()
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// localhost, not 127.0.0.1: WebAuthn takes no IP address as its
	// relying party id, and the passkey unlock runs below.
	appURL := fmt.Sprintf("http://localhost:%d", appLn.Addr().(*net.TCPAddr).Port)
	node, err := nodetest.StartNode(server.Config{
		Listen:             "127.0.0.1:0",
		DataDir:            filepath.Join(dir, "api"),
		ApprovalTTL:        10 * time.Minute,
		SweepInterval:      100 * time.Millisecond,
		AnswerPollInterval: 50 * time.Millisecond,
		UserRate:           -1,
		RequesterRate:      -1,
		UserRequesterRate:  -1,
		ShutdownTimeout:    5 * time.Second,
		LogFormat:          server.LogText,
		AppOrigins:         []string{appURL},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Stop() })

	start := time.Now()
	b, err := webapp.Build(ctx, webapp.BuildOptions{Out: filepath.Join(dir, "bundle"), API: node.URL, SrcDir: "..", SelfTest: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle %s built in %s", b.Version, time.Since(start).Round(time.Millisecond))
	srv := &http.Server{Handler: webapp.Handler(b.Dir, b.CSP, b.Sums), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(appLn) }()
	t.Cleanup(func() { _ = srv.Close() })

	key, _, err := server.CreateClient(ctx, node.Store, rand.Reader, time.Now(), "Clinic", server.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := client.New(node.URL, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	en, err := tp.CreateUser(ctx, "patient-17", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	return &world{node: node, appURL: appURL, bundle: b, tp: tp, userID: en.UserID, code: en.EnrollmentCode, appSrv: srv}
}

// upload creates a record and uploads content; it returns the record id
// and the device request id.
func (w *world) upload(t *testing.T, ctx context.Context, title string, content []byte) (rid, reqID, match string) {
	t.Helper()
	rec, err := w.tp.CreateRecord(ctx, w.userID, api.CreateRecordRequest{Title: title, ContentType: "text/plain", Purpose: "storage of your scan"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.tp.Upload(ctx, rec.RecordID, bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	return rec.RecordID, p.RequestID, p.MatchCode
}

func evalAwait(expr string, out any) chromedp.Action {
	return chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })
}

func waitBody(attr, value string) chromedp.Action {
	return chromedp.WaitVisible(fmt.Sprintf(`body[data-%s=%q]`, attr, value), chromedp.ByQuery)
}

// wrongCode returns a two-digit code other than code.
func wrongCode(code string) string {
	if code == "00" {
		return "01"
	}
	return "00"
}

// goTo moves the page to another screen without reloading it.
func goTo(hash string) chromedp.Action {
	return chromedp.Evaluate(`location.hash = `+strconvQuote(hash), nil)
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

func text(sel string, out *string) chromedp.Action { return chromedp.Text(sel, out, chromedp.ByQuery) }

// TestApprovalAppInChromium runs the approval app in a real headless
// Chromium against a real API node on loopback: enrollment with a code and
// a passphrase, a record sealed and an access approved from the page (the
// third party downloads the plaintext, digest checked), the ledger screen,
// a Web Push delivered to the service worker that leads the page to the
// request, a reload that finds the keystore in IndexedDB and asks for the
// passphrase again, the device.Storage conformance check on IndexedDB, and
// the service worker refusing to unlock once the served code changes.
func TestApprovalAppInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly and drives a browser")
	}
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	w := startWorld(t, ctx)

	bctx, run := startBrowser(t, ctx, exe)

	// Registrations of the service worker, for the push below.
	regs := make(chan *serviceworker.Registration, 16)
	chromedp.ListenTarget(bctx, func(ev any) {
		if e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated); ok {
			for _, r := range e.Registrations {
				if !r.IsDeleted {
					select {
					case regs <- r:
					default:
					}
				}
			}
		}
	})

	// Enroll.
	start := time.Now()
	// A phone's width: 360 CSS pixels.
	run("open the app", chromedp.EmulateViewport(360, 780), chromedp.Navigate(w.appURL), waitBody("state", "enroll"))
	t.Logf("page load to ready (enroll screen): %s", time.Since(start).Round(time.Millisecond))
	var readyMs, loadMs string
	run("timings", chromedp.Evaluate(`document.body.dataset.readyMs`, &readyMs), chromedp.Evaluate(`document.body.dataset.loadMs`, &loadMs))
	t.Logf("in the page: device.wasm fetched, checked and started in %s ms; page ready in %s ms", loadMs, readyMs)
	var csp string
	run("csp", chromedp.Evaluate(`document.querySelector('meta[http-equiv="Content-Security-Policy"]').content`, &csp))
	if !strings.Contains(csp, "connect-src 'self' "+w.node.URL) || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	run("grant notifications", browser.GrantPermissions([]browser.PermissionType{browser.PermissionTypeNotifications}).WithOrigin(w.appURL), serviceworker.Enable())
	var server string
	run("enroll form", chromedp.Value("#enroll-server", &server, chromedp.ByQuery))
	if server != w.node.URL {
		t.Fatalf("enroll form server %q, want %q", server, w.node.URL)
	}
	run("enroll",
		chromedp.SendKeys("#enroll-code", w.code, chromedp.ByQuery),
		chromedp.SendKeys("#enroll-name", "Ada's phone", chromedp.ByQuery),
		chromedp.SendKeys("#enroll-pass", testPassphrase, chromedp.ByQuery),
		chromedp.SendKeys("#enroll-pass2", testPassphrase, chromedp.ByQuery),
		chromedp.Click("#enroll-submit", chromedp.ByQuery),
		waitBody("state", "ready"),
		waitBody("screen", "requests"),
	)
	u, err := w.tp.User(ctx, w.userID)
	if err != nil {
		t.Fatal(err)
	}
	if u.State != "active" {
		t.Fatalf("user state %q after the page enrolled", u.State)
	}

	// Number matching: a wrong code denies the request (the record is
	// rejected, the denial audited as match_failed).
	badRID, badReq, badCode := w.upload(t, ctx, "Wrong code", []byte("never sealed"))
	var result string
	run("a wrong match code", goTo("#/request/"+badReq), waitBody("request", "shown"),
		chromedp.WaitVisible("#match-code", chromedp.ByQuery),
		chromedp.SendKeys("#match-code", wrongCode(badCode), chromedp.ByQuery),
		chromedp.Click("#approve", chromedp.ByQuery), waitBody("request", "denied"), waitBody("decided-by", "match_failed"),
		text("#request-result", &result))
	if !strings.Contains(result, "not the one the requester shows") {
		t.Errorf("result after a wrong code: %q", result)
	}
	if rec, err := w.tp.AwaitRecord(ctx, badRID); err != nil || rec.State != api.RecordRejected {
		t.Fatalf("record after a wrong match code: %+v, %v", rec, err)
	}
	entries, err := w.tp.Audit(ctx, w.userID)
	if err != nil {
		t.Fatal(err)
	}
	matchFailed := false
	for _, e := range entries {
		var d api.AnswerDetails
		if e.Event == api.AuditDenied && e.Subject == badReq && json.Unmarshal(e.Details, &d) == nil && d.Reason == api.ReasonMatchFailed {
			matchFailed = true
		}
	}
	if !matchFailed {
		t.Fatalf("no denied entry with reason %s for %s in the audit chain", api.ReasonMatchFailed, badReq)
	}
	run("back to the list", goTo("#/requests"), waitBody("screen", "requests"))

	// A record, sealed from the page with the right code.
	content := []byte("the scan, as the clinic took it\n")
	sum := sha256.Sum256(content)
	rid, reqID, code := w.upload(t, ctx, "MRI 2026-12-04", content)
	var ask, fields string
	run("the request reaches the list and opens",
		chromedp.WaitVisible(fmt.Sprintf(`li[data-request-id=%q] a`, reqID), chromedp.ByQuery),
		chromedp.Click(fmt.Sprintf(`li[data-request-id=%q] a`, reqID), chromedp.ByQuery),
		waitBody("request", "shown"),
		text("#request-ask", &ask), text("#request-fields", &fields),
	)
	for _, want := range []string{"Clinic", "storage of your scan", "MRI 2026-12-04", "text/plain", fmt.Sprintf("%x", sum), rid, reqID} {
		if !strings.Contains(fields, want) {
			t.Errorf("request screen lacks %q:\n%s", want, fields)
		}
	}
	var scrollW int
	run("fits 360 px", chromedp.Evaluate(`document.documentElement.scrollWidth`, &scrollW))
	if scrollW > 360 {
		t.Errorf("the request screen is %d px wide on a 360 px screen", scrollW)
	}
	var shot []byte
	run("screenshot", chromedp.FullScreenshot(&shot, 100))
	shotPath := filepath.Join(t.TempDir(), "approval-app-request.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the request screen: %s", shotPath)
	if p := os.Getenv("ASSENT_SCREENSHOT"); p != "" {
		_ = os.WriteFile(p, shot, 0o644)
	}
	var deviceMs string
	run("approve the seal", chromedp.SendKeys("#match-code", code, chromedp.ByQuery), chromedp.Click("#approve", chromedp.ByQuery), waitBody("request", "approved"),
		chromedp.Evaluate(`document.body.dataset.deviceMs`, &deviceMs))
	t.Logf("approval in the page: %s ms from the click to the server's answer (evaluation, signature, ledger write in IndexedDB, POST)", deviceMs)
	rec, err := w.tp.AwaitRecord(ctx, rid)
	if err != nil || rec.State != api.RecordSealed {
		t.Fatalf("record after the page approved: %+v, %v", rec, err)
	}

	// An access, approved from the page; the third party downloads.
	acc, err := w.tp.RequestAccess(ctx, rid, "second opinion")
	if err != nil {
		t.Fatal(err)
	}
	var note string
	run("the access request", goTo("#/request/"+acc.RequestID), waitBody("request", "shown"), text("#request-ledger", &note))
	if !strings.Contains(note, "As your ledger knows it") {
		t.Errorf("access prompt ledger note %q", note)
	}
	run("approve the access", chromedp.SendKeys("#match-code", acc.MatchCode, chromedp.ByQuery), chromedp.Click("#approve", chromedp.ByQuery), waitBody("request", "approved"))
	sess, err := w.tp.AwaitSession(ctx, acc.SessionID)
	if err != nil || sess.State != api.SessionOpen {
		t.Fatalf("session after the page approved: %+v, %v", sess, err)
	}
	var got bytes.Buffer
	d, err := w.tp.Download(ctx, acc.SessionID, &got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), content) || !bytes.Equal(d.SHA256, sum[:]) {
		t.Fatalf("downloaded %q (sha-256 %x), want the content sealed", got.Bytes(), d.SHA256)
	}

	// The ledger screen lists both answers.
	var ledger string
	run("ledger", goTo("#/ledger"), waitBody("ledger", "3"), text("#ledger-list", &ledger))
	for _, want := range []string{"APPROVE create: MRI 2026-12-04", "APPROVE access: MRI 2026-12-04", "second opinion", "accepted: approved",
		"DENY create: Wrong code", "match_failed"} {
		if !strings.Contains(ledger, want) {
			t.Errorf("ledger screen lacks %q:\n%s", want, ledger)
		}
	}

	// Audit findings and devices: one web device, the sole holder.
	var findings, devices, sole string
	run("audit", chromedp.Click(`nav a[href="#/audit"]`, chromedp.ByQuery), chromedp.WaitVisible("#finding-list li", chromedp.ByQuery),
		text("#screen-audit", &findings), chromedp.WaitVisible("#w-sole", chromedp.ByQuery), text("#w-sole", &sole))
	if !strings.Contains(findings, "entries verified") || !strings.Contains(findings, "did not match the one the requester showed") {
		t.Errorf("audit screen:\n%s", findings)
	}
	if !strings.Contains(sole, "only device holding your device share") {
		t.Errorf("no sole-holder warning: %q", sole)
	}
	run("devices", chromedp.Click(`nav a[href="#/devices"]`, chromedp.ByQuery), chromedp.WaitVisible("#device-list li strong", chromedp.ByQuery),
		text("#screen-devices", &devices))
	if !strings.Contains(devices, "(this device)") || !strings.Contains(devices, "platform: web") {
		t.Errorf("devices screen:\n%s", devices)
	}

	// A Web Push reaches the service worker: a notification, and the page
	// goes to the request; the user denies it and the record is rejected.
	rid2, req2, _ := w.upload(t, ctx, "Blood test", []byte("numbers"))
	var reg *serviceworker.Registration
	for reg == nil {
		select {
		case r := <-regs:
			if strings.HasPrefix(r.ScopeURL, w.appURL) {
				reg = r
			}
		case <-ctx.Done():
			t.Fatal("no service worker registration seen")
		}
	}
	run("requests screen", goTo("#/requests"), waitBody("screen", "requests"))
	var titles []string
	run("push", serviceworker.DeliverPushMessage(w.appURL, reg.RegistrationID, `{"request_id":"`+req2+`"}`),
		waitBody("pushed", req2), waitBody("request", "shown"),
		evalAwait(`navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => n.title + " | " + n.tag))`, &titles))
	if len(titles) == 0 || !strings.Contains(strings.Join(titles, ","), req2) {
		t.Errorf("notifications after the push: %q", titles)
	}
	run("deny", text("#request-fields", &fields), chromedp.Click("#deny", chromedp.ByQuery), waitBody("request", "denied"))
	if !strings.Contains(fields, "Blood test") {
		t.Errorf("pushed request screen:\n%s", fields)
	}
	if rec, err := w.tp.AwaitRecord(ctx, rid2); err != nil || rec.State != api.RecordRejected {
		t.Fatalf("denied record: %+v, %v", rec, err)
	}

	// A second, file-based agent joins by transfer, approved in the page
	// with its pairing string; it then seals a record with the same kD.
	joinByTransfer(t, ctx, w, run)

	// Reload: the keystore survives in IndexedDB, the passphrase is asked
	// again, a wrong one does not open it.
	var status string
	run("reload", chromedp.Reload(), waitBody("state", "locked"),
		chromedp.SendKeys("#unlock-pass", "not the passphrase", chromedp.ByQuery), chromedp.Click("#unlock-submit", chromedp.ByQuery),
		chromedp.WaitVisible(`#status`, chromedp.ByQuery), chromedp.Poll(`document.getElementById("status").textContent.startsWith("Not unlocked")`, nil),
		text("#status", &status))
	if !strings.Contains(status, "wrong passphrase") {
		t.Errorf("status after a wrong passphrase: %q", status)
	}
	unlockStart := time.Now()
	run("unlock after reload", chromedp.SendKeys("#unlock-pass", testPassphrase, chromedp.ByQuery), chromedp.Click("#unlock-submit", chromedp.ByQuery),
		waitBody("state", "ready"))
	t.Logf("unlock in the page (Argon2id %d passes over %d MiB in WebAssembly, then the ledger read from IndexedDB): %s",
		device.DefaultKDFParams.Time, device.DefaultKDFParams.MemoryKiB>>10, time.Since(unlockStart).Round(time.Millisecond))
	run("ledger after reload", goTo("#/ledger"), waitBody("ledger", "4"))

	// The device.Storage conformance check, on IndexedDB in this browser.
	var st struct {
		OK     bool     `json:"ok"`
		Errors []string `json:"errors"`
		Ms     int64    `json:"ms"`
	}
	run("self-test", evalAwait(`assentDevice.selfTest()`, &st))
	if !st.OK {
		t.Fatalf("device.Storage conformance on IndexedDB failed:\n%s", strings.Join(st.Errors, "\n"))
	}
	t.Logf("device.Storage conformance check passed on IndexedDB in %d ms", st.Ms)

	// The device's CPU per approval: the same work in the page and here.
	const benchN = 200
	var bench struct {
		Micros float64 `json:"us_per_approval"`
	}
	run("bench", evalAwait(fmt.Sprintf(`assentDevice.bench(%d)`, benchN), &bench))
	native, err := approvalbench.Run(benchN)
	if err != nil {
		t.Fatal(err)
	}
	if bench.Micros <= 0 {
		t.Fatalf("bench in the page: %+v", bench)
	}
	t.Logf("device CPU per approval (statement, POPRF evaluation and proof, signature; %d runs): %.0f µs in the page (WebAssembly), %.0f µs native Go: %.1fx",
		benchN, bench.Micros, float64(native.Microseconds()), bench.Micros/float64(native.Microseconds()))

	passkey(t, bctx, w, run)

	// The served code changes without a new version: the service worker's
	// pins no longer match, and the page refuses to unlock.
	css := filepath.Join(w.bundle.Dir, webapp.FileCSS)
	if err := os.WriteFile(css, []byte("body{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warning string
	var disabled bool
	run("changed code", chromedp.Reload(), waitBody("state", "locked"),
		chromedp.WaitVisible("#w-code", chromedp.ByQuery), text("#w-code", &warning),
		chromedp.Evaluate(`document.getElementById("unlock-submit").disabled`, &disabled))
	if !strings.Contains(warning, "Unlocking is refused") || !strings.Contains(warning, webapp.FileCSS) || !disabled {
		t.Fatalf("after the served code changed: warning %q, unlock disabled %v", warning, disabled)
	}
}

// stepFunc runs one named step of a browser test under stepTimeout and
// fails the test, with the page's state, if it fails.
type stepFunc func(what string, actions ...chromedp.Action)

// startBrowser starts a headless Chromium (exe) with a fresh profile, 360
// px wide, for ctx's lifetime; it returns the browser's context and the
// step runner, and prints the page's console when the test failed.
func startBrowser(t *testing.T, ctx context.Context, exe string) (context.Context, stepFunc) {
	t.Helper()
	// The profile is removed by hand: Chromium may still write in it for a
	// moment after it was told to quit, which t.TempDir's check refuses.
	profile, err := os.MkdirTemp("", "assent-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(360, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(bcancel)
	// The first Run starts the browser, for bctx's lifetime (not a step's).
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	var logs bytes.Buffer
	chromedp.ListenTarget(bctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				fmt.Fprintf(&logs, "console.%s: %s\n", e.Type, a.Value)
			}
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(&logs, "exception: %s\n", e.ExceptionDetails.Error())
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", logs.String())
		}
	})
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, stepTimeout)
		defer scancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var body string
			_ = chromedp.Run(bctx, chromedp.Evaluate(`document.body.dataset.state+" "+document.body.dataset.screen+" | "+document.getElementById("status").textContent+" | "+document.getElementById("warnings").textContent`, &body))
			t.Fatalf("%s: %v (page: %s)", what, err, body)
		}
	}

	return bctx, run
}

// passkey sets up a passkey unlock with CDP's WebAuthn virtual
// authenticator (platform, user verification, PRF), reloads, unlocks with
// it, and approves a record with the passkey gesture. If this Chromium's
// virtual authenticator refuses PRF, it says so and returns.
func passkey(t *testing.T, ctx context.Context, w *world, run stepFunc) {
	t.Helper()
	var id webauthn.AuthenticatorID
	err := chromedp.Run(ctx, webauthn.Enable(), chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		id, err = webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, HasPrf: true,
			AutomaticPresenceSimulation: true,
		}).Do(ctx)
		return err
	}))
	if err != nil {
		t.Logf("passkey unlock NOT RUN: this Chromium's virtual authenticator refused PRF (%v); the passphrase path ran", err)
		return
	}
	defer func() { _ = chromedp.Run(ctx, webauthn.RemoveVirtualAuthenticator(id)) }()
	var status string
	run("passkey setup", goTo("#/devices"), chromedp.WaitVisible("#passkey-setup", chromedp.ByQuery),
		chromedp.Click("#passkey-setup", chromedp.ByQuery), waitBody("passkey", "set-up"),
		chromedp.Poll(`document.getElementById("passkey-status").textContent.startsWith("A passkey")`, nil),
		text("#passkey-status", &status))
	if !strings.Contains(status, "A passkey unlocks this device") {
		t.Fatalf("passkey status %q", status)
	}
	start := time.Now()
	run("passkey unlock", chromedp.Reload(), waitBody("state", "locked"), chromedp.WaitVisible("#passkey-unlock", chromedp.ByQuery),
		chromedp.Click("#passkey-unlock", chromedp.ByQuery), waitBody("state", "ready"), waitBody("unlocked-by", "passkey"))
	t.Logf("passkey unlock ran with the virtual authenticator's PRF (status: %s); unlock took %s", status, time.Since(start).Round(time.Millisecond))
	rid, req, code := w.upload(t, ctx, "Passkey approved", []byte("with a gesture"))
	run("approve with the passkey gesture", goTo("#/request/"+req), waitBody("request", "shown"),
		chromedp.SendKeys("#match-code", code, chromedp.ByQuery), chromedp.Click("#approve", chromedp.ByQuery), waitBody("request", "approved"))
	if rec, err := w.tp.AwaitRecord(ctx, rid); err != nil || rec.State != api.RecordSealed {
		t.Fatalf("record approved with the passkey: %+v, %v", rec, err)
	}
	// Without the gesture, the device refuses to approve.
	_, req2, _ := w.upload(t, ctx, "No gesture", []byte("refused"))
	var msg string
	run("no gesture", goTo("#/request/"+req2), waitBody("request", "shown"),
		evalAwait(`assentDevice.decide(`+strconvQuote(req2)+`, "approve", "00", "").then(() => "approved", e => e.message)`, &msg))
	if !strings.Contains(msg, "needs the passkey again") {
		t.Fatalf("approval without the passkey gesture: %q", msg)
	}
}

// joinByTransfer enrolls a file-based device agent by transfer: it shows
// its pairing string, which the page takes (pasted), finds the add_device
// request for, and approves after the passphrase; the agent receives kD,
// the ledger and the audit head, and seals a record on its own.
func joinByTransfer(t *testing.T, ctx context.Context, w *world, run stepFunc) {
	t.Helper()
	en, err := w.tp.NewEnrollment(ctx, w.userID)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := device.NewClient(w.node.URL, nil, device.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := anon.EnrollTransfer(ctx, en.EnrollmentCode, "laptop agent")
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Destroy()
	fs := device.NewFileStorage(device.DefaultFilePaths(filepath.Join(t.TempDir(), "device.key")))
	defer fs.Close()
	type joined struct {
		id  *device.Identity
		err error
	}
	done := make(chan joined, 1)
	go func() {
		id, err := anon.CompleteTransfer(ctx, pt, device.TransferOptions{PollInterval: 100 * time.Millisecond,
			Save: func(id *device.Identity, b *device.Bundle) error {
				id.ServerURL = anon.ServerURL()
				if err := device.CreateKeystoreIn(ctx, fs, []byte("agent passphrase"), id, rand.Reader,
					device.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}); err != nil {
					return err
				}
				return device.ImportTransfer(ctx, fs, b, id.UserID, time.Now())
			}})
		done <- joined{id, err}
	}()
	var fields, result string
	run("pair", goTo("#/pair"), chromedp.WaitVisible("#pair-string", chromedp.ByQuery),
		chromedp.SetValue("#pair-string", pt.PairingString(), chromedp.ByQuery), chromedp.Click("#pair-check", chromedp.ByQuery),
		waitBody("pair", "shown"), text("#pair-fields", &fields))
	if !strings.Contains(fields, pt.DeviceID) || !strings.Contains(fields, "laptop agent") {
		t.Errorf("pairing screen:\n%s", fields)
	}
	run("approve the new device", chromedp.SendKeys("#pair-pass", testPassphrase, chromedp.ByQuery), chromedp.Click("#pair-approve", chromedp.ByQuery),
		waitBody("pair", "approved"), text("#pair-result", &result))
	var j joined
	select {
	case j = <-done:
	case <-ctx.Done():
		t.Fatal("the transfer did not complete")
	}
	if j.err != nil {
		t.Fatalf("the new device's transfer: %v (page: %s)", j.err, result)
	}
	defer j.id.Destroy()
	if j.id.UserID != w.userID || j.id.State != device.StateActive {
		t.Fatalf("joined as %s, %s", j.id.UserID, j.id.State)
	}
	t.Logf("device %s joined by transfer approved in the page (%s)", j.id.DeviceID, result)

	// The new agent seals a record: it holds the same kD.
	ledger, err := device.OpenLedgerIn(ctx, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	c, err := device.NewClient(w.node.URL, j.id, device.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	approve := func(_ context.Context, p *device.Prompt) (device.Decision, error) {
		p.MatchTyped = p.MatchCode()
		return device.Approve, nil
	}
	ag, err := device.NewAgent(c, ledger, approve, device.AgentOptions{RequireMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	rid, req, _ := w.upload(t, ctx, "Sealed by the laptop", []byte("from the second device"))
	if _, err := ag.Handle(ctx, req); err != nil {
		t.Fatalf("the joined agent handling %s: %v", req, err)
	}
	if rec, err := w.tp.AwaitRecord(ctx, rid); err != nil || rec.State != api.RecordSealed {
		t.Fatalf("record sealed by the joined agent: %+v, %v", rec, err)
	}
}
