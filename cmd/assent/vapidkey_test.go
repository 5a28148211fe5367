package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/assent-dev/assent/server"
)

func TestVAPIDSubjectDefault(t *testing.T) {
	for url, want := range map[string]string{
		"https://assent.example:8443/base": "https://assent.example:8443",
		"http://127.0.0.1:8080":            server.DefaultVAPIDSubject,
		"":                                 server.DefaultVAPIDSubject,
	} {
		if got := (server.Config{PublicURL: url}).WithDefaults().VAPIDSubject; got != want {
			t.Errorf("public URL %q: subject %q, want %q", url, got, want)
		}
	}
	var stderr bytes.Buffer
	if _, err := serveConfig([]string{"--vapid-subject", "ops@example.org"}, &stderr); !errors.Is(err, errUsage) {
		t.Fatalf("a subject that is no URL: %v", err)
	}
}
