package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

func init() {
	register("device", "the device agent (enroll, run, add, ledger, audit, recovery-kit, recover, status, revoke, reactivate, cancel)", runDevice)
}

// Environment variables of `assent device`.
const (
	envKeystore   = "ASSENT_DEVICE_KEYSTORE"
	envLedger     = "ASSENT_DEVICE_LEDGER"
	envPassphrase = "ASSENT_DEVICE_PASSPHRASE"
	// envEnrollmentCode gives enroll (and recover --server) its code when
	// --code is not given: flags show in the process list.
	envEnrollmentCode = "ASSENT_ENROLLMENT_CODE"
)

// deviceStdin is where `device run` reads y/N answers and `device recover`
// reads shares; a variable so that tests can feed it.
var deviceStdin io.Reader = os.Stdin

// keystoreKDF is the Argon2id cost of new keystores; tests lower it.
var keystoreKDF = device.DefaultKDFParams

var deviceCommands = map[string]command{
	"enroll":       {"enroll this device with a code: --server URL --code CODE (or $" + envEnrollmentCode + "); --transfer to add it from an existing device", deviceEnroll},
	"run":          {"answer requests, asking y/N for each (and the pairing string and passphrase for an add_device)", deviceRun},
	"add":          {"add the device that shows PAIRING-STRING to the user's devices: add PAIRING-STRING", deviceAdd},
	"reactivate":   {"reactivate a suspended device of the user: reactivate DEVICE_ID", deviceReactivate},
	"ledger":       {"print the ledger of answers, checking its hash chain", deviceLedger},
	"audit":        {"verify the user's audit chain, pin its head, report what this device did not expect (exit 3 rewritten, 4 alerts)", deviceAudit},
	"recovery-kit": {"print a t-of-n recovery kit of the device share", deviceRecoveryKit},
	"recover":      {"rebuild the device share from recovery shares on standard input", deviceRecover},
	"status":       {"print this device's ids and the user's key fingerprint (for assent verify --user-key)", deviceStatus},
	"revoke":       {"revoke a device of the user (this one or another): revoke DEVICE_ID", deviceRevoke},
	"cancel":       {"cancel a pending recovery enrollment of the user: cancel DEVICE_ID", deviceCancel},
}

func deviceUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: assent device <command> [flags]")
	fmt.Fprintln(w)
	listCommands(w, deviceCommands, 13)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The keystore is --keystore, $%s or ~/.assent/device.key; its passphrase comes from\n", envKeystore)
	fmt.Fprintf(w, "--passphrase-file, $%s or a prompt on the terminal.\n", envPassphrase)
}

func runDevice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		deviceUsage(stderr)
		return fmt.Errorf("%w: missing device command", errUsage)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		deviceUsage(stderr)
		return nil
	}
	cmd, ok := deviceCommands[args[0]]
	if !ok {
		deviceUsage(stderr)
		return fmt.Errorf("%w: unknown device command %q", errUsage, args[0])
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

// storeFlags are the flags naming the keystore, ledger and passphrase.
type storeFlags struct {
	keystore, ledger, passphraseFile string
	insecureHTTP                     bool
}

func (s *storeFlags) register(fs *flag.FlagSet, ledger, server bool) {
	fs.StringVar(&s.keystore, "keystore", "", "keystore `file` ($"+envKeystore+", default ~/.assent/device.key)")
	fs.StringVar(&s.passphraseFile, "passphrase-file", "", "read the keystore passphrase from `file` (first line)")
	if ledger {
		fs.StringVar(&s.ledger, "ledger", "", "ledger `file` ($"+envLedger+", default: the keystore path with .ledger)")
	}
	if server {
		fs.BoolVar(&s.insecureHTTP, "insecure-http", false, "allow plain http to a host that is not loopback (test networks only)")
	}
}

func (s *storeFlags) keystorePath() (string, error) {
	if s.keystore != "" {
		return s.keystore, nil
	}
	if v := os.Getenv(envKeystore); v != "" {
		return v, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%w: no home directory; give --keystore", errUsage)
	}
	return filepath.Join(home, ".assent", "device.key"), nil
}

// storage returns the device's file storage: the keystore, the ledger
// (--ledger or its default) and the pinned audit head next to the keystore.
func (s *storeFlags) storage() (*device.FileStorage, error) {
	ks, err := s.keystorePath()
	if err != nil {
		return nil, err
	}
	p := device.DefaultFilePaths(ks)
	if p.Ledger, err = s.ledgerPath(); err != nil {
		return nil, err
	}
	return device.NewFileStorage(p), nil
}

func (s *storeFlags) ledgerPath() (string, error) {
	if s.ledger != "" {
		return s.ledger, nil
	}
	if v := os.Getenv(envLedger); v != "" {
		return v, nil
	}
	ks, err := s.keystorePath()
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(ks, ".key") + ".ledger", nil
}

// passphrase returns the keystore passphrase from the file, the environment
// or the terminal (asked twice when confirm). The caller clears it.
func (s *storeFlags) passphrase(stderr io.Writer, confirm bool) ([]byte, error) {
	if s.passphraseFile != "" {
		f, err := os.Open(s.passphraseFile)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		p := bytes.Clone(bytes.TrimSuffix(line, []byte("\r")))
		secret.Clear(data)
		if len(p) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", s.passphraseFile)
		}
		return p, nil
	}
	if v, ok := os.LookupEnv(envPassphrase); ok {
		if v == "" {
			return nil, fmt.Errorf("$%s is empty", envPassphrase)
		}
		return []byte(v), nil
	}
	return askPassphrase(stderr, confirm)
}

// askPassphrase reads a passphrase on the controlling terminal, without
// echo.
func askPassphrase(stderr io.Writer, confirm bool) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return nil, fmt.Errorf("no passphrase: give --passphrase-file or set $%s (there is no terminal to ask on)", envPassphrase)
	}
	defer tty.Close()
	read := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		p, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return p, err
	}
	p, err := read("Keystore passphrase: ")
	if err != nil {
		return nil, fmt.Errorf("reading the passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase")
	}
	if confirm {
		again, err := read("Repeat the passphrase: ")
		defer secret.Clear(again)
		if err != nil || subtle.ConstantTimeCompare(p, again) != 1 {
			secret.Clear(p)
			return nil, errors.New("the passphrases do not match")
		}
	}
	return p, nil
}

// openIdentity opens the keystore named by s.
func (s *storeFlags) openIdentity(stderr io.Writer) (*device.Identity, error) {
	path, err := s.keystorePath()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no keystore at %s: enroll first (assent device enroll --server URL --code CODE)", path)
	}
	pass, err := s.passphrase(stderr, false)
	if err != nil {
		return nil, err
	}
	defer secret.Clear(pass)
	return device.OpenKeystore(path, pass)
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// codeFlag defines --code, an enrollment code, which $ASSENT_ENROLLMENT_CODE
// may give instead.
func codeFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("code", "", usage+" ($"+envEnrollmentCode+", preferred: flags show in the process list)")
}

func deviceEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device enroll", stderr)
	var sf storeFlags
	sf.register(fs, false, true)
	serverURL := fs.String("server", "", "`URL` of the Assent server")
	code := codeFlag(fs, "enrollment `code` from the service that created your user")
	name := fs.String("name", "", "device `name` shown to services (default: the host name)")
	transfer := fs.Bool("transfer", false, "join the user's devices by transfer: print a pairing string for an existing device and wait for it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *code == "" {
		*code = os.Getenv(envEnrollmentCode)
	}
	if *serverURL == "" || *code == "" {
		return fmt.Errorf("%w: --server and --code (or $%s) are required", errUsage, envEnrollmentCode)
	}
	if *transfer {
		return enrollTransfer(ctx, &sf, *serverURL, *code, *name, stdout, stderr)
	}
	return enrollDevice(ctx, &sf, *serverURL, *code, *name, nil, stdout, stderr)
}

// enrollDevice enrolls with code, storing the new identity in a new
// keystore before confirming; share is the device share to enroll (nil: a
// new one).
func enrollDevice(ctx context.Context, sf *storeFlags, serverURL, code, name string, share *oprf.PrivateKey, stdout, stderr io.Writer) error {
	en, err := startEnroll(sf, serverURL, name, stderr)
	if err != nil {
		return err
	}
	defer secret.Clear(en.pass)
	path, client, pass, name := en.keystore, en.client, en.pass, en.name
	saved := false
	id, err := client.Enroll(ctx, code, device.EnrollOptions{Name: name, OPRFKey: share, Save: func(id *device.Identity) error {
		if err := device.CreateKeystore(path, pass, id, rand.Reader, keystoreKDF); err != nil {
			return err
		}
		saved = true
		return nil
	}})
	if err != nil {
		var ae *device.APIError
		if saved && errors.As(err, &ae) {
			// The server refused the confirmation: the device is not active,
			// and its keys are of no use.
			os.Remove(path)
		} else if saved {
			fmt.Fprintf(stderr, "The keystore %s was kept: the server may have activated the device.\n", path)
			fmt.Fprintf(stderr, "If `assent device run` fails to authenticate, move it away and enroll with a new code.\n")
		}
		return enrollError(err)
	}
	defer id.Destroy()
	fmt.Fprintf(stdout, "Enrolled device %s for user %s (device key id %s).\n", id.DeviceID, id.UserID, threshold.FormatKeyID(id.DeviceKeyID))
	if id.State == device.StateRecoveryPending {
		fmt.Fprintf(stdout, "This is a recovery while another device of the user is active: it becomes active in 24 hours\n")
		fmt.Fprintf(stdout, "unless an active device cancels it (assent device cancel %s).\n", id.DeviceID)
	}
	fmt.Fprintf(stdout, "Keystore: %s\n", path)
	fmt.Fprintf(stdout, "Next: make a recovery kit (assent device recovery-kit --threshold 2 --shares 3),\n")
	fmt.Fprintf(stdout, "then answer requests with `assent device run`.\n")
	return nil
}

// enrollment is what an enrollment needs before it calls the server.
type enrollment struct {
	keystore, name string
	client         *device.Client
	pass           []byte // the caller clears it
}

// startEnroll checks that no keystore (nor, with extra, those files)
// exists, defaults the name to the host name, makes the client and asks for
// the new keystore's passphrase twice.
func startEnroll(sf *storeFlags, serverURL, name string, stderr io.Writer, extra ...string) (*enrollment, error) {
	path, err := sf.keystorePath()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("a keystore exists at %s: this device is enrolled already (move it away to enroll again)", path)
	}
	for _, p := range extra {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s exists: this device holds a ledger or audit head already (move it away to enroll again)", p)
		}
	}
	if name == "" {
		name, _ = os.Hostname()
	}
	client, err := device.NewClient(serverURL, nil, device.ClientOptions{InsecureHTTP: sf.insecureHTTP})
	if err != nil {
		return nil, fmt.Errorf("%w: --server: %v", errUsage, err)
	}
	pass, err := sf.passphrase(stderr, true)
	if err != nil {
		return nil, err
	}
	return &enrollment{keystore: path, name: name, client: client, pass: pass}, nil
}

func deviceRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device run", stderr)
	var sf storeFlags
	sf.register(fs, true, true)
	auto := fs.Bool("auto-approve", false, "approve every request that passes the checks, without asking (scripts and tests only)")
	perMinute := fs.Int("max-per-minute", 30, "deny automatically past `N` requests in a minute (0: no limit)")
	maxLifetime := fs.Duration("max-lifetime", device.DefaultMaxLifetime, "refuse requests whose lifetime is longer than `duration`")
	requireMatch := fs.Bool("require-match", false, "to approve, type the two-digit code the requester shows; a wrong code denies the request")
	auditEvery := fs.Duration("audit-interval", 10*time.Minute, "verify the audit chain and pin its head every `duration` (it is also done at start; 0: only at start)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *auditEvery < 0 {
		return fmt.Errorf("%w: --audit-interval must not be negative", errUsage)
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *perMinute < 0 {
		return fmt.Errorf("%w: --max-per-minute must not be negative", errUsage)
	}
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return err
	}
	defer id.Destroy()
	st, err := sf.storage()
	if err != nil {
		return err
	}
	defer st.Close()
	ledgerPath := st.Paths().Ledger
	ledger, err := device.OpenLedgerIn(ctx, st)
	if err != nil {
		return err
	}
	defer ledger.Close()
	if ledger.Repaired() {
		fmt.Fprintf(stderr, "The ledger ended in an incomplete line (a crash while writing); it was cut off. No answer was sent for it.\n")
	}
	client, err := device.NewClient(id.ServerURL, id, device.ClientOptions{InsecureHTTP: sf.insecureHTTP})
	if err != nil {
		return err
	}

	var out sync.Mutex // serialises stdout and stderr lines
	var policy device.Policy
	var addDevice func(context.Context, *device.Request, *device.AddDevice) (*device.Result, error)
	if *auto {
		fmt.Fprintln(stderr, "WARNING: --auto-approve approves every request that passes the device's checks without asking you.")
		fmt.Fprintln(stderr, "WARNING: use it only for scripts and tests. Access to records not in the ledger is still denied.")
		fmt.Fprintln(stderr, "Requests to add a device are never auto-approved: they are left for you (assent device add).")
		policy = autoPolicy(&out, stdout)
	} else {
		lines := newLineReader(deviceStdin)
		policy = terminalPolicy(&out, stdout, lines)
		addDevice = runAddDevice(&sf, id, client, ledger, &out, lines, stdout, stderr)
	}
	notify := func(n device.Notice) { out.Lock(); defer out.Unlock(); writeNotice(stdout, stderr, n) }
	agent, err := device.NewAgent(client, ledger, policy, device.AgentOptions{
		MaxPerMinute:  *perMinute,
		MaxLifetime:   *maxLifetime,
		RequireMatch:  *requireMatch,
		Notify:        notify,
		AuditInterval: *auditEvery,
		AddDevice:     addDevice,
	})
	if err != nil {
		return err
	}
	// The history is checked before any request is answered: a create of a
	// record the chain shows approved is refused, and a rewritten chain
	// stops the agent.
	h, err := agent.VerifyHistory(ctx)
	if h != nil {
		for i := range h.Findings {
			notify(device.Notice{Kind: device.NoticeFinding, Finding: &h.Findings[i]})
		}
	}
	switch {
	case errors.Is(err, device.ErrHistory):
		return &exitError{code: exitAuditBroken, err: fmt.Errorf("REWRITTEN: %w\n%s", err, rewrittenAdvice)}
	case err != nil:
		fmt.Fprintf(stderr, "The audit chain could not be checked (%v); trying again later.\n", err)
	default:
		fmt.Fprintf(stderr, "Audit chain verified up to entry %d and pinned.\n", headSeq(h))
	}
	fmt.Fprintf(stderr, "Device %s of user %s, server %s; ledger %s. Waiting for requests (Ctrl-C to stop).\n",
		id.DeviceID, id.UserID, id.ServerURL, ledgerPath)
	err = agent.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func writeNotice(stdout, stderr io.Writer, n device.Notice) {
	switch n.Kind {
	case device.NoticeConnected:
		fmt.Fprintln(stderr, "Connected; listing pending requests.")
	case device.NoticeDisconnected:
		fmt.Fprintf(stderr, "Disconnected (%v); reconnecting in %s.\n", n.Err, n.Retry.Round(100*time.Millisecond))
	case device.NoticeAnswered:
		r := n.Result
		how := ""
		switch r.DecidedBy {
		case device.DecidedByRateLimit:
			how = " automatically: too many requests in a minute"
		case device.DecidedByMatch:
			how = ": the code typed is not the request's match code"
		}
		fmt.Fprintf(stdout, "Request %s: %s%s; the server says %s.\n", r.RequestID, r.Decision, how, device.Quote(r.State))
	case device.NoticeAddDevice:
		a := n.AddDevice
		fmt.Fprintf(stdout, "Request %s: add device %s (named %s) to your devices. Not answered here (never auto-approved):\n",
			a.RequestID, a.DeviceID, device.Quote(a.Name))
		fmt.Fprintf(stdout, "  run `assent device add PAIRING-STRING` with the pairing string the new device shows.\n")
	case device.NoticeRefused:
		fmt.Fprintf(stderr, "REFUSED %v\n", n.Err)
	case device.NoticeFinding:
		label := "ALERT"
		if n.Finding.Breaks() {
			label = "REWRITTEN"
		}
		fmt.Fprintf(stderr, "AUDIT %s %s\n", label, n.Finding)
	case device.NoticeHistory:
		if errors.Is(n.Err, device.ErrHistory) {
			fmt.Fprintf(stderr, "AUDIT REWRITTEN %v\n%s\n", n.Err, rewrittenAdvice)
		} else {
			fmt.Fprintf(stderr, "The audit chain could not be checked: %v\n", n.Err)
		}
	default:
		fmt.Fprintf(stderr, "Error: %v\n", n.Err)
	}
}

// autoPolicy approves what passed the checks, except an access to a record
// the ledger does not know or describes differently. Where the device
// requires number matching, it types the match code the device computes.
func autoPolicy(out *sync.Mutex, stdout io.Writer) device.Policy {
	return func(_ context.Context, p *device.Prompt) (device.Decision, error) {
		out.Lock()
		defer out.Unlock()
		if p.Kind == threshold.KindAccess && (p.UnknownToLedger && p.KnownFromChain == nil || p.Mismatch) {
			fmt.Fprintf(stdout, "Request %s: access to a record not as in the ledger; denying.\n", p.RequestID)
			return device.Deny, nil
		}
		if p.RequireMatch {
			p.MatchTyped = p.MatchCode()
		}
		fmt.Fprintf(stdout, "Request %s: %s of record %s by %s, auto-approved.\n",
			p.RequestID, p.Kind, p.RecordID, device.Quote(p.Requester.Name))
		return device.Approve, nil
	}
}

// terminalPolicy shows each prompt and reads y/N; anything but y or yes
// denies, and no answer before the request expires leaves it unanswered.
// Where the device requires number matching it asks instead for the code
// the requester shows: an empty line, n or no denies, anything else is
// taken as the code (a wrong one denies, as a failed match).
func terminalPolicy(out *sync.Mutex, stdout io.Writer, lines *lineReader) device.Policy {
	return func(ctx context.Context, p *device.Prompt) (device.Decision, error) {
		out.Lock()
		lines.drain()
		device.WritePrompt(stdout, p, time.Now())
		if p.RequireMatch {
			fmt.Fprint(stdout, "To approve, type the 2-digit code the requester shows (Enter denies): ")
		} else {
			fmt.Fprint(stdout, "Approve? [y/N] ")
		}
		out.Unlock()
		line, err := lines.next(ctx)
		if err != nil {
			fmt.Fprintf(stdout, "\nNo answer (%v); request %s left unanswered.\n", err, p.RequestID)
			return "", err
		}
		answer := strings.ToLower(strings.TrimSpace(line))
		if p.RequireMatch {
			switch answer {
			case "", "n", "no":
				return device.Deny, nil
			}
			p.MatchTyped = answer
			return device.Approve, nil
		}
		switch answer {
		case "y", "yes":
			return device.Approve, nil
		}
		return device.Deny, nil
	}
}

// lineReader reads lines in its own goroutine, so that a prompt can give up
// when its request expires.
type lineReader struct {
	lines chan string
	err   chan error
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 16), err: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lr.lines <- sc.Text()
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		lr.err <- fmt.Errorf("standard input: %w", err)
	}()
	return lr
}

// drain drops lines typed while no question was asked.
func (lr *lineReader) drain() {
	for {
		select {
		case <-lr.lines:
		default:
			return
		}
	}
}

func (lr *lineReader) next(ctx context.Context) (string, error) {
	select {
	case l := <-lr.lines:
		return l, nil
	case err := <-lr.err:
		lr.err <- err // every later prompt fails the same way
		// The reader sends every line before its error: a line still
		// waiting was typed before the end, and is the answer (select
		// picks among ready cases at random).
		select {
		case l := <-lr.lines:
			return l, nil
		default:
		}
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func deviceLedger(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device ledger", stderr)
	var sf storeFlags
	sf.register(fs, true, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	path, err := sf.ledgerPath()
	if err != nil {
		return err
	}
	entries, err := device.ReadLedger(path)
	if err != nil {
		return err
	}
	return device.WriteLedger(stdout, entries)
}

// Exit codes of `assent device audit` (and of `device run` when the chain
// is rewritten at start), beyond 0 (verified, nothing unexpected), 1 (the
// check could not run: keystore, network, server error) and 2 (usage).
const (
	exitAuditBroken = 3 // the chain is broken or rewritten, or contradicts the ledger: nothing pinned
	exitAuditAlerts = 4 // the chain verifies and is pinned, but shows events this device did not expect
)

const rewrittenAdvice = `The server's audit history does not match what this device verified before: entries were
removed, changed or hashed again, or an answer this device gave is missing or altered. Do not
trust this server's records; keep the ledger and the head file (they are the evidence), and tell
the operator. The head stays pinned where it was.`

func headSeq(h *device.History) int64 {
	if h == nil || h.Head == nil {
		return 0
	}
	return h.Head.Seq
}

func deviceAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device audit", stderr)
	var sf storeFlags
	sf.register(fs, true, true)
	all := fs.Bool("all", false, "report alerts for the whole chain, not only for entries after the pinned head")
	quiet := fs.Bool("quiet", false, "print the findings only, not every entry")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: assent device audit [flags]\n\n")
		fmt.Fprintf(fs.Output(), "Fetches the user's audit chain, verifies every link, checks that it extends the head this\n")
		fmt.Fprintf(fs.Output(), "device pinned before and that every answer of the ledger is in it unchanged, reports what\n")
		fmt.Fprintf(fs.Output(), "it did not expect (devices enrolled, revoked or suspended; answers by other devices), and\n")
		fmt.Fprintf(fs.Output(), "pins the chain's last entry.\n\nExit codes:\n")
		fmt.Fprintf(fs.Output(), "  0  verified and pinned; nothing unexpected\n")
		fmt.Fprintf(fs.Output(), "  1  the check could not run (keystore, network, server error)\n")
		fmt.Fprintf(fs.Output(), "  2  usage\n")
		fmt.Fprintf(fs.Output(), "  3  BROKEN or REWRITTEN: the chain does not verify, does not extend the pinned head, or\n")
		fmt.Fprintf(fs.Output(), "     contradicts the ledger; nothing is pinned\n")
		fmt.Fprintf(fs.Output(), "  4  verified and pinned, with ALERTS: events this device did not expect\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return err
	}
	defer id.Destroy()
	st, err := sf.storage()
	if err != nil {
		return err
	}
	defer st.Close()
	// Read without the lock, so that audit runs beside `device run`.
	var entries []*device.Entry
	if _, err := os.Stat(st.Paths().Ledger); err == nil {
		if entries, err = device.ReadLedger(st.Paths().Ledger); err != nil {
			return err
		}
	}
	client, err := device.NewClient(id.ServerURL, id, device.ClientOptions{InsecureHTTP: sf.insecureHTTP})
	if err != nil {
		return err
	}
	chainErr := func() error {
		h, err := device.VerifyHistory(ctx, client, st, entries, device.HistoryOptions{All: *all})
		if h != nil {
			writeHistory(stdout, h, *quiet, err == nil)
		}
		if err == nil && len(h.Alerts()) > 0 {
			return &exitError{code: exitAuditAlerts, err: fmt.Errorf("%w: %d", errAuditAlerts, len(h.Alerts()))}
		}
		return err
	}()
	if errors.Is(chainErr, device.ErrHistory) {
		return &exitError{code: exitAuditBroken, err: fmt.Errorf("REWRITTEN: %w\n%s", chainErr, rewrittenAdvice)}
	}
	return chainErr
}

// errAuditAlerts: the chain verified, with alerts.
var errAuditAlerts = errors.New("the audit chain verifies, but shows events this device did not expect (ALERT lines above)")

// writeHistory prints the chain (unless quiet) and what VerifyHistory
// found; pinned says the head was pinned.
func writeHistory(w io.Writer, h *device.History, quiet, pinned bool) {
	if !quiet {
		for _, e := range h.Chain {
			fmt.Fprintf(w, "%5d  %s  %-20s %s %s\n", e.Seq, e.At.UTC().Format(time.RFC3339), e.Event, device.Quote(e.Actor), device.Quote(e.Subject))
		}
	}
	for _, f := range h.Findings {
		label := "ALERT"
		if f.Breaks() {
			label = "REWRITTEN"
		}
		fmt.Fprintf(w, "%-9s %s\n", label, f) // every server string in it is quoted
	}
	prev := "no head was pinned before"
	if h.Previous != nil {
		prev = "it extends the head pinned before (" + h.Previous.String() + ")"
	}
	if pinned {
		fmt.Fprintf(w, "%d entries; the chain verifies and %s; pinned entry %d.\n", len(h.Chain), prev, headSeq(h))
	}
}

func deviceRecoveryKit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device recovery-kit", stderr)
	var sf storeFlags
	sf.register(fs, false, false)
	t := fs.Int("threshold", 0, "how many shares rebuild the device share (`T`, at least 2)")
	n := fs.Int("shares", 0, "how many shares to print (`N`, T to 255)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *t < 2 || *n < *t || *n > 255 {
		return fmt.Errorf("%w: need 2 <= --threshold <= --shares <= 255", errUsage)
	}
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return err
	}
	defer id.Destroy()
	shares, err := threshold.SplitRecovery(rand.Reader, id.OPRFKey, *t, *n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Recovery kit for device key %s (user %s): any %d of these %d shares rebuild\n", id.DeviceKeyID, id.UserID, *t, *n)
	fmt.Fprintf(stdout, "this device's share, which every record you approved needs. Write each on its own\n")
	fmt.Fprintf(stdout, "sheet and keep them in %d separate places; fewer than %d reveal nothing. They are\n", *n, *t)
	fmt.Fprintf(stdout, "shown once. To rebuild: assent device recover, then type %d shares, one per line.\n\n", *t)
	for i, s := range shares {
		fmt.Fprintf(stdout, "share %d of %d: %s\n", i+1, *n, s)
	}
	return nil
}

func deviceRecover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("device recover", stderr)
	var sf storeFlags
	sf.register(fs, false, true)
	serverURL := fs.String("server", "", "with --code: enroll a new device with the recovered share at `URL`")
	code := codeFlag(fs, "enrollment `code` for the new device")
	name := fs.String("name", "", "device `name` for the new device")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *serverURL != "" && *code == "" {
		*code = os.Getenv(envEnrollmentCode)
	}
	if (*serverURL == "") != (*code == "") {
		return fmt.Errorf("%w: give both --server and --code, or neither", errUsage)
	}
	path, err := sf.keystorePath()
	if err != nil {
		return err
	}
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if !exists && *code == "" {
		return fmt.Errorf("%w: no keystore at %s; to enroll a new device with the recovered share, give --server and --code", errUsage, path)
	}
	if exists && *code != "" {
		return fmt.Errorf("a keystore exists at %s: move it away to enroll a new device", path)
	}
	shares, err := readShares(deviceStdin)
	if err != nil {
		return err
	}
	key, err := threshold.Recover(shares)
	if err != nil {
		return err
	}
	defer key.Destroy()
	keyID := threshold.DeviceKeyID(key.Public().Bytes())
	if !exists {
		fmt.Fprintf(stdout, "Recovered device key %s; enrolling it as a new device.\n", keyID)
		return enrollDevice(ctx, &sf, *serverURL, *code, *name, key, stdout, stderr)
	}
	id, err := sf.openIdentity(stderr)
	if err != nil {
		return err
	}
	defer id.Destroy()
	if !key.Public().Equal(id.OPRFKey.Public()) {
		return fmt.Errorf("%w: the shares rebuild key %s, this device holds %s", device.ErrKeyMismatch, keyID, id.DeviceKeyID)
	}
	fmt.Fprintf(stdout, "The shares rebuild this device's share (device key %s): the kit is good.\n", keyID)
	return nil
}

// readShares reads recovery shares, one per line; blank lines and lines
// starting with # are skipped.
func readShares(r io.Reader) ([]string, error) {
	var shares []string
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(shares) == 255 {
			return nil, errors.New("more than 255 shares")
		}
		// Accept lines copied whole from the kit.
		if _, rest, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(line, "share ") {
			line = rest
		}
		shares = append(shares, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading shares: %w", err)
	}
	if len(shares) == 0 {
		return nil, errors.New("no shares on standard input (one per line)")
	}
	return shares, nil
}
