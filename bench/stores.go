package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/blobdir"
	"github.com/assent-dev/assent/store/postgres"
	"github.com/assent-dev/assent/store/sqlite"
)

// closingBlobs is a blob store and how to release it.
type closingBlobs interface {
	store.BlobStore
	io.Closer
}

// nopCloser is a blob store that the store's Close releases.
type nopCloser struct{ store.BlobStore }

func (nopCloser) Close() error { return nil }

// openStores opens the store and blob store cfg names, as `assent serve`
// does: SQLite and a blob directory in the data directory, or PostgreSQL
// with its chunk-row blobs.
func openStores(ctx context.Context, cfg server.Config) (store.Store, closingBlobs, error) {
	if cfg.Store == server.StorePostgres {
		st, err := postgres.Open(ctx, cfg.StoreURI, postgres.Options{MaxConns: 64})
		if err != nil {
			return nil, nil, err
		}
		return st, nopCloser{st.Blobs()}, nil
	}
	st, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	blobs, err := blobdir.Open(cfg.BlobDir)
	if err != nil {
		return nil, nil, errors.Join(err, st.Close())
	}
	return st, blobs, nil
}

// storeConfig sets cfg to run on store st. For PostgreSQL it makes a
// schema of its own on the server, so that runs never see each other's
// rows, and returns the function that drops it.
func (b *runner) storeConfig(ctx context.Context, cfg *server.Config, st string) (drop func() error, err error) {
	cfg.Store = st
	if st != StorePostgres {
		return func() error { return nil }, nil
	}
	c, err := pgx.Connect(ctx, b.cfg.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	buf := make([]byte, 8)
	rand.Read(buf)
	schema := "assent_bench_" + hex.EncodeToString(buf)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("creating the bench schema: %w", err)
	}
	u, err := url.Parse(b.cfg.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("%w: the PostgreSQL URL must be a postgres:// URL", ErrConfig)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg.StoreURI = u.String()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, b.cfg.PostgresURL)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		return err
	}, nil
}
