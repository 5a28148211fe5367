package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/server"
)

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
