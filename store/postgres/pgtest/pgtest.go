// Package pgtest gives tests a PostgreSQL schema of their own on the test
// server, so that packages and tests running in parallel never see each
// other's rows. The server is ASSENT_TEST_POSTGRES_URL, or DefaultURL (the
// project's machines and CI run PostgreSQL 15 there). A test that needs it
// fails, never skips, when it does not answer: a skipped scale-out test
// would read as a passed one.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the test server when ASSENT_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// EnvURL names the variable that overrides DefaultURL.
const EnvURL = "ASSENT_TEST_POSTGRES_URL"

// ServerURL returns the test server's URL.
func ServerURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// Connect opens a plain connection to the test server, failing t with a
// message that says how to provide one when it does not answer.
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("PostgreSQL is needed for this test and does not answer at $%s (default %s): %v\n"+
			"start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or point $%s at a server",
			EnvURL, DefaultURL, err, EnvURL)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Schema creates a fresh, empty schema, drops it (with everything in it)
// when t ends, and returns the URL of the test server with that schema as
// the search_path, so that a store opened on it creates its tables there.
func Schema(t testing.TB) string {
	t.Helper()
	c := Connect(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "assent_test_" + hex.EncodeToString(b)
	if _, err := c.Exec(t.Context(), "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Logf("dropping test schema %s: %v", name, err)
		}
	})
	return WithSearchPath(t, ServerURL(), name)
}

// WithSearchPath returns u with search_path set to schema.
func WithSearchPath(t testing.TB, u, schema string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("$%s is not a URL: %v", EnvURL, err)
	}
	q := p.Query()
	q.Set("search_path", schema)
	p.RawQuery = q.Encode()
	return p.String()
}
