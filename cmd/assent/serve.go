package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/server/push"
)

func init() {
	register("serve", "run the Assent server", runServe)
}

// envFlags defines flags whose default comes from an ASSENT_* variable, so
// that a flag wins over the variable, which wins over the built-in default.
// A variable that does not parse is reported once flags are defined.
type envFlags struct {
	fs  *flag.FlagSet
	err error
}

func (e *envFlags) lookup(env string) (string, bool) {
	v, ok := os.LookupEnv(env)
	return v, ok && v != ""
}

func (e *envFlags) badEnv(env, v string, err error) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: $%s=%q: %v", errUsage, env, v, err)
	}
}

func (e *envFlags) str(p *string, name, env, usage string) {
	if v, ok := e.lookup(env); ok {
		*p = v
	}
	e.fs.StringVar(p, name, *p, usage+" ($"+env+")")
}

// secretStr is str without showing the variable's value as the default in
// -h.
func (e *envFlags) secretStr(p *string, name, env, usage string) {
	e.fs.StringVar(p, name, "", usage+" ($"+env+", preferred: flags show in the process list)")
	if v, ok := e.lookup(env); ok {
		*p = v
	}
}

func (e *envFlags) duration(p *time.Duration, name, env, usage string) {
	if v, ok := e.lookup(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.badEnv(env, v, err)
		}
		*p = d
	}
	e.fs.DurationVar(p, name, *p, usage+" ($"+env+")")
}

func (e *envFlags) integer(p *int, name, env, usage string) {
	if v, ok := e.lookup(env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.badEnv(env, v, err)
		}
		*p = n
	}
	e.fs.IntVar(p, name, *p, usage+" ($"+env+")")
}

// size defines a byte-size flag: a whole number with an optional unit
// (256MiB, 1GiB, 1000000; see byteSize).
func (e *envFlags) size(p *int64, name, env, usage string) {
	if v, ok := e.lookup(env); ok {
		var b byteSize
		if err := b.Set(v); err != nil {
			e.badEnv(env, v, err)
		}
		*p = int64(b)
	}
	e.fs.Var((*byteSize)(p), name, usage+" ($"+env+")")
}

func (e *envFlags) boolean(p *bool, name, env, usage string) {
	if v, ok := e.lookup(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			e.badEnv(env, v, err)
		}
		*p = b
	}
	e.fs.BoolVar(p, name, *p, usage+" ($"+env+")")
}

func (e *envFlags) float(p *float64, name, env, usage string) {
	if v, ok := e.lookup(env); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			e.badEnv(env, v, err)
		}
		*p = f
	}
	e.fs.Float64Var(p, name, *p, usage+" ($"+env+")")
}

// alias defines flag name and variable env as second spellings of the
// string flag primary (already defined on p, read from primaryEnv), with the
// same precedence: a flag wins over a variable. Setting both variables to
// different values is a usage error; the values are not quoted, since they
// may hold credentials.
func (e *envFlags) alias(p *string, name, env, primary, primaryEnv string) {
	if v, ok := e.lookup(env); ok {
		if pv, set := e.lookup(primaryEnv); set && pv != v && e.err == nil {
			e.err = fmt.Errorf("%w: $%s and $%s differ; set one", errUsage, env, primaryEnv)
		}
		*p = v
	}
	e.fs.Func(name, "same as -"+primary+" ($"+env+")", func(v string) error {
		*p = v
		return nil
	})
}

// backendFlags defines the flags that choose and reach the store, which
// `assent serve` and `assent admin` share. The store URI has three
// spellings: -store-uri, -mongodb-uri and -postgres-url ($ASSENT_STORE_URI,
// $ASSENT_MONGODB_URI, $ASSENT_POSTGRES_URL); the MongoDB database two:
// -store-database / -mongodb-database ($ASSENT_STORE_DATABASE /
// $ASSENT_MONGODB_DATABASE).
func backendFlags(e *envFlags, cfg *server.Config) {
	e.str(&cfg.DataDir, "data-dir", "ASSENT_DATA_DIR", "`directory` of the database, blobs and master key")
	e.str(&cfg.Store, "store", "ASSENT_STORE", "store: sqlite, mongodb or postgres")
	e.secretStr(&cfg.StoreURI, "store-uri", "ASSENT_STORE_URI", "MongoDB connection `URI` or PostgreSQL URL (store mongodb or postgres)")
	e.alias(&cfg.StoreURI, "mongodb-uri", "ASSENT_MONGODB_URI", "store-uri", "ASSENT_STORE_URI")
	e.alias(&cfg.StoreURI, "postgres-url", "ASSENT_POSTGRES_URL", "store-uri", "ASSENT_STORE_URI")
	e.str(&cfg.StoreDatabase, "store-database", "ASSENT_STORE_DATABASE", "MongoDB database `name`")
	e.alias(&cfg.StoreDatabase, "mongodb-database", "ASSENT_MONGODB_DATABASE", "store-database", "ASSENT_STORE_DATABASE")
}

// serveConfig parses the flags and environment of `assent serve` into a
// server.Config with its defaults applied and validated.
func serveConfig(args []string, stderr io.Writer) (server.Config, error) {
	cfg := server.DefaultConfig()
	fs := newFlagSet("serve", stderr)
	e := &envFlags{fs: fs}
	e.str(&cfg.Listen, "listen", "ASSENT_LISTEN", "TCP `address` to listen on")
	e.str(&cfg.MetricsListen, "metrics-listen", "ASSENT_METRICS_LISTEN", "TCP `address` of a Prometheus /metrics listener (default: none)")
	backendFlags(e, &cfg)
	e.str(&cfg.Blobs, "blobs", "ASSENT_BLOBS", "blob store: dir, gridfs (store mongodb; its default there) or postgres (store postgres; its default there)")
	e.str(&cfg.BlobDir, "blob-dir", "ASSENT_BLOB_DIR", "blob `directory` (default <data-dir>/blobs)")
	e.str(&cfg.MasterKeyPath, "master-key", "ASSENT_MASTER_KEY", "master key `file`, made on first start with store sqlite only (default <data-dir>/master.key)")
	e.str(&cfg.TLSCert, "tls-cert", "ASSENT_TLS_CERT", "TLS certificate PEM `file` (with -tls-key: serve HTTPS)")
	e.str(&cfg.TLSKey, "tls-key", "ASSENT_TLS_KEY", "TLS private key PEM `file`")
	e.str(&cfg.PublicURL, "public-url", "ASSENT_PUBLIC_URL", "`URL` clients and devices use to reach this server")
	e.str(&cfg.NodeID, "node-id", "ASSENT_NODE_ID", "name of this API node: unique among the nodes sharing a store, and kept across its restarts")
	e.boolean(&cfg.SingleNode, "single-node", "ASSENT_SINGLE_NODE", "this node is the only one using its store: keep device nonces in memory (never with nodes sharing a store)")
	e.duration(&cfg.ApprovalTTL, "approval-ttl", "ASSENT_APPROVAL_TTL", "how long a request waits for the device")
	e.duration(&cfg.SessionTTL, "session-ttl", "ASSENT_SESSION_TTL", "how long an approved access session stays open")
	e.integer(&cfg.DownloadsPerSession, "downloads", "ASSENT_DOWNLOADS", "downloads per access session")
	e.size(&cfg.MaxUploadSize, "max-upload", "ASSENT_MAX_UPLOAD", "upload cap in bytes, or a `size` with a unit: 256MiB, 1GiB")
	e.duration(&cfg.UploadDeadline, "upload-deadline", "ASSENT_UPLOAD_DEADLINE", "how long a record may wait for its upload")
	e.float(&cfg.UserRate, "user-rate", "ASSENT_USER_RATE", "device requests per second per user (negative: no limit)")
	e.integer(&cfg.UserBurst, "user-burst", "ASSENT_USER_BURST", "burst of device requests per user")
	e.float(&cfg.RequesterRate, "requester-rate", "ASSENT_REQUESTER_RATE", "device requests per second per third party (negative: no limit)")
	e.integer(&cfg.RequesterBurst, "requester-burst", "ASSENT_REQUESTER_BURST", "burst of device requests per third party")
	e.integer(&cfg.MaxPendingPerUser, "max-pending", "ASSENT_MAX_PENDING", "cap on requests waiting for one user's device")
	e.integer(&cfg.MaxPendingPerRequester, "max-pending-per-requester", "ASSENT_MAX_PENDING_PER_REQUESTER", "cap on one third party's requests waiting for one user's device (below -max-pending)")
	e.float(&cfg.UserRequesterRate, "user-requester-rate", "ASSENT_USER_REQUESTER_RATE", "device requests per second per (user, third party) (below -user-rate; negative: no limit)")
	e.integer(&cfg.UserRequesterBurst, "user-requester-burst", "ASSENT_USER_REQUESTER_BURST", "burst of device requests per (user, third party) (below -user-burst)")
	e.float(&cfg.EnrollRate, "enroll-rate", "ASSENT_ENROLL_RATE", "enrollment calls per second per client address (negative: no limit)")
	e.integer(&cfg.EnrollBurst, "enroll-burst", "ASSENT_ENROLL_BURST", "burst of enrollment calls per client address")
	e.float(&cfg.CreateRate, "create-rate", "ASSENT_CREATE_RATE", "records created per second per third party (negative: no limit)")
	e.integer(&cfg.CreateBurst, "create-burst", "ASSENT_CREATE_BURST", "burst of records created per third party")
	e.size(&cfg.UploadMinBytes, "upload-min-bytes", "ASSENT_UPLOAD_MIN_BYTES", "`size` an upload must bring in every -upload-window, or be cut off")
	e.duration(&cfg.UploadWindow, "upload-window", "ASSENT_UPLOAD_WINDOW", "window of the upload minimum rate")
	e.integer(&cfg.MaxLongPollsPerClient, "max-long-polls", "ASSENT_MAX_LONG_POLLS", "cap on one third party's concurrent long polls (?wait=) on this node")
	e.str(&cfg.WebhookURL, "webhook-url", "ASSENT_WEBHOOK_URL", "push relay `URL` receiving signed {request_id} POSTs")
	// A flag or variable value is a string already (the flag package and
	// the environment hold it so); it becomes bytes at once.
	var webhookSecret string
	e.secretStr(&webhookSecret, "webhook-secret", "ASSENT_WEBHOOK_SECRET", "HMAC-SHA256 key of the webhook, at least 32 bytes")
	var webhookSecretFile string
	e.str(&webhookSecretFile, "webhook-secret-file", "ASSENT_WEBHOOK_SECRET_FILE", "read the webhook's HMAC-SHA256 key from `file` (first line; preferred)")
	e.str(&cfg.VAPIDKeyPath, "vapid-key", "ASSENT_VAPID_KEY", "Web Push VAPID key `file` (32-byte P-256 key, mode 0600), made on first start with store sqlite only (default <data-dir>/vapid.key)")
	e.str(&cfg.VAPIDSubject, "vapid-subject", "ASSENT_VAPID_SUBJECT", "VAPID contact: a mailto: or https: `URL` (default -public-url when https, else "+server.DefaultVAPIDSubject+")")
	e.boolean(&cfg.PushAllowLoopback, "push-allow-loopback", "ASSENT_PUSH_ALLOW_LOOPBACK", "accept Web Push endpoints on loopback, http too (tests and trials only)")
	appOrigins(e, &cfg)
	e.str(&cfg.LogFormat, "log-format", "ASSENT_LOG_FORMAT", "log format: json or text")
	e.str(&cfg.LogLevel, "log-level", "ASSENT_LOG_LEVEL", "log level: debug, info, warn or error")
	e.duration(&cfg.SweepInterval, "sweep-interval", "ASSENT_SWEEP_INTERVAL", "how often expired requests, records and sessions are ended")
	e.duration(&cfg.DrainTimeout, "drain-timeout", "ASSENT_DRAIN_TIMEOUT", "how long shutdown waits for answers already received to be processed")
	e.duration(&cfg.ShutdownTimeout, "shutdown-timeout", "ASSENT_SHUTDOWN_TIMEOUT", "how long in-flight requests get at shutdown")
	e.duration(&cfg.ReadTimeout, "read-timeout", "ASSENT_READ_TIMEOUT", "how long a request body may take to arrive (uploads: see -upload-min-bytes)")
	if e.err != nil {
		return cfg, e.err
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if webhookSecret != "" {
		cfg.WebhookSecret = []byte(webhookSecret)
	}
	if err := resolveWebhookSecret(e, &cfg, webhookSecretFile); err != nil {
		return cfg, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cfg, nil
}

// appOrigins defines -app-origin, repeatable, whose default is
// $ASSENT_APP_ORIGINS split at commas; any -app-origin replaces the
// variable's list.
func appOrigins(e *envFlags, cfg *server.Config) {
	if v, ok := e.lookup("ASSENT_APP_ORIGINS"); ok {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.AppOrigins = append(cfg.AppOrigins, o)
			}
		}
	}
	fromEnv := true
	e.fs.Func("app-origin", "web `origin` of the approval app allowed to call the API (CORS), e.g. https://app.example; repeatable ($ASSENT_APP_ORIGINS, comma-separated)", func(v string) error {
		if fromEnv {
			cfg.AppOrigins, fromEnv = nil, false
		}
		if err := server.CheckAppOrigin(v); err != nil {
			return err
		}
		cfg.AppOrigins = append(cfg.AppOrigins, v)
		return nil
	})
}

// resolveWebhookSecret settles where the webhook secret comes from: the
// value (-webhook-secret, $ASSENT_WEBHOOK_SECRET) or a file (file, from
// -webhook-secret-file or $ASSENT_WEBHOOK_SECRET_FILE), whose first line is
// read. A flag wins over a variable; both flags, or both variables and no
// flag, are a usage error. Errors never quote the secret.
func resolveWebhookSecret(e *envFlags, cfg *server.Config, file string) error {
	set := map[string]bool{}
	e.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	_, envValue := e.lookup("ASSENT_WEBHOOK_SECRET")
	_, envFile := e.lookup("ASSENT_WEBHOOK_SECRET_FILE")
	useFile := file != ""
	switch {
	case set["webhook-secret"] && set["webhook-secret-file"]:
		return fmt.Errorf("%w: give -webhook-secret or -webhook-secret-file, not both", errUsage)
	case set["webhook-secret"]:
		useFile = false
	case set["webhook-secret-file"]:
	case envValue && envFile:
		return fmt.Errorf("%w: $ASSENT_WEBHOOK_SECRET and $ASSENT_WEBHOOK_SECRET_FILE are both set; set one", errUsage)
	}
	if !useFile {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%w: webhook secret file: %v", errUsage, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return fmt.Errorf("%w: webhook secret file %s: %v", errUsage, file, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		secret.Clear(data)
		return fmt.Errorf("%w: webhook secret file %s is empty", errUsage, file)
	}
	secret.Clear(cfg.WebhookSecret)
	cfg.WebhookSecret = bytes.Clone(line)
	secret.Clear(data)
	return nil
}

// newLogger returns the logger cfg asks for, writing to w.
func newLogger(cfg server.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // checked by Validate
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == server.LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// reloadOnHangup reloads the TLS certificate on each SIGHUP (a renewed
// certificate is taken without a restart, so no pending request loses its
// secrets); without TLS a SIGHUP is logged and ignored rather than ending
// the process. It returns what stops listening.
func reloadOnHangup(ctx context.Context, srv *server.Server, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the TLS certificate")
				_ = srv.ReloadTLS() // logs its own failure; the certificate in use stays
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := serveConfig(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	var notifiers []push.Notifier
	if cfg.WebhookURL != "" {
		wh, err := push.NewWebhook(cfg.WebhookURL, cfg.WebhookSecret, nil)
		secret.Clear(cfg.WebhookSecret) // the webhook holds its own copy
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		defer wh.Close()
		notifiers = append(notifiers, wh)
	}
	n, err := node.Open(ctx, cfg, node.Options{Logger: log, Notifiers: notifiers, WebPush: true})
	if err != nil {
		return nodeError(err)
	}
	defer n.Close()
	if err := n.Listen(); err != nil {
		return err
	}
	if cfg.MetricsListen != "" {
		stop, err := serveMetrics(cfg.MetricsListen, n.Server.MetricsHandler(), stdout, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	url := cfg.PublicURL
	if url == "" {
		url = n.URL
	}
	stopHangup := reloadOnHangup(ctx, n.Server, log)
	defer stopHangup()
	fmt.Fprintf(stdout, "assent: serving on %s (data in %s)\n", url, cfg.DataDir)
	log.Info("serving", "url", url, "node_id", cfg.NodeID, "store", cfg.Store)
	if err := n.Serve(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// nodeError makes a configuration error of node.Open a usage error,
// printed as node gives it (without a second prefix).
func nodeError(err error) error {
	if errors.Is(err, node.ErrConfig) {
		return usageError{err}
	}
	return err
}

// usageError is errUsage with another error's message.
type usageError struct{ err error }

func (u usageError) Error() string   { return u.err.Error() }
func (u usageError) Unwrap() []error { return []error{errUsage, u.err} }
