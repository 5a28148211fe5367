package postgres

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/postgres/pgtest"
)

// TestPlatformMigration: a schema written before devices had a platform
// (version 3) keeps its devices through migration 4, each with no
// platform, and takes new devices with one.
func TestPlatformMigration(t *testing.T) {
	url := pgtest.Schema(t)
	saved := migrations
	migrations = saved[:3]
	s, err := Open(t.Context(), url, Options{})
	migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	user, _ := ids.New(ids.User, rand.Reader)
	old, _ := ids.New(ids.Device, rand.Reader)
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(t.Context(), `INSERT INTO devices (id, user_id, name, oprf_public_key, signing_public_key, key_id, state, created_at)
		VALUES ($1, $2, 'old phone', $3, $4, $5, 'pending', $6)`, old, user, make([]byte, 32), make([]byte, 32), strings.Repeat("ab", 16), t0.UnixNano()); err != nil {
		t.Fatal(err)
	}
	c.Close(t.Context())

	s2 := openURL(t, url, Options{})
	d, err := s2.GetDevice(t.Context(), old)
	if err != nil {
		t.Fatal(err)
	}
	if d.Platform != "" || d.Name != "old phone" {
		t.Fatalf("device from before migration 4: platform %q, name %q", d.Platform, d.Name)
	}
	web, _ := ids.New(ids.Device, rand.Reader)
	if err := s2.CreateDevice(t.Context(), &store.Device{ID: web, UserID: user, Name: "browser", OPRFPublicKey: make([]byte, 32),
		SigningPublicKey: make([]byte, 32), KeyID: strings.Repeat("cd", 16), State: store.DevicePending, Platform: "web", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if d, err := s2.GetDevice(t.Context(), web); err != nil || d.Platform != "web" {
		t.Fatalf("device after migration 4: %+v, %v", d, err)
	}
}
