package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assent-dev/assent/webapp"
)

func TestServeAppOrigins(t *testing.T) {
	t.Setenv("ASSENT_APP_ORIGINS", "https://a.example, https://b.example")
	cfg, err := serveConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.AppOrigins, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("from the variable: %q", cfg.AppOrigins)
	}
	// Flags replace the variable's list, and repeat.
	cfg, err = serveConfig([]string{"--app-origin", "https://c.example", "--app-origin", "http://127.0.0.1:8081"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.AppOrigins, []string{"https://c.example", "http://127.0.0.1:8081"}) {
		t.Fatalf("from the flags: %q", cfg.AppOrigins)
	}
	for _, bad := range []string{"https://c.example/", "http://c.example", "*", "null"} {
		if _, err := serveConfig([]string{"--app-origin", bad}, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("--app-origin %q: %v, want a usage error", bad, err)
		}
	}
	t.Setenv("ASSENT_APP_ORIGINS", "https://ok.example,https://bad.example/path")
	if _, err := serveConfig(nil, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("a bad origin in the variable: %v", err)
	}
}

func TestAppUsage(t *testing.T) {
	var help bytes.Buffer
	if err := runApp(context.Background(), []string{"-h"}, &help, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "assent app build --out DIR --api URL") {
		t.Errorf("assent app -h: %v, %q", err, help.String())
	}
	for _, args := range [][]string{
		nil, {"nope"}, {"build"}, {"build", "--out", t.TempDir()}, {"build", "--out", t.TempDir(), "--api", "http://api.example"},
		{"serve"}, {"serve", "--api", "ftp://x"}, {"build", "--out", "x", "--api", "https://a.example", "extra"},
	} {
		var out bytes.Buffer
		if err := runApp(context.Background(), args, &out, &out); !errors.Is(err, errUsage) {
			t.Errorf("assent app %q: %v, want a usage error", args, err)
		}
	}
}

// assent app build says how big device.wasm is, raw and gzipped, and the
// numbers are the file's.
func TestAppBuildPrintsWasmSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly")
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if err := runApp(context.Background(), []string{"build", "--out", dir, "--api", "https://api.example", "--src", "../.."}, &out, &out); err != nil {
		t.Fatalf("assent app build: %v\n%s", err, out.String())
	}
	wasm, err := os.ReadFile(filepath.Join(dir, webapp.FileWasm))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("device.wasm: %s, %s gzipped (budget %s)", mib(len(wasm)), mib(webapp.GzipSize(wasm)), mib(webapp.MaxWasmGzip))
	if !strings.Contains(out.String(), want) {
		t.Errorf("assent app build printed %q, want a line %q", out.String(), want)
	}
}
