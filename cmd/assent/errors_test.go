package main

import (
	"bytes"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// prefixes returns the one-word prefixes of an error line
// ("assent device: enrolling: POST ...: dial ..." gives device, enrolling).
func prefixes(line string) []string {
	parts := strings.Split(line, ": ")
	var out []string
	word := regexp.MustCompile(`^[a-z]+$`)
	for i, p := range parts[:len(parts)-1] {
		if i == 0 {
			p = strings.TrimPrefix(p, "assent ")
		}
		if word.MatchString(p) {
			out = append(out, p)
		}
	}
	return out
}

// TestNoDoubledErrorPrefixes: the error line of a failing command names
// each layer once ("assent device: enrolling: POST ...", never "device:
// enrolling: device:" or "usage: usage:").
func TestNoDoubledErrorPrefixes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envPassphrase, "pw")
	for _, args := range [][]string{
		{"device", "enroll", "--server", "http://127.0.0.1:1", "--code", "AAAAA-BBBBB-CCCCC-DDDDD", "--keystore", filepath.Join(dir, "k")},
		{"device", "fly"},
		{"admin"},
		{"admin", "client", "create", "--data-dir", dir},
		{"admin", "fly"},
		{"serve", "--data-dir", dir, "--blobs", "gridfs"},
		{"verify"},
	} {
		var errOut bytes.Buffer
		if code := run(args, io.Discard, &errOut); code == 0 {
			t.Errorf("%q succeeded", args)
			continue
		}
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		last := lines[len(lines)-1]
		for _, l := range lines {
			if strings.HasPrefix(l, "assent ") {
				last = l
			}
		}
		seen := map[string]bool{}
		for _, p := range prefixes(last) {
			if seen[p] {
				t.Errorf("%q: %q names %q twice", args, last, p)
			}
			seen[p] = true
		}
	}
}

// TestHelpOnce: "assent CMD -h" exits 0 and prints its help once (the
// flag package calls Usage while it parses, and parseFlags again).
func TestHelpOnce(t *testing.T) {
	for name := range commands {
		var stdout, stderr bytes.Buffer
		if code := run([]string{name, "-h"}, &stdout, &stderr); code != 0 {
			t.Errorf("assent %s -h: exit %d, want 0; stderr:\n%s", name, code, stderr.String())
			continue
		}
		help := stdout.String() + stderr.String()
		first, _, _ := strings.Cut(strings.TrimSpace(help), "\n")
		if first == "" {
			t.Errorf("assent %s -h printed nothing", name)
			continue
		}
		if n := strings.Count(help, first); n != 1 {
			t.Errorf("assent %s -h printed its first line %q %d times:\n%s", name, first, n, help)
		}
	}
}
