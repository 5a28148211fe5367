package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assent-dev/assent/store"
)

// Defaults of the Options.
const (
	DefaultConnectTimeout   = 3 * time.Second
	DefaultStatementTimeout = 5 * time.Second
	DefaultMaxConns         = 16
	DefaultBlobChunkSize    = 512 << 10
	MaxBlobChunkSize        = 1 << 20
)

// Options tune a Store. The zero value is the production setting.
type Options struct {
	// ConnectTimeout bounds opening one connection (DefaultConnectTimeout
	// when zero).
	ConnectTimeout time.Duration
	// StatementTimeout bounds each statement, on the server
	// (statement_timeout, also while waiting for a row lock) and on the
	// client (plus a second, for a server that stopped answering);
	// DefaultStatementTimeout when zero.
	StatementTimeout time.Duration
	// MaxConns is the size of the connection pool (DefaultMaxConns when
	// zero).
	MaxConns int32
	// BlobChunkSize is the size of the chunk rows of new blobs, the memory
	// a blob being written holds (DefaultBlobChunkSize when zero; at most
	// MaxBlobChunkSize).
	BlobChunkSize int

	tracer pgx.QueryTracer // tests: sees every statement
}

// Store is the PostgreSQL store.Store. It is safe for concurrent use by any
// number of goroutines and processes.
type Store struct {
	pool   *pgxpool.Pool
	opts   Options
	closed atomic.Bool
	writes atomic.Uint64 // remembered nonces, to pace the purge of expired ones
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as libpq takes), checks that it answers, and
// creates or migrates the schema. It returns ErrInvalid for a malformed URL,
// ErrUnavailable when the server cannot be reached in time,
// ErrNewerSchema for a database written by a newer Assent and ErrNotAssent
// for a schema that holds another application's tables named like ours.
// Errors never quote the URL, which may hold a password.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = DefaultStatementTimeout
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.BlobChunkSize <= 0 {
		opts.BlobChunkSize = DefaultBlobChunkSize
	}
	if opts.BlobChunkSize > MaxBlobChunkSize {
		return nil, fmt.Errorf("postgres: %w: blob chunk size %d is over %d", store.ErrInvalid, opts.BlobChunkSize, MaxBlobChunkSize)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the connection string; say only where.
		return nil, fmt.Errorf("postgres: %w: the PostgreSQL URL does not parse", store.ErrInvalid)
	}
	cfg.MaxConns = opts.MaxConns
	cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	cfg.ConnConfig.Tracer = opts.tracer
	rp := cfg.ConnConfig.RuntimeParams
	if rp["application_name"] == "" {
		rp["application_name"] = "assent"
	}
	rp["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	// A connection idle inside a transaction (none should be) is ended
	// rather than holding locks forever.
	rp["idle_in_transaction_session_timeout"] = fmt.Sprint((2 * opts.StatementTimeout).Milliseconds())
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w: %v", store.ErrInvalid, err)
	}
	s := &Store{pool: pool, opts: opts}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool; later calls fail with ErrUnavailable.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.pool.Close()
	}
	return nil
}

// Ping checks that the server answers a query.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, "ping", func(ctx context.Context) error {
		var one int
		return s.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
}

// opContext bounds one statement on the client: a little longer than the
// server's statement_timeout, so that the server's own error wins when it
// still answers.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.StatementTimeout+time.Second)
}

// read runs f, a read, with the caller's context, bounded. A read that
// fails on a connection the server ended, or lost, is tried again on
// another: reads change nothing, and after a failover or a
// pg_terminate_backend every idle connection of the pool may be dead (each
// fails at once, so the tries stay within the bound).
func (s *Store) read(ctx context.Context, op string, f func(ctx context.Context) error) error {
	return s.run(ctx, op, func() error {
		octx, cancel := s.opContext(ctx)
		defer cancel()
		err := f(octx)
		for try := int32(0); err != nil && retryable(err) && octx.Err() == nil && try <= s.opts.MaxConns; try++ {
			err = f(octx)
		}
		return err
	})
}

// write runs f, one write statement, without the caller's cancellation but
// bounded, so that a write reporting an error has, as far as this side can
// know, changed nothing (see the package doc, "Outages"). A write is tried
// again only when pgx says it was never sent.
func (s *Store) write(ctx context.Context, op string, f func(ctx context.Context) error) error {
	return s.run(ctx, op, func() error {
		octx, cancel := s.opContext(context.WithoutCancel(ctx))
		defer cancel()
		err := f(octx)
		if err != nil && pgconn.SafeToRetry(err) {
			err = f(octx)
		}
		return err
	})
}

func (s *Store) run(ctx context.Context, op string, f func() error) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w: store closed", op, store.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if err := mapErr(f()); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// retryable reports a failure of the connection rather than of the
// statement: a network error, or the server ending the session
// (pg_terminate_backend, a shutdown, a failover), after which pgx drops the
// connection.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, classConnection) || pe.Code == codeAdminShutdown ||
			pe.Code == codeCrashShutdown || pe.Code == codeCannotConnectNow
	}
	return pgconn.SafeToRetry(err) || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !isStoreErr(err)
}

func isStoreErr(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExpired) ||
		errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrUnavailable) || errors.Is(err, pgx.ErrNoRows) ||
		errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrNotAssent) || errors.Is(err, errUnchanged) || errors.Is(err, errAuditRace)
}

// SQLSTATE classes and codes that mapErr tells apart.
const (
	codeUniqueViolation  = "23505"
	classConnection      = "08" // connection exception
	classResources       = "53" // insufficient resources (disk full, too many connections)
	classOperator        = "57" // operator intervention: query canceled (statement timeout), admin shutdown
	classSystem          = "58" // system error (I/O)
	codeLockTimeout      = "55P03"
	codeSerialization    = "40001"
	codeDeadlock         = "40P01"
	codeReadOnly         = "25006" // a standby, or default_transaction_read_only
	codeAdminShutdown    = "57P01" // pg_terminate_backend, or a fast shutdown
	codeCrashShutdown    = "57P02"
	codeCannotConnectNow = "57P03" // starting up or shutting down
)

// mapErr turns a database error into the store's errors: a unique violation
// is ErrConflict, every failure of the server or the connection
// ErrUnavailable; errors already of the store pass through.
func mapErr(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil, isStoreErr(err) && !errors.Is(err, pgx.ErrNoRows):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &pe):
		switch {
		case pe.Code == codeUniqueViolation:
			return fmt.Errorf("%w: %w", store.ErrConflict, pe)
		case strings.HasPrefix(pe.Code, classConnection), strings.HasPrefix(pe.Code, classResources),
			strings.HasPrefix(pe.Code, classOperator), strings.HasPrefix(pe.Code, classSystem),
			pe.Code == codeLockTimeout, pe.Code == codeSerialization, pe.Code == codeDeadlock, pe.Code == codeReadOnly:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, pe)
		}
		// Any other server error is a bug of ours or a schema someone
		// changed: report it, still as a storage failure.
		return fmt.Errorf("%w: %w", store.ErrUnavailable, pe)
	}
	// Network errors, timeouts, a closed pool.
	// pgx's connection errors name the host, user and database, never the
	// password.
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}
