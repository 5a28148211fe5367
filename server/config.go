package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/assent-dev/assent/server/push"
)

// ErrConfig is returned by New and Config.Validate for a setting out of
// range; the wrapping error names the setting.
var ErrConfig = errors.New("server: invalid configuration")

// Store and blob store kinds of Config.Store and Config.Blobs.
const (
	StoreSQLite   = "sqlite"
	StoreMongoDB  = "mongodb"
	StorePostgres = "postgres"
	BlobsDir      = "dir"
	BlobsGridFS   = "gridfs"
	// BlobsPostgres keeps ciphertext in chunk rows of the PostgreSQL store.
	BlobsPostgres = "postgres"
)

// MaxApprovalTTL is the longest Config.ApprovalTTL: the longest request
// lifetime (expires_at - created_at) the device agent accepts by default
// (device.DefaultMaxLifetime; `assent device run --max-lifetime`). A device
// refuses longer-lived requests because it judges a record id's freshness
// by the request's lifetime.
const MaxApprovalTTL = time.Hour

// Log formats of Config.LogFormat.
const (
	LogJSON = "json"
	LogText = "text"
)

// Config is the whole configuration of an Assent server. `assent serve`
// fills it from flags and ASSENT_* environment variables (a flag wins over
// the variable, which wins over the default); each field names both. New
// replaces every zero field by its default (see DefaultConfig), so a test
// sets only what it needs.
//
// The fields marked "wiring" choose what `assent serve` builds for Deps;
// New itself does not read them.
type Config struct {
	// Listen is the TCP address to serve on (-listen, ASSENT_LISTEN;
	// default "127.0.0.1:8080").
	Listen string
	// MetricsListen is the TCP address of the Prometheus metrics listener
	// (-metrics-listen, ASSENT_METRICS_LISTEN; empty: none). assent serve
	// serves Server.MetricsHandler there, apart from the API. Wiring.
	MetricsListen string
	// DataDir holds the SQLite database, the blob directory and the master
	// key (-data-dir, ASSENT_DATA_DIR; default "./assent-data"). Wiring.
	DataDir string
	// Store is "sqlite" (default), "mongodb" or "postgres" (-store,
	// ASSENT_STORE). Wiring.
	Store string
	// StoreURI is the MongoDB connection string when Store is "mongodb"
	// (-mongodb-uri or -store-uri, ASSENT_MONGODB_URI or ASSENT_STORE_URI),
	// the PostgreSQL URL when Store is "postgres" (-postgres-url or
	// -store-uri, ASSENT_POSTGRES_URL or ASSENT_STORE_URI); it may hold
	// credentials, so prefer the variable. Set with the SQLite store, it is
	// a configuration error. Wiring.
	StoreURI string
	// StoreDatabase is the MongoDB database (-mongodb-database or
	// -store-database, ASSENT_MONGODB_DATABASE or ASSENT_STORE_DATABASE;
	// default "assent"). Wiring.
	StoreDatabase string
	// Blobs is the blob store: "dir", a directory, "gridfs", GridFS in
	// the MongoDB store, or "postgres", chunk rows in the PostgreSQL store
	// (-blobs, ASSENT_BLOBS; default "gridfs" with store "mongodb" and
	// "postgres" with store "postgres", whose nodes may run on several
	// hosts and must all read every record's ciphertext, else "dir").
	// Wiring.
	Blobs string
	// BlobDir is the blob directory (-blob-dir, ASSENT_BLOB_DIR; default
	// <DataDir>/blobs). Wiring.
	BlobDir string
	// MasterKeyPath is the 32-byte master key file that wraps the users'
	// server shares (-master-key, ASSENT_MASTER_KEY; default
	// <DataDir>/master.key). With the embedded store it is made with mode
	// 0600 on first start; with a shared store (SharedStore) it must exist.
	// Its id is pinned in the store at first start, and a node with another
	// key refuses to start. Wiring.
	MasterKeyPath string
	// TLSCert and TLSKey are PEM files; with both set the server speaks
	// HTTPS only (-tls-cert, ASSENT_TLS_CERT, -tls-key, ASSENT_TLS_KEY).
	TLSCert, TLSKey string
	// PublicURL is the URL clients and devices use to reach this server,
	// printed at start (-public-url, ASSENT_PUBLIC_URL; default derived from
	// Listen).
	PublicURL string
	// NodeID names this API node; requests record it as their owner, the
	// node holding their pending secrets (-node-id, ASSENT_NODE_ID; default
	// "node-1"). Nodes sharing a store need distinct ids: a node acts on
	// the answers to requests of its id and, at start, expires those left
	// pending, so two live nodes of one id end each other's requests. A
	// node restarted under its id ends at once what its earlier run left.
	NodeID string
	// SingleNode says that this node is the only one using its store
	// (-single-node, ASSENT_SINGLE_NODE): the replay cache of device
	// signatures is then kept in memory rather than written to the store
	// on every signed device call (DESIGN.md, "Scale-out"). Never set it
	// for nodes that share a store: a nonce spent on one node would be
	// accepted again by another.
	SingleNode bool

	// ApprovalTTL is how long a device request waits for an answer
	// (-approval-ttl, ASSENT_APPROVAL_TTL; default 10m; 1s to
	// MaxApprovalTTL, 1h, the device agent's default limit).
	ApprovalTTL time.Duration
	// SessionTTL is how long an approved access session stays open
	// (-session-ttl, ASSENT_SESSION_TTL; default 15m).
	SessionTTL time.Duration
	// DownloadsPerSession is how many times an open session's content can
	// be downloaded (-downloads, ASSENT_DOWNLOADS; default 1).
	DownloadsPerSession int
	// MaxUploadSize caps a record's plaintext in bytes; a larger upload is
	// cut off mid-stream with 413 (-max-upload, ASSENT_MAX_UPLOAD; default
	// 256 MiB).
	MaxUploadSize int64
	// UploadDeadline is how long a record may wait for its upload before
	// the sweeper expires it (-upload-deadline, ASSENT_UPLOAD_DEADLINE;
	// default 24h).
	UploadDeadline time.Duration

	// UserRate and UserBurst limit the requests that reach one user's
	// device (uploads and access requests), as a token bucket of UserBurst
	// tokens refilled at UserRate per second (-user-rate, ASSENT_USER_RATE,
	// default 0.2; -user-burst, ASSENT_USER_BURST, default 10). A negative
	// rate disables the limit.
	UserRate  float64
	UserBurst int
	// RequesterRate and RequesterBurst do the same per third party
	// (-requester-rate, ASSENT_REQUESTER_RATE, default 5; -requester-burst,
	// ASSENT_REQUESTER_BURST, default 50).
	RequesterRate  float64
	RequesterBurst int
	// MaxPendingPerUser caps the requests waiting for one user's device
	// (-max-pending, ASSENT_MAX_PENDING; default 16). It is a soft cap: the
	// count of pending requests is read from the store and the new request
	// written after, without a lock, so requests admitted at the same moment
	// (on one node or several) may overshoot it by their number.
	MaxPendingPerUser int
	// MaxPendingPerRequester caps the requests of one third party waiting
	// for one user's device (-max-pending-per-requester,
	// ASSENT_MAX_PENDING_PER_REQUESTER; default 4, below MaxPendingPerUser
	// so that one requester cannot fill the user's cap). Soft, as
	// MaxPendingPerUser.
	MaxPendingPerRequester int
	// UserRequesterRate and UserRequesterBurst limit the requests of one
	// third party to one user's device, as UserRate and UserBurst do for
	// all of them (-user-requester-rate, ASSENT_USER_REQUESTER_RATE,
	// default 0.1; -user-requester-burst, ASSENT_USER_REQUESTER_BURST,
	// default 4): below the user's, so that one requester spending its
	// share leaves tokens to the others. A negative rate disables it.
	UserRequesterRate  float64
	UserRequesterBurst int

	// EnrollRate and EnrollBurst limit the enrollment calls
	// (/v1/device/enroll and /v1/device/enroll/confirm, which need no
	// credential but the code or signature in their body) per client
	// address, before any store call (-enroll-rate, ASSENT_ENROLL_RATE,
	// default 1 per second; -enroll-burst, ASSENT_ENROLL_BURST, default
	// 20). An IPv6 address counts by its /64. Behind a proxy every client
	// has the proxy's address. A negative rate disables the limit.
	EnrollRate  float64
	EnrollBurst int
	// CreateRate and CreateBurst limit record creation per third party
	// (-create-rate, ASSENT_CREATE_RATE, default 10 per second;
	// -create-burst, ASSENT_CREATE_BURST, default 100): a record awaiting
	// its upload is kept for UploadDeadline. A negative rate disables it.
	CreateRate  float64
	CreateBurst int
	// UploadMinBytes and UploadWindow are the slowest upload kept: at least
	// UploadMinBytes of the body in every UploadWindow (-upload-min-bytes,
	// ASSENT_UPLOAD_MIN_BYTES, default 64 KiB; -upload-window,
	// ASSENT_UPLOAD_WINDOW, default 30s). A slower upload is cut off (400)
	// and its data key cleared, so that no client holds a goroutine, a
	// buffer and a key by trickling bytes.
	UploadMinBytes int64
	UploadWindow   time.Duration
	// MaxLongPollsPerClient caps the long polls (?wait=S) one third party
	// has open on this node at once; past it the answer is 429
	// (-max-long-polls, ASSENT_MAX_LONG_POLLS; default 32).
	MaxLongPollsPerClient int

	// WebhookURL, if set, receives a signed POST {"request_id"} for every
	// request (-webhook-url, ASSENT_WEBHOOK_URL). Wiring.
	WebhookURL string
	// WebhookSecret is the HMAC-SHA256 key of the webhook signature: the
	// first line of a file (-webhook-secret-file,
	// ASSENT_WEBHOOK_SECRET_FILE; preferred) or ASSENT_WEBHOOK_SECRET;
	// also -webhook-secret, which other users of the machine can see in the
	// process list. Wiring.
	// It is held as bytes, as every secret, never in JSON; clear it when
	// the webhook is made.
	WebhookSecret []byte `json:"-"`

	// VAPIDKeyPath is the Web Push application server key (RFC 8292), the
	// raw 32-byte P-256 private key (-vapid-key, ASSENT_VAPID_KEY; default
	// <DataDir>/vapid.key). With the embedded store it is made with mode
	// 0600 on first start; a shared store (SharedStore) never makes it,
	// since browsers bind subscriptions to one key that every node must
	// hold: without the file those nodes send no Web Push. A file open to
	// group or others is refused. Wiring.
	VAPIDKeyPath string
	// VAPIDSubject is the VAPID "sub" claim, a mailto: or https: URL by
	// which push services reach the operator (-vapid-subject,
	// ASSENT_VAPID_SUBJECT; default PublicURL when it is https, else
	// DefaultVAPIDSubject).
	VAPIDSubject string
	// PushAllowLoopback accepts Web Push endpoints on loopback addresses,
	// over http too, and lets the server dial them
	// (-push-allow-loopback, ASSENT_PUSH_ALLOW_LOOPBACK): for tests and
	// trials only. Otherwise endpoints are https on public addresses.
	PushAllowLoopback bool
	// AppOrigins are the web origins of the approval app allowed to call
	// the API from a browser (CORS; -app-origin, repeatable,
	// ASSENT_APP_ORIGINS comma-separated): each https://host[:port], or
	// http to a loopback host for trials (CheckAppOrigin). Empty: no
	// cross-origin call is allowed. The server never serves the app itself
	// (DESIGN.md "The approval app").
	AppOrigins []string

	// LogFormat is "json" (default) or "text" (-log-format,
	// ASSENT_LOG_FORMAT); LogLevel is debug, info (default), warn or error
	// (-log-level, ASSENT_LOG_LEVEL). Wiring.
	LogFormat string
	LogLevel  string

	// SweepInterval is how often expired requests, records and sessions
	// are ended (-sweep-interval, ASSENT_SWEEP_INTERVAL; default 5s).
	SweepInterval time.Duration
	// AnswerPollInterval is how often the node looks for answers to its
	// requests that reached another node (default 250ms).
	AnswerPollInterval time.Duration
	// PushPollInterval is how often the node lists the pending requests of
	// the users with an event stream here, to push those another node made
	// (default 1s). Each tick lists at most 256 users, round-robin.
	PushPollInterval time.Duration
	// LongPollInterval is how often a long poll rereads the store, to see
	// changes made by other nodes; changes made on this node wake it at
	// once (default 2s).
	LongPollInterval time.Duration
	// DrainTimeout bounds how long a graceful shutdown waits for the
	// answers already received to be processed (sealing, opening), after
	// the listener has closed and before the pending secrets are cleared
	// (-drain-timeout, ASSENT_DRAIN_TIMEOUT; default 10s).
	DrainTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown: in-flight requests get
	// this long to finish (-shutdown-timeout, ASSENT_SHUTDOWN_TIMEOUT;
	// default 15s).
	ShutdownTimeout time.Duration
	// ReadTimeout bounds how long a request body may take to arrive,
	// counted from the end of its headers (which ReadHeaderTimeout, 10s,
	// bounds): a client cannot hold a connection and a handler by sending
	// its body slowly (-read-timeout, ASSENT_READ_TIMEOUT; default 30s). A
	// record upload has a minimum rate instead (UploadMinBytes per
	// UploadWindow), so that a large upload on a slow link works. Requests
	// without a body (long polls, event streams) are not affected.
	ReadTimeout time.Duration
}

// DefaultVAPIDSubject is the VAPID subject when neither -vapid-subject
// nor an https -public-url gives one. Some push services refuse it; set
// -vapid-subject in production.
const DefaultVAPIDSubject = "mailto:assent@localhost"

// SharedStore reports whether the store may be shared by nodes on several
// hosts: every store but the embedded SQLite file. With a shared store a
// node never makes the master key (a node that made its own would wrap the
// shares of the users it creates under a key the other nodes lack), so
// the key file must be given (-master-key). A new store kind is shared
// unless it is added here as embedded.
func (c Config) SharedStore() bool { return c.Store != StoreSQLite }

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Listen:                 "127.0.0.1:8080",
		DataDir:                "./assent-data",
		Store:                  StoreSQLite,
		StoreDatabase:          "assent",
		NodeID:                 "node-1",
		ApprovalTTL:            10 * time.Minute,
		SessionTTL:             15 * time.Minute,
		DownloadsPerSession:    1,
		MaxUploadSize:          256 << 20,
		UploadDeadline:         24 * time.Hour,
		UserRate:               0.2,
		UserBurst:              10,
		RequesterRate:          5,
		RequesterBurst:         50,
		MaxPendingPerUser:      16,
		MaxPendingPerRequester: 4,
		UserRequesterRate:      0.1,
		UserRequesterBurst:     4,
		LogFormat:              LogJSON,
		LogLevel:               "info",
		SweepInterval:          5 * time.Second,
		AnswerPollInterval:     250 * time.Millisecond,
		PushPollInterval:       time.Second,
		ShutdownTimeout:        15 * time.Second,
		EnrollRate:             1,
		EnrollBurst:            20,
		CreateRate:             10,
		CreateBurst:            100,
		UploadMinBytes:         64 << 10,
		UploadWindow:           30 * time.Second,
		MaxLongPollsPerClient:  32,
		LongPollInterval:       2 * time.Second,
		DrainTimeout:           10 * time.Second,
		ReadTimeout:            30 * time.Second,
	}
}

// WithDefaults returns c with every zero field set to its default (see
// DefaultConfig), and BlobDir and MasterKeyPath derived from DataDir when
// unset.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.Listen, d.Listen)
	orDefault(&c.DataDir, d.DataDir)
	orDefault(&c.Store, d.Store)
	orDefault(&c.StoreDatabase, d.StoreDatabase)
	switch c.Store {
	case StoreMongoDB:
		orDefault(&c.Blobs, BlobsGridFS)
	case StorePostgres:
		orDefault(&c.Blobs, BlobsPostgres)
	}
	orDefault(&c.Blobs, BlobsDir)
	orDefault(&c.BlobDir, filepath.Join(c.DataDir, "blobs"))
	orDefault(&c.MasterKeyPath, filepath.Join(c.DataDir, "master.key"))
	orDefault(&c.VAPIDKeyPath, filepath.Join(c.DataDir, "vapid.key"))
	if u, err := url.Parse(c.PublicURL); c.VAPIDSubject == "" && err == nil && u.Scheme == "https" && u.Host != "" {
		c.VAPIDSubject = "https://" + u.Host
	}
	orDefault(&c.VAPIDSubject, DefaultVAPIDSubject)
	orDefault(&c.NodeID, d.NodeID)
	orDefault(&c.LogFormat, d.LogFormat)
	orDefault(&c.LogLevel, d.LogLevel)
	orDefault(&c.ApprovalTTL, d.ApprovalTTL)
	orDefault(&c.SessionTTL, d.SessionTTL)
	orDefault(&c.UploadDeadline, d.UploadDeadline)
	orDefault(&c.SweepInterval, d.SweepInterval)
	orDefault(&c.AnswerPollInterval, d.AnswerPollInterval)
	orDefault(&c.PushPollInterval, d.PushPollInterval)
	orDefault(&c.ShutdownTimeout, d.ShutdownTimeout)
	orDefault(&c.EnrollRate, d.EnrollRate)
	orDefault(&c.EnrollBurst, d.EnrollBurst)
	orDefault(&c.CreateRate, d.CreateRate)
	orDefault(&c.CreateBurst, d.CreateBurst)
	orDefault(&c.UploadMinBytes, d.UploadMinBytes)
	orDefault(&c.UploadWindow, d.UploadWindow)
	orDefault(&c.MaxLongPollsPerClient, d.MaxLongPollsPerClient)
	orDefault(&c.LongPollInterval, d.LongPollInterval)
	orDefault(&c.DrainTimeout, d.DrainTimeout)
	orDefault(&c.ReadTimeout, d.ReadTimeout)
	orDefault(&c.DownloadsPerSession, d.DownloadsPerSession)
	orDefault(&c.MaxUploadSize, d.MaxUploadSize)
	orDefault(&c.UserRate, d.UserRate)
	orDefault(&c.UserBurst, d.UserBurst)
	orDefault(&c.RequesterRate, d.RequesterRate)
	orDefault(&c.RequesterBurst, d.RequesterBurst)
	orDefault(&c.MaxPendingPerUser, d.MaxPendingPerUser)
	orDefault(&c.MaxPendingPerRequester, d.MaxPendingPerRequester)
	orDefault(&c.UserRequesterRate, d.UserRequesterRate)
	orDefault(&c.UserRequesterBurst, d.UserRequesterBurst)
	return c
}

// orDefault sets *v to def if *v is the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports the first setting out of range, wrapping ErrConfig. It
// checks c as given, so call it on a Config with its defaults applied (New
// does).
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.ApprovalTTL < time.Second:
		return bad("approval TTL %s is under a second", c.ApprovalTTL)
	case c.ApprovalTTL > MaxApprovalTTL:
		return bad("approval TTL %s is over %s, the longest request lifetime a device accepts by default (devices refuse such requests)", c.ApprovalTTL, MaxApprovalTTL)
	case c.SessionTTL < time.Second:
		return bad("session TTL %s is under a second", c.SessionTTL)
	case c.DownloadsPerSession < 1 || c.DownloadsPerSession > 1000:
		return bad("downloads per session %d outside 1..1000", c.DownloadsPerSession)
	case c.MaxUploadSize < 1:
		return bad("upload cap %d is not positive", c.MaxUploadSize)
	case c.UploadDeadline < time.Minute:
		return bad("upload deadline %s is under a minute", c.UploadDeadline)
	case c.UserBurst < 1 || c.RequesterBurst < 1 || c.UserRequesterBurst < 1 || c.EnrollBurst < 1 || c.CreateBurst < 1:
		return bad("rate limit bursts must be at least 1")
	case c.MaxPendingPerUser < 1 || c.MaxPendingPerRequester < 1:
		return bad("pending request caps %d and %d must be positive", c.MaxPendingPerUser, c.MaxPendingPerRequester)
	case c.SweepInterval <= 0 || c.AnswerPollInterval <= 0 || c.PushPollInterval <= 0 || c.ShutdownTimeout <= 0 || c.ReadTimeout <= 0 ||
		c.UploadWindow <= 0 || c.LongPollInterval <= 0 || c.DrainTimeout <= 0:
		return bad("intervals and timeouts must be positive")
	case c.UploadMinBytes < 1:
		return bad("upload minimum %d bytes per window is not positive", c.UploadMinBytes)
	case c.MaxLongPollsPerClient < 1:
		return bad("long poll cap %d is not positive", c.MaxLongPollsPerClient)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return bad("TLS needs both a certificate and a key")
	case c.NodeID == "" || len(c.NodeID) > 64:
		return bad("node id must be 1 to 64 bytes")
	case c.Store != StoreSQLite && c.Store != StoreMongoDB && c.Store != StorePostgres:
		return bad("store %q is not %q, %q or %q", c.Store, StoreSQLite, StoreMongoDB, StorePostgres)
	case c.Store != StoreSQLite && c.StoreURI == "":
		return bad("store %q needs a URI", c.Store)
	case c.Store == StoreSQLite && c.StoreURI != "":
		// Not ignored: a server meant for a shared database must not
		// start on a local SQLite file of its own.
		return bad("a store URI is set but the store is %q", c.Store)
	case c.Blobs != BlobsDir && c.Blobs != BlobsGridFS && c.Blobs != BlobsPostgres:
		return bad("blob store %q is not %q, %q or %q", c.Blobs, BlobsDir, BlobsGridFS, BlobsPostgres)
	case c.Blobs == BlobsGridFS && c.Store != StoreMongoDB:
		return bad("blob store %q needs store %q", BlobsGridFS, StoreMongoDB)
	case c.Blobs == BlobsPostgres && c.Store != StorePostgres:
		return bad("blob store %q needs store %q", BlobsPostgres, StorePostgres)
	case c.LogFormat != LogJSON && c.LogFormat != LogText:
		return bad("log format %q is neither %q nor %q", c.LogFormat, LogJSON, LogText)
	case (c.WebhookURL == "") != (len(c.WebhookSecret) == 0):
		return bad("a webhook needs both a URL and a secret")
	}
	for _, o := range c.AppOrigins {
		if err := CheckAppOrigin(o); err != nil {
			return err
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return bad("log level %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.VAPIDSubject != "" && push.CheckVAPIDSubject(c.VAPIDSubject) != nil {
		return bad("VAPID subject %q is not a mailto: address or an https: URL", c.VAPIDSubject)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("public URL %q is not an http(s) URL", c.PublicURL)
		}
	}
	return nil
}
