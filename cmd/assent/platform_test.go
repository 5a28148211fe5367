package main

import (
	"strings"
	"testing"
)

// TestVerifyPlatformOf: assent verify prints the API's platforms as they
// are, the missing one as unknown, and anything else a server may send
// quoted and cut, so that no control character reaches the terminal.
func TestVerifyPlatformOf(t *testing.T) {
	for in, want := range map[string]string{
		"agent":                  "agent",
		"web":                    "web",
		"":                       "unknown",
		"ios":                    `"ios"`,
		"\x1b[2Jweb":             `"\x1b[2Jweb"`,
		"web\u202e":              `"web\u202e"`,
		strings.Repeat("a", 100): `"` + strings.Repeat("a", 40) + `"`,
	} {
		if got := platformOf(in); got != want {
			t.Errorf("platformOf(%q) = %s, want %s", in, got, want)
		}
	}
}
