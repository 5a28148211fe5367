package server

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{DataDir: "/srv/assent"}.WithDefaults()
	if c.BlobDir != filepath.Join("/srv/assent", "blobs") || c.MasterKeyPath != filepath.Join("/srv/assent", "master.key") {
		t.Errorf("derived paths %q %q", c.BlobDir, c.MasterKeyPath)
	}
	if c.ApprovalTTL != 10*time.Minute || c.SessionTTL != 15*time.Minute || c.DownloadsPerSession != 1 ||
		c.NodeID != "node-1" || c.Store != StoreSQLite || c.MaxPendingPerUser != 16 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if c.Blobs != BlobsDir {
		t.Errorf("blobs %q with SQLite, want %q", c.Blobs, BlobsDir)
	}
	// Nodes on MongoDB may run on several hosts: their ciphertext goes to
	// GridFS unless a blob store is chosen.
	m := Config{Store: StoreMongoDB, StoreURI: "mongodb://db/"}.WithDefaults()
	if m.Blobs != BlobsGridFS || m.Validate() != nil {
		t.Errorf("blobs %q with MongoDB, want %q", m.Blobs, BlobsGridFS)
	}
	if m := (Config{Store: StoreMongoDB, Blobs: BlobsDir}).WithDefaults(); m.Blobs != BlobsDir {
		t.Errorf("chosen blob store replaced: %q", m.Blobs)
	}
	// Set fields are kept.
	if c := (Config{ApprovalTTL: time.Minute, UserRate: -1}).WithDefaults(); c.ApprovalTTL != time.Minute || c.UserRate != -1 {
		t.Errorf("set fields replaced: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"short approval TTL": func(c *Config) { c.ApprovalTTL = time.Millisecond },
		"long approval TTL":  func(c *Config) { c.ApprovalTTL = MaxApprovalTTL + time.Second },
		"negative session":   func(c *Config) { c.SessionTTL = -time.Second },
		"no downloads":       func(c *Config) { c.DownloadsPerSession = -1 },
		"negative upload":    func(c *Config) { c.MaxUploadSize = -5 },
		"cert without key":   func(c *Config) { c.TLSCert = "cert.pem" },
		"unknown store":      func(c *Config) { c.Store = "postgres" },
		"mongo without URI":  func(c *Config) { c.Store = StoreMongoDB },
		"URI without mongo":  func(c *Config) { c.StoreURI = "mongodb://db/" },
		"unknown blobs":      func(c *Config) { c.Blobs = "s3" },
		"gridfs on sqlite":   func(c *Config) { c.Blobs = BlobsGridFS },
		"unknown log format": func(c *Config) { c.LogFormat = "xml" },
		"unknown log level":  func(c *Config) { c.LogLevel = "loud" },
		"webhook no secret":  func(c *Config) { c.WebhookURL = "https://relay.example" },
		"bad public URL":     func(c *Config) { c.PublicURL = "ftp://x" },
		"long node id":       func(c *Config) { c.NodeID = string(make([]byte, 65)) },
		"negative pending":   func(c *Config) { c.MaxPendingPerUser = -1 },
		"negative read":      func(c *Config) { c.ReadTimeout = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			mutate(&c)
			if err := c.WithDefaults().Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate: %v, want ErrConfig", err)
			}
		})
	}
}

// TestMaxApprovalTTL: the longest approval TTL is the longest request
// lifetime the device agent accepts by default, so that a valid server
// configuration never makes requests every default device refuses.
func TestMaxApprovalTTL(t *testing.T) {
	if MaxApprovalTTL != device.DefaultMaxLifetime {
		t.Fatalf("MaxApprovalTTL %s, device.DefaultMaxLifetime %s", MaxApprovalTTL, device.DefaultMaxLifetime)
	}
	c := DefaultConfig().WithDefaults()
	c.ApprovalTTL = MaxApprovalTTL
	if err := c.Validate(); err != nil {
		t.Fatalf("the longest approval TTL is refused: %v", err)
	}
	c.ApprovalTTL += time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "device") {
		t.Fatalf("Validate of a TTL over the device's cap: %v, want an error naming the device's limit", err)
	}
}

func TestNewNeedsDeps(t *testing.T) {
	if _, err := New(Config{}, Deps{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New without deps: %v", err)
	}
}

func TestParseScopes(t *testing.T) {
	got, err := ParseScopes("records:access, users:admin")
	if err != nil || len(got) != 2 || got[0] != ScopeUsersAdmin || got[1] != ScopeRecordsAccess {
		t.Fatalf("ParseScopes: %v %v", got, err)
	}
	for _, bad := range []string{"", "users:admin,", "root", "users:admin,users:admin"} {
		if _, err := ParseScopes(bad); err == nil {
			t.Errorf("ParseScopes(%q) accepted", bad)
		}
	}
}

func TestAPIKeyShape(t *testing.T) {
	e := newEnv(t, nil)
	if len(e.admin) != apiKeyLen {
		t.Fatalf("key of %d characters", len(e.admin))
	}
	if _, ok := apiKeyPrefix(e.admin); !ok {
		t.Fatal("a made key does not parse")
	}
	for _, bad := range []string{"", e.admin + "a", "x" + e.admin[1:], e.admin[:19] + "-" + e.admin[20:], e.admin[:30] + "A" + e.admin[31:]} {
		if _, ok := apiKeyPrefix(bad); ok {
			t.Errorf("apiKeyPrefix(%q) accepted", bad)
		}
	}
}
