// Package node wires one Assent API node from a server.Config: the store
// it names (SQLite in the data directory, PostgreSQL or MongoDB; DESIGN.md
// "Storage"), the blob store, the server master key, the Web Push VAPID
// key, server.New, and a listener. It is the one place that does so, for
// `assent serve`, `assent demo`, the bench child and the e2e tests, so that
// what they run is the same server.
//
// The master key and the VAPID key are made on the first start of the
// embedded store only: with a shared store every node must hold the same
// keys, so they must exist (DESIGN.md "Keys", "Push").
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"

	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/blobdir"
	"github.com/assent-dev/assent/store/mongo"
	"github.com/assent-dev/assent/store/postgres"
	"github.com/assent-dev/assent/store/sqlite"
	"github.com/assent-dev/assent/threshold"
)

// ErrConfig is wrapped by Open when the configuration cannot be served as
// given (a missing key file with a shared store, a blob store that needs
// another store, an unusable VAPID key or subject); the message says what
// to change.
var ErrConfig = errors.New("configuration")

// Options are the parts of a node that are not in server.Config.
type Options struct {
	// Logger is the server's log (slog.Default when nil).
	Logger *slog.Logger
	// Notifiers are added to the server's push (a webhook, say).
	Notifiers []push.Notifier
	// WebPush loads (or with the embedded store makes) the VAPID key and
	// sends Web Push to the subscriptions devices register.
	WebPush bool
	// WrapStore, when set, wraps the store the server uses (the bench's
	// metering); Node.Store stays the store opened.
	WrapStore func(store.Store) store.Store
	// PostgresMaxConns caps the PostgreSQL pool (0: the driver's default).
	PostgresMaxConns int32
	// NoConsentBaseline turns on the bench's baseline route
	// (server.Deps.NoConsentBaseline); never in a real deployment.
	NoConsentBaseline bool
}

// Node is one API node: its server and what it runs on.
type Node struct {
	Server *server.Server
	Store  store.Store     // the store opened (not wrapped)
	Blobs  store.BlobStore // the blob store
	Config server.Config   // with defaults applied; Listen is the bound address once listening
	// URL is http(s)://host:port of the listener, once listening.
	URL string

	master  *threshold.MasterKey
	closers []func() error
	ln      net.Listener
	stop    context.CancelFunc
	done    chan error
}

// Open opens what cfg names and makes the server (server.New), neither
// started nor listening. Errors wrap ErrConfig for a configuration to
// change; nothing is left open after an error.
func Open(ctx context.Context, cfg server.Config, o Options) (_ *Node, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	n := &Node{Config: cfg}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	if err := n.openStores(ctx, o); err != nil {
		return nil, err
	}
	if n.master, err = loadMasterKey(cfg); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() error { n.master.Destroy(); return nil })
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	deps := server.Deps{Store: n.Store, Blobs: n.Blobs, MasterKey: n.master, Notifiers: o.Notifiers,
		Logger: log, NoConsentBaseline: o.NoConsentBaseline}
	if o.WrapStore != nil {
		deps.Store = o.WrapStore(n.Store)
	}
	if o.WebPush {
		if deps.WebPush, err = newWebPush(cfg, n.Store, log); err != nil {
			return nil, err
		}
	}
	if n.Server, err = server.New(cfg, deps); err != nil {
		return nil, err
	}
	n.closers = append(n.closers, n.Server.Close)
	return n, nil
}

// Listen binds Config.Listen and sets URL and Config.Listen to the bound
// address.
func (n *Node) Listen() error {
	ln, err := net.Listen("tcp", n.Config.Listen)
	if err != nil {
		return err
	}
	n.ln = ln
	n.Config.Listen = ln.Addr().String()
	scheme := "http"
	if n.Config.TLSCert != "" {
		scheme = "https"
	}
	n.URL = scheme + "://" + n.Config.Listen
	return nil
}

// Serve starts the server and serves on the listener (Listen first, if
// not yet) until ctx ends (server.Serve: a graceful shutdown), then closes
// what the node runs on.
func (n *Node) Serve(ctx context.Context) error {
	if n.ln == nil {
		if err := n.Listen(); err != nil {
			return errors.Join(err, n.Close())
		}
	}
	err := n.Server.Serve(ctx, n.ln)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return errors.Join(err, n.Close())
}

// Start starts the server (server.Start: leftovers of an earlier run
// expired) and serves in the background until Stop.
func (n *Node) Start(ctx context.Context) error {
	if err := n.Server.Start(ctx); err != nil {
		return err
	}
	if n.ln == nil {
		if err := n.Listen(); err != nil {
			return err
		}
	}
	ctx, n.stop = context.WithCancel(context.WithoutCancel(ctx))
	n.done = make(chan error, 1)
	go func() { n.done <- n.Server.Serve(ctx, n.ln) }()
	return nil
}

// Stop ends what Start began (a graceful shutdown) and closes what the
// node runs on. A new node may then open the same Config.
func (n *Node) Stop() error {
	var err error
	if n.stop != nil {
		n.stop()
		err = <-n.done
		n.stop = nil
	}
	return errors.Join(err, n.Close())
}

// Close closes the server and what it runs on, without serving. It is
// idempotent.
func (n *Node) Close() error {
	var err error
	for i := len(n.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, n.closers[i]())
	}
	n.closers = nil
	if n.ln != nil && n.stop == nil {
		n.ln.Close()
	}
	return err
}

// OpenStore opens the store cfg names (cfg with its defaults applied):
// SQLite in cfg.DataDir, or PostgreSQL or MongoDB at cfg.StoreURI, the
// PostgreSQL pool capped at maxConns (0: the driver's default). The caller
// closes it.
func OpenStore(ctx context.Context, cfg server.Config, maxConns int32) (store.Store, error) {
	switch cfg.Store {
	case server.StoreMongoDB:
		m, err := mongo.Open(ctx, cfg.StoreURI, cfg.StoreDatabase)
		if err != nil {
			return nil, fmt.Errorf("opening the MongoDB store: %w", err)
		}
		return m, nil
	case server.StorePostgres:
		p, err := postgres.Open(ctx, cfg.StoreURI, postgres.Options{MaxConns: maxConns})
		if err != nil {
			return nil, fmt.Errorf("opening the PostgreSQL store: %w", err)
		}
		return p, nil
	}
	s, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	return s, nil
}

// openStores opens the store and the blob store of n.Config.
func (n *Node) openStores(ctx context.Context, o Options) error {
	cfg := n.Config
	st, err := OpenStore(ctx, cfg, o.PostgresMaxConns)
	if err != nil {
		return err
	}
	n.Store = st
	n.closers = append(n.closers, n.Store.Close)
	// Validate refuses gridfs without mongodb and postgres blobs without
	// postgres; the checks here keep a wrong pair from panicking.
	switch cfg.Blobs {
	case server.BlobsGridFS:
		m, ok := n.Store.(*mongo.Store)
		if !ok {
			return fmt.Errorf("%w: blob store %s needs store %s", ErrConfig, server.BlobsGridFS, server.StoreMongoDB)
		}
		n.Blobs = m.Blobs()
	case server.BlobsPostgres:
		p, ok := n.Store.(*postgres.Store)
		if !ok {
			return fmt.Errorf("%w: blob store %s needs store %s", ErrConfig, server.BlobsPostgres, server.StorePostgres)
		}
		n.Blobs = p.Blobs()
	default:
		b, err := blobdir.Open(cfg.BlobDir)
		if err != nil {
			return fmt.Errorf("opening the blob directory: %w", err)
		}
		n.Blobs = b
		n.closers = append(n.closers, b.Close)
	}
	return nil
}

// loadMasterKey loads the master key, making it on the first start of an
// embedded store only: with a shared store (MongoDB, and any store but
// SQLite) a node that made its own key would wrap its users' shares under
// a key the other nodes lack, so the file must exist.
func loadMasterKey(cfg server.Config) (*threshold.MasterKey, error) {
	if !cfg.SharedStore() {
		mk, err := threshold.LoadOrCreateMasterKey(cfg.MasterKeyPath, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("loading the master key: %w", err)
		}
		return mk, nil
	}
	mk, err := threshold.LoadMasterKey(cfg.MasterKeyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; with a shared store (--store %s) every node must hold the same key, "+
			"so it is never made on start: give the key the other nodes use with --master-key (or $ASSENT_MASTER_KEY), or for a new deployment "+
			"make 32 random bytes once (umask 077; head -c 32 /dev/urandom > %s) and copy the file to every node",
			ErrConfig, cfg.MasterKeyPath, cfg.Store, cfg.MasterKeyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("loading the master key: %w", err)
	}
	return mk, nil
}

// newWebPush loads the VAPID key and makes the Web Push notifier. With the
// embedded store the key is made on first start, as the master key; a
// shared store never makes it (browsers bind subscriptions to the key, so
// every node must hold the same one), and without the file such a node
// sends no Web Push (nil, logged).
func newWebPush(cfg server.Config, st push.Subscriptions, log *slog.Logger) (*push.WebPush, error) {
	load := push.LoadOrCreateVAPIDKey
	if cfg.SharedStore() {
		load = push.LoadVAPIDKey
	}
	key, err := load(cfg.VAPIDKeyPath)
	if cfg.SharedStore() && errors.Is(err, fs.ErrNotExist) {
		log.Warn("no VAPID key file: Web Push is off; give every node the same key with --vapid-key", "path", cfg.VAPIDKeyPath)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	wp, err := push.NewWebPush(st, key, cfg.VAPIDSubject, push.WebPushOptions{AllowLoopback: cfg.PushAllowLoopback})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return wp, nil
}
