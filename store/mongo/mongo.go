package mongo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/assent-dev/assent/store"
)

// Defaults of the Options.
const (
	DefaultServerSelectionTimeout = 3 * time.Second
	DefaultOperationTimeout       = 10 * time.Second
	// DefaultChunkSize is the GridFS chunk size (GridFS's own default,
	// 255 KiB, which keeps a chunk document well under the 16 MiB limit).
	DefaultChunkSize = 255 << 10
	// MaxChunkSize bounds WithChunkSize.
	MaxChunkSize = 8 << 20
)

// Collection names.
const (
	collUsers       = "users"
	collEnrollments = "enrollments"
	collDevices     = "devices"
	collClients     = "clients"
	collRecords     = "records"
	collRequests    = "requests"
	collSessions    = "sessions"
	collNonces      = "nonces"
	collAudit       = "audit"
	collSettings    = "settings"
	collPush        = "push_subscriptions"
	collTransfers   = "transfers"
	blobBucket      = "blobs" // GridFS: blobs.files and blobs.chunks
)

// Option adjusts Open.
type Option func(*config)

type config struct {
	selection time.Duration
	op        time.Duration
	chunkSize int
	monitor   *event.CommandMonitor // tests only
}

// WithServerSelectionTimeout bounds how long a call waits for a usable
// server (and a new connection) before failing with ErrUnavailable.
// Non-positive values are ignored.
func WithServerSelectionTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.selection = d
		}
	}
}

// WithOperationTimeout bounds each database operation (one command, or one
// chunk of a blob) when the caller's context has no earlier deadline.
// Non-positive values are ignored.
func WithOperationTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.op = d
		}
	}
}

// WithChunkSize sets the GridFS chunk size of new blobs, in bytes: the memory
// a blob being written or read holds. Values outside [1, MaxChunkSize] are
// ignored.
func WithChunkSize(n int) Option {
	return func(c *config) {
		if n >= 1 && n <= MaxChunkSize {
			c.chunkSize = n
		}
	}
}

// Store is a store.Store on one MongoDB database. It is safe for concurrent
// use by any number of goroutines and processes.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	cfg    config

	users, enrollments, devices, clients *mongo.Collection
	records, requests, sessions          *mongo.Collection
	nonces, audit                        *mongo.Collection

	blobs  *gridFS
	writes atomic.Uint64 // remembered nonces, to pace the purge of expired ones
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the MongoDB deployment at uri (a mongodb:// or
// mongodb+srv:// connection string), checks that it answers, and creates the
// indexes of database if they are missing. Write concern, read concern and
// read preference are set as the package documentation says, whatever the
// URI holds. It returns ErrInvalid for a malformed URI or database name and
// ErrUnavailable when the deployment cannot be reached in time. Errors never
// quote the URI, which may hold a password.
func Open(ctx context.Context, uri, database string, opts ...Option) (*Store, error) {
	if err := checkDatabaseName(database); err != nil {
		return nil, err
	}
	cfg := config{selection: DefaultServerSelectionTimeout, op: DefaultOperationTimeout, chunkSize: DefaultChunkSize}
	for _, o := range opts {
		o(&cfg)
	}
	co := options.Client().
		SetServerSelectionTimeout(cfg.selection).
		SetConnectTimeout(cfg.selection).
		ApplyURI(uri)
	co.SetWriteConcern(writeconcern.Majority()).
		SetReadConcern(readconcern.Majority()).
		SetReadPreference(readpref.Primary()).
		SetAppName("assent")
	if cfg.monitor != nil {
		co.SetMonitor(cfg.monitor)
	}
	if err := co.Validate(); err != nil {
		return nil, fmt.Errorf("%w: MongoDB URI: %s", store.ErrInvalid, redact(err, uri))
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("%w: MongoDB URI: %s", store.ErrInvalid, redact(err, uri))
	}
	s := newStore(client, database, cfg)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.createIndexes(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newStore(client *mongo.Client, database string, cfg config) *Store {
	db := client.Database(database)
	s := &Store{
		client:      client,
		db:          db,
		cfg:         cfg,
		users:       db.Collection(collUsers),
		enrollments: db.Collection(collEnrollments),
		devices:     db.Collection(collDevices),
		clients:     db.Collection(collClients),
		records:     db.Collection(collRecords),
		requests:    db.Collection(collRequests),
		sessions:    db.Collection(collSessions),
		nonces:      db.Collection(collNonces),
		audit:       db.Collection(collAudit),
	}
	s.blobs = &gridFS{
		files:     db.Collection(blobBucket + ".files"),
		chunks:    db.Collection(blobBucket + ".chunks"),
		chunkSize: cfg.chunkSize,
		op:        cfg.op,
	}
	return s
}

// checkDatabaseName applies MongoDB's rules for database names, so that a
// bad name fails at start with ErrInvalid rather than on the first write.
func checkDatabaseName(name string) error {
	if name == "" || len(name) > 63 || strings.ContainsAny(name, "/\\. \"$*<>:|?\x00") {
		return fmt.Errorf("%w: MongoDB database name %.80q", store.ErrInvalid, name)
	}
	return nil
}

// redact returns err's text without the URI or its password.
func redact(err error, uri string) string {
	msg := err.Error()
	if u, perr := url.Parse(uri); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "***")
			msg = strings.ReplaceAll(msg, url.QueryEscape(p), "***")
		}
	}
	if uri != "" {
		msg = strings.ReplaceAll(msg, uri, "<uri>")
	}
	return msg
}

// Blobs returns the GridFS blob store (bucket "blobs": collections
// blobs.files and blobs.chunks) on the same connection and database, with
// the same concerns and timeouts. It stays usable until the Store is closed.
//
// Blobs are written and read in the standard GridFS layout, so any GridFS
// tool reads a committed blob, but by this package rather than the driver's
// GridFSBucket: the driver's upload stream holds a 16 MiB buffer per upload,
// bounds a whole upload by one timeout, and checks its indexes on first
// write without a lock. Here an open blob holds one chunk in memory, each
// chunk gets the operation timeout, and the indexes are made by Open. A
// chunk's _id is "<files_id in hex>-<n>" instead of an ObjectId (readers
// find chunks by files_id and n), so that a reader fetches each chunk by
// _id, the one lookup every engine serves without a scan. A
// blob's state (writing, staged, committed, deleting) is kept in its files
// document and changed by single-document updates, so a partial blob is
// never visible under its name.
func (s *Store) Blobs() store.BlobStore { return s.blobs }

// Ping implements store.Store: the primary must answer within the server
// selection timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return fail("ping", s.client.Ping(ctx, readpref.Primary()))
}

// Close implements store.Store. Closing twice is harmless; any call after
// Close fails with ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.op)
	defer cancel()
	return fail("close", s.client.Disconnect(ctx))
}

// opContext bounds one database operation.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.op)
}

// fail maps a driver error to the store's errors: a duplicate key is
// ErrConflict, anything else (no server, network, timeout, a closed client,
// a corrupt document) ErrUnavailable. The caller handles ErrNoDocuments. The
// driver's text of a duplicate key error quotes the key, so it is left out.
func fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("mongo: %s: %w: duplicate key", op, store.ErrConflict)
	case errors.Is(err, mongo.ErrClientDisconnected):
		return fmt.Errorf("mongo: %s: %w: store is closed", op, store.ErrUnavailable)
	default:
		return fmt.Errorf("mongo: %s: %w: %w", op, store.ErrUnavailable, err)
	}
}
