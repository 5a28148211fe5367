package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
)

// waitFor polls until out contains s.
func waitFor(t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", s, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cliEnv is `assent serve` on loopback, run through its own command, with
// one third party holding every scope.
type cliEnv struct {
	t       *testing.T
	dir     string
	url     string
	key     string
	pass    string // passphrase file
	serving *syncBuffer
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	old := keystoreKDF
	keystoreKDF = device.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	t.Cleanup(func() { keystoreKDF = old })
	t.Setenv(envPassphrase, "")
	os.Unsetenv(envPassphrase)
	t.Setenv(envKeystore, "")
	os.Unsetenv(envKeystore)

	e := &cliEnv{t: t, dir: t.TempDir(), serving: &syncBuffer{}}
	data := filepath.Join(e.dir, "data")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- commands["serve"].run(ctx, []string{"-listen", "127.0.0.1:0", "-data-dir", data,
			"-log-level", "warn", "-user-rate", "-1"}, e.serving, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitFor(t, e.serving, "serving on ")
	m := regexp.MustCompile(`serving on (http://\S+)`).FindStringSubmatch(e.serving.String())
	e.url = m[1]

	var out bytes.Buffer
	if err := commands["admin"].run(ctx, []string{"client", "create", "-data-dir", data, "-name", "Lab",
		"-scopes", "users:admin,records:write,records:access"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	e.key = regexp.MustCompile(`api_key: (\S+)`).FindStringSubmatch(out.String())[1]
	e.pass = filepath.Join(e.dir, "pass")
	if err := os.WriteFile(e.pass, []byte("a long passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *cliEnv) api(method, path string, body any, want int, out any) {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	if b, ok := body.([]byte); ok {
		rd, ct = bytes.NewReader(b), "application/octet-stream"
	} else if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", ct)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

type cliIDs struct {
	UserID         string `json:"user_id"`
	EnrollmentCode string `json:"enrollment_code"`
	RecordID       string `json:"record_id"`
	RequestID      string `json:"request_id"`
	SessionID      string `json:"session_id"`
	State          string `json:"state"`
	MatchCode      string `json:"match_code"`
}

func (e *cliEnv) newUser() cliIDs {
	var u cliIDs
	e.api(http.MethodPost, "/v1/users", map[string]string{"external_id": "ext-" + time.Now().Format("150405.000000000"), "display_name": "Alice"}, http.StatusCreated, &u)
	return u
}

func (e *cliEnv) record(uid, title string, content []byte) string {
	return e.upload(uid, title, content).RecordID
}

// upload creates a record and uploads its content, returning the 202.
func (e *cliEnv) upload(uid, title string, content []byte) cliIDs {
	var r, p cliIDs
	e.api(http.MethodPost, "/v1/users/"+uid+"/records", map[string]string{"title": title, "content_type": "text/plain", "purpose": "results"}, http.StatusCreated, &r)
	e.api(http.MethodPut, "/v1/records/"+r.RecordID+"/content", content, http.StatusAccepted, &p)
	return p
}

func (e *cliEnv) recordState(rid string) string {
	var r cliIDs
	e.api(http.MethodGet, "/v1/records/"+rid+"?wait=10", nil, http.StatusOK, &r)
	return r.State
}

// device runs `assent device args...` and returns its output.
func (e *cliEnv) device(ctx context.Context, stdin string, args ...string) (string, string, error) {
	deviceStdin = strings.NewReader(stdin)
	var out, errOut syncBuffer
	err := runDevice(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// running starts a long-running `assent device` command; stop ends it and
// returns its error.
func (e *cliEnv) running(stdin io.Reader, args ...string) (stdout, stderr *syncBuffer, stop func() error) {
	deviceStdin = stdin
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDevice(ctx, args, stdout, stderr) }()
	return stdout, stderr, func() error { cancel(); return <-done }
}

func TestDeviceCLI(t *testing.T) {
	e := newCLIEnv(t)
	ctx := context.Background()
	ks := filepath.Join(e.dir, "phone", "device.key")
	common := []string{"--keystore", ks, "--passphrase-file", e.pass}

	user := e.newUser()
	// A wrong code says so and what to do, and leaves no keystore.
	_, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", "AAAAA-BBBBB-CCCCC-DDDDD"}, common...)...)
	if !errors.Is(err, errEnrollmentCode) || !strings.Contains(err.Error(), "new code") {
		t.Fatalf("enroll with a wrong code: %v", err)
	}
	if _, err := os.Stat(ks); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused code left a keystore: %v", err)
	}
	out, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", user.EnrollmentCode, "--name", "phone"}, common...)...)
	if err != nil || !strings.Contains(out, "Enrolled device dev_") {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	phoneID := regexp.MustCompile(`Enrolled device (dev_\S+)`).FindStringSubmatch(out)[1]
	status, _, err := e.device(ctx, "", append([]string{"status"}, common...)...)
	if err != nil || !regexp.MustCompile(`User key: [0-9a-f]{4}( [0-9a-f]{4}){7}\n`).MatchString(status) {
		t.Fatalf("status does not print the grouped user key: %v\n%s", err, status)
	}
	if !strings.Contains(status, "Platform: agent\n") {
		t.Errorf("status does not print the platform assent device enrolls as:\n%s", status)
	}
	if fi, err := os.Stat(ks); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keystore: %v %v", fi, err)
	}
	// The same code again, for another keystore: used already.
	_, _, err = e.device(ctx, "", "enroll", "--server", e.url, "--code", user.EnrollmentCode, "--keystore", filepath.Join(e.dir, "second.key"), "--passphrase-file", e.pass)
	if !errors.Is(err, errEnrollmentCode) || !strings.Contains(err.Error(), "used already") {
		t.Fatalf("enroll with a used code: %v", err)
	}
	if _, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", "AAAAA-BBBBB-CCCCC-DDDDD"}, common...)...); err == nil ||
		!strings.Contains(err.Error(), "keystore exists") {
		t.Errorf("second enroll: %v", err)
	}

	// --auto-approve seals a record, with a warning.
	sealed := e.record(user.UserID, "Blood test", []byte("haemoglobin"))
	_, stderr, stop := e.running(strings.NewReader(""), append([]string{"run", "--auto-approve"}, common...)...)
	if st := e.recordState(sealed); st != "sealed" {
		t.Errorf("record under --auto-approve: %s", st)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(stderr.String(), "WARNING: --auto-approve") {
		t.Errorf("no warning for --auto-approve:\n%s", stderr.String())
	}

	// assent verify: the key from the phone passes, another fails, none is
	// said to be unchecked.
	keyLine := regexp.MustCompile(`User key: (.+)\n`).FindStringSubmatch(status)
	t.Setenv(envAPIKey, e.key)
	var vout bytes.Buffer
	if err := runVerify(ctx, []string{"--server", e.url, "--user-key", keyLine[1], sealed}, &vout, &vout); err != nil ||
		!strings.Contains(vout.String(), "the one given") || !strings.Contains(vout.String(), "Not proven") ||
		!strings.Contains(vout.String(), `("phone", listed as active, platform agent)`) {
		t.Errorf("verify with the phone's key: %v\n%s", err, vout.String())
	}
	vout.Reset()
	if err := runVerify(ctx, []string{"--server", e.url, sealed}, &vout, &vout); !errors.Is(err, errUserKeyUnchecked) || !strings.Contains(vout.String(), "NOT CHECKED") {
		t.Errorf("verify without a key: %v\n%s", err, vout.String())
	}
	vout.Reset()
	if err := runVerify(ctx, []string{"--server", e.url, "--user-key", strings.Repeat("0", 32), sealed}, &vout, &vout); !errors.Is(err, errVerifyFailed) ||
		!strings.Contains(vout.String(), "FAILED: verify: the user's key is not the one given") {
		t.Errorf("verify with a wrong key: %v\n%s", err, vout.String())
	}

	// Interactive: the prompt shows the record; "n" denies.
	denied := e.record(user.UserID, "Unwanted\u202etxt.exe", []byte("spam"))
	pr, pw := io.Pipe()
	stdout, _, stop := e.running(pr, append([]string{"run"}, common...)...)
	waitFor(t, stdout, "Approve? [y/N]")
	text := stdout.String()
	for _, want := range []string{"SEAL a new record?", `"Unwanted\u202etxt.exe"`, "4 bytes", `"Lab"`, `"results"`} {
		if !strings.Contains(text, want) {
			t.Errorf("prompt lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\u202e") {
		t.Error("a raw right-to-left override from the server reached the terminal")
	}
	pw.Write([]byte("n\n"))
	if st := e.recordState(denied); st != "rejected" {
		t.Errorf("record after n: %s", st)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}

	out, _, err = e.device(ctx, "", "ledger", "--keystore", ks)
	if err != nil || !strings.Contains(out, "APPROVE create") || !strings.Contains(out, "DENY    create") ||
		!strings.Contains(out, "2 answers, 4 lines, hash chain intact.") {
		t.Errorf("ledger: %v\n%s", err, out)
	}
	out, _, err = e.device(ctx, "", append([]string{"audit"}, common...)...)
	if err != nil || !strings.Contains(out, "the chain verifies") || !strings.Contains(out, "record_sealed") {
		t.Errorf("audit: %v\n%s", err, out)
	}

	// Recovery kit: any two of three shares rebuild the share.
	out, _, err = e.device(ctx, "", append([]string{"recovery-kit", "--threshold", "2", "--shares", "3"}, common...)...)
	shares := regexp.MustCompile(`share \d of 3: (\S+)`).FindAllStringSubmatch(out, -1)
	if err != nil || len(shares) != 3 {
		t.Fatalf("recovery-kit: %v\n%s", err, out)
	}
	out, _, err = e.device(ctx, "# my kit\n\n"+shares[2][1]+"\nshare 1 of 3: "+shares[0][1]+"\n", append([]string{"recover"}, common...)...)
	if err != nil || !strings.Contains(out, "the kit is good") {
		t.Errorf("recover with two shares: %v\n%s", err, out)
	}
	if _, _, err := e.device(ctx, shares[1][1]+"\n", append([]string{"recover"}, common...)...); err == nil {
		t.Error("one share of a 2-of-3 kit rebuilt the key")
	}
	if _, _, err := e.device(ctx, "", append([]string{"recovery-kit", "--threshold", "1", "--shares", "3"}, common...)...); !errors.Is(err, errUsage) {
		t.Errorf("a 1-of-3 kit: %v", err)
	}

	// A kit of another device does not pass for this one.
	other := e.newUser()
	otherKS := filepath.Join(e.dir, "other", "device.key")
	if _, _, err := e.device(ctx, "", "enroll", "--server", e.url, "--code", other.EnrollmentCode, "--keystore", otherKS, "--passphrase-file", e.pass); err != nil {
		t.Fatal(err)
	}
	out, _, _ = e.device(ctx, "", "recovery-kit", "--threshold", "2", "--shares", "2", "--keystore", otherKS, "--passphrase-file", e.pass)
	otherShares := regexp.MustCompile(`share \d of 2: (\S+)`).FindAllStringSubmatch(out, -1)
	if _, _, err := e.device(ctx, otherShares[0][1]+"\n"+otherShares[1][1]+"\n", append([]string{"recover"}, common...)...); !errors.Is(err, device.ErrKeyMismatch) {
		t.Errorf("recover with another device's kit: %v", err)
	}

	// The phone is lost: the user's third party suspends it, and a new
	// device enrolled with the rebuilt share (active at once, as no other
	// device is) opens the record sealed by the old one.
	e.api(http.MethodDelete, "/v1/users/"+user.UserID+"/devices/"+phoneID, nil, http.StatusOK, nil)
	var again cliIDs
	e.api(http.MethodPost, "/v1/users/"+user.UserID+"/enrollment", nil, http.StatusCreated, &again)
	newKS := filepath.Join(e.dir, "new-phone", "device.key")
	newCommon := []string{"--keystore", newKS, "--passphrase-file", e.pass}
	out, _, err = e.device(ctx, shares[0][1]+"\n"+shares[1][1]+"\n",
		append([]string{"recover", "--server", e.url, "--code", again.EnrollmentCode}, newCommon...)...)
	if err != nil || !strings.Contains(out, "Enrolled device") {
		t.Fatalf("recover onto a new device: %v\n%s", err, out)
	}
	var acc cliIDs
	e.api(http.MethodPost, "/v1/records/"+sealed+"/access", map[string]string{"purpose": "after the loss"}, http.StatusAccepted, &acc)
	pr, pw = io.Pipe()
	stdout, _, stop = e.running(pr, append([]string{"run"}, newCommon...)...)
	waitFor(t, stdout, "Approve? [y/N]")
	if !strings.Contains(stdout.String(), "NOT IN LEDGER") {
		t.Errorf("the new device's prompt does not say the record is unknown to it:\n%s", stdout.String())
	}
	pw.Write([]byte("y\n"))
	var sess cliIDs
	e.api(http.MethodGet, "/v1/sessions/"+acc.SessionID+"?wait=10", nil, http.StatusOK, &sess)
	if sess.State != "open" {
		t.Errorf("session with the recovered share: %s", sess.State)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	out, _, err = e.device(ctx, "", append([]string{"revoke", phoneID}, newCommon...)...)
	if err != nil || !strings.Contains(out, "Revoked device "+phoneID) {
		t.Errorf("revoke the lost phone: %v\n%s", err, out)
	}
	if _, _, err := e.device(ctx, "", append([]string{"audit"}, common...)...); err == nil {
		t.Error("the revoked phone still reads the audit chain")
	}

	// A wrong passphrase is said plainly.
	bad := filepath.Join(e.dir, "bad")
	os.WriteFile(bad, []byte("not it\n"), 0o600)
	if _, _, err := e.device(ctx, "", "audit", "--keystore", ks, "--passphrase-file", bad); !errors.Is(err, device.ErrPassphrase) ||
		!strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
}

func TestDeviceCLIUsage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := filepath.Join(dir, "device.key")
	t.Setenv(envPassphrase, "pw")
	for _, args := range [][]string{
		nil,
		{"fly"},
		{"enroll"},
		{"enroll", "--server", "https://x"},
		{"enroll", "--server", "http://assent.example", "--code", "C", "--keystore", ks},
		{"run", "--max-per-minute", "-1", "--keystore", ks},
		{"run", "extra"},
		{"recovery-kit", "--threshold", "3", "--shares", "2", "--keystore", ks},
		{"recover", "--server", "https://x", "--keystore", ks},
		{"recover", "--keystore", ks},
		{"ledger", "--bogus"},
	} {
		var out, errOut bytes.Buffer
		if err := runDevice(ctx, args, &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
	// Without a keystore, commands say how to enroll.
	var out bytes.Buffer
	if err := runDevice(ctx, []string{"run", "--keystore", ks}, &out, &out); err == nil || !strings.Contains(err.Error(), "enroll first") {
		t.Errorf("run without a keystore: %v", err)
	}
}
