package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebhookSecretSources: the webhook secret can come from a file or the
// environment, so that it never has to be on the command line; a flag wins
// over a variable, and two sources of one kind are a usage error.
func TestWebhookSecretSources(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-file"
	file := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const fromEnv = "0123456789abcdef0123456789abcdef-env"
	url := []string{"-webhook-url", "https://relay.example/push"}
	unset := func() {
		t.Setenv("ASSENT_WEBHOOK_SECRET", "")
		t.Setenv("ASSENT_WEBHOOK_SECRET_FILE", "")
	}

	unset()
	cfg, err := serveConfig(append(url, "-webhook-secret-file", file), io.Discard)
	if err != nil || string(cfg.WebhookSecret) != secret {
		t.Fatalf("-webhook-secret-file: %q, %v", cfg.WebhookSecret, err)
	}
	t.Setenv("ASSENT_WEBHOOK_SECRET_FILE", file)
	if cfg, err = serveConfig(url, io.Discard); err != nil || string(cfg.WebhookSecret) != secret {
		t.Fatalf("$ASSENT_WEBHOOK_SECRET_FILE: %q, %v", cfg.WebhookSecret, err)
	}
	// A flag wins over the other source's variable.
	t.Setenv("ASSENT_WEBHOOK_SECRET_FILE", empty)
	if cfg, err = serveConfig(append(url, "-webhook-secret", fromEnv), io.Discard); err != nil || string(cfg.WebhookSecret) != fromEnv {
		t.Fatalf("-webhook-secret over $ASSENT_WEBHOOK_SECRET_FILE: %q, %v", cfg.WebhookSecret, err)
	}
	unset()
	t.Setenv("ASSENT_WEBHOOK_SECRET", fromEnv)
	if cfg, err = serveConfig(append(url, "-webhook-secret-file", file), io.Discard); err != nil || string(cfg.WebhookSecret) != secret {
		t.Fatalf("-webhook-secret-file over $ASSENT_WEBHOOK_SECRET: %q, %v", cfg.WebhookSecret, err)
	}
	if cfg, err = serveConfig(url, io.Discard); err != nil || string(cfg.WebhookSecret) != fromEnv {
		t.Fatalf("$ASSENT_WEBHOOK_SECRET: %q, %v", cfg.WebhookSecret, err)
	}

	// Ambiguous or unusable sources are refused, without quoting a secret.
	for name, c := range map[string]struct {
		args    []string
		envFile string
	}{
		"both flags":     {append(url, "-webhook-secret", fromEnv, "-webhook-secret-file", file), ""},
		"both variables": {url, file},
		"empty file":     {append(url, "-webhook-secret-file", empty), ""},
		"missing file":   {append(url, "-webhook-secret-file", file+".missing"), ""},
	} {
		unset()
		if name == "both variables" {
			t.Setenv("ASSENT_WEBHOOK_SECRET", fromEnv)
			t.Setenv("ASSENT_WEBHOOK_SECRET_FILE", c.envFile)
		}
		_, err := serveConfig(c.args, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		} else if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), fromEnv) {
			t.Errorf("%s: the error quotes the secret: %v", name, err)
		}
	}

	var help bytes.Buffer
	serveConfig([]string{"-h"}, &help)
	if !strings.Contains(help.String(), "-webhook-secret-file") || !strings.Contains(help.String(), "$ASSENT_WEBHOOK_SECRET_FILE") {
		t.Errorf("-h does not offer the secret file:\n%s", help.String())
	}
}

// TestEnrollmentCodeFromEnv: `assent device enroll` takes the code from
// $ASSENT_ENROLLMENT_CODE, so that it need not be on the command line; a
// --code flag wins over it.
func TestEnrollmentCodeFromEnv(t *testing.T) {
	e := newCLIEnv(t)
	ctx := context.Background()
	common := []string{"--passphrase-file", e.pass}

	user := e.newUser()
	t.Setenv(envEnrollmentCode, user.EnrollmentCode)
	ks := filepath.Join(e.dir, "env.key")
	if out, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--keystore", ks}, common...)...); err != nil {
		t.Fatalf("enroll with $%s: %v\n%s", envEnrollmentCode, err, out)
	}

	other := e.newUser()
	t.Setenv(envEnrollmentCode, "AAAAA-BBBBB-CCCCC-DDDDD")
	ks = filepath.Join(e.dir, "flag.key")
	if out, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", other.EnrollmentCode, "--keystore", ks}, common...)...); err != nil {
		t.Fatalf("enroll with --code over $%s: %v\n%s", envEnrollmentCode, err, out)
	}

	t.Setenv(envEnrollmentCode, "")
	if _, _, err := e.device(ctx, "", "enroll", "--server", e.url, "--keystore", filepath.Join(e.dir, "none.key")); !errors.Is(err, errUsage) ||
		!strings.Contains(err.Error(), envEnrollmentCode) {
		t.Errorf("enroll without a code: %v, want a usage error naming $%s", err, envEnrollmentCode)
	}
}
