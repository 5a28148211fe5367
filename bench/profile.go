package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kinds of ProfileEntry.
const (
	ProfileCategory = "category" // flat CPU time of the functions of a category; categories add up to 100%
	ProfileStack    = "stack"    // CPU time with a function of the category on the stack; these overlap
	ProfileFunction = "function" // flat CPU time of one function
)

// profileCategories sort functions by name prefix, first match wins.
var profileCategories = []struct {
	name     string
	prefixes []string
}{
	{"SQLite engine (modernc.org/sqlite, pure Go)", []string{"modernc.org/"}},
	{"system calls (kernel time of fsync, file and network I/O)", []string{"syscall.", "internal/syscall/", "internal/poll.", "internal/runtime/syscall/"}},
	{"cryptography (CIRCL, go-ristretto, Go crypto)", []string{"crypto/", "github.com/cloudflare/circl/", "github.com/bwesterb/go-ristretto/", "golang.org/x/crypto/", "filippo.io/edwards25519"}},
	{"encoding (JSON, base64, base32), fmt, strconv", []string{"encoding/", "fmt.", "strconv.", "unicode/"}},
	{"HTTP (net/http, Echo)", []string{"net/", "net.", "github.com/labstack/echo/", "bufio.", "mime"}},
	{"database/sql", []string{"database/sql"}},
	{"Assent code", []string{"github.com/assent-dev/assent/"}},
	{"Go runtime (GC, scheduler, memory, locks)", []string{"runtime.", "internal/runtime/", "sync.", "sync/", "internal/sync.", "aeshashbody", "gogo", "indexbytebody", "memeqbody"}},
}

// stackSQLite names the share of time under the SQLite store.
const stackSQLite = "under the SQLite store (store/sqlite)"

// profileStacks are the shares of time spent under a component, whatever
// the leaf function.
var profileStacks = []struct{ name, focus string }{
	{stackSQLite, `assent/store/sqlite\.`},
	{"under the blob directory (store/blobdir)", `assent/store/blobdir\.`},
	{"under the envelope (content encryption)", `assent/envelope\.`},
	{"under oprf and threshold (the 2-of-2 cryptography)", `assent/(oprf|threshold)\.`},
	{"under Ed25519 verification (device signatures)", `crypto/ed25519\.Verify`},
	{"under encoding/json", `encoding/json\.`},
	{"garbage collector", `runtime\.gcBgMarkWorker`},
}

// topFunctions is how many functions the summary lists.
const topFunctions = 12

// summarizeProfile reads a CPU profile with `go tool pprof` and returns
// its categories, component shares and top functions.
func summarizeProfile(ctx context.Context, path string) ([]ProfileEntry, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("no go command to read the profile with")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	pprof := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, goCmd, append(append([]string{"tool", "pprof"}, args...), path)...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return "", fmt.Errorf("go tool pprof: %v: %s", err, firstLine(ee.Stderr))
			}
			return "", fmt.Errorf("go tool pprof: %w", err)
		}
		return string(out), nil
	}
	top, err := pprof("-top", "-nodecount=100000", "-nodefraction=0")
	if err != nil {
		return nil, err
	}
	funcs, err := parseTop(top)
	if err != nil {
		return nil, err
	}
	var entries []ProfileEntry
	shares := make([]float64, len(profileCategories)+1)
	for _, f := range funcs {
		shares[category(f.Name)] += f.Percent
	}
	for i, c := range profileCategories {
		entries = append(entries, ProfileEntry{Kind: ProfileCategory, Name: c.name, Percent: shares[i]})
	}
	entries = append(entries, ProfileEntry{Kind: ProfileCategory, Name: "other", Percent: shares[len(profileCategories)]})
	slices.SortStableFunc(entries, func(a, b ProfileEntry) int { return cmpDesc(a.Percent, b.Percent) })

	for _, s := range profileStacks {
		out, err := pprof("-top", "-nodecount=100000", "-nodefraction=0", "-focus="+s.focus)
		if err != nil {
			return nil, err
		}
		pct, err := focusShare(out)
		if err != nil {
			return nil, err
		}
		entries = append(entries, ProfileEntry{Kind: ProfileStack, Name: s.name, Percent: pct})
	}
	for _, f := range funcs[:min(topFunctions, len(funcs))] {
		entries = append(entries, ProfileEntry{Kind: ProfileFunction, Name: f.Name, Percent: f.Percent})
	}
	return entries, nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// category returns the index of name's category in profileCategories, or
// len(profileCategories) for "other".
func category(name string) int {
	for i, c := range profileCategories {
		for _, p := range c.prefixes {
			if strings.HasPrefix(name, p) {
				return i
			}
		}
	}
	return len(profileCategories)
}

// parseTop parses the table of `go tool pprof -top` into functions and
// their flat share, in its order (largest first).
func parseTop(out string) ([]ProfileEntry, error) {
	var funcs []ProfileEntry
	table := false
	for line := range strings.SplitSeq(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "flat" && fields[1] == "flat%" {
			table = true
			continue
		}
		if !table || len(fields) < 6 {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(fields[1], "%"), 64)
		if err != nil {
			return nil, fmt.Errorf("go tool pprof: unexpected line %.100q", line)
		}
		funcs = append(funcs, ProfileEntry{Kind: ProfileFunction, Name: strings.Join(fields[5:], " "), Percent: pct})
	}
	if !table {
		return nil, fmt.Errorf("go tool pprof printed no table: %.200q", out)
	}
	return funcs, nil
}

// focusLine matches pprof's "Showing nodes accounting for 1.2s, 34.5% of
// 3.5s total".
var focusLine = regexp.MustCompile(`Showing nodes accounting for [^,]*, ([0-9.]+)% of`)

// focusShare returns the share of the profile that a -focus run kept. A
// focus that matches nothing keeps nothing.
func focusShare(out string) (float64, error) {
	m := focusLine.FindStringSubmatch(out)
	if m == nil {
		if strings.Contains(out, "no samples") || !strings.Contains(out, "flat%") {
			return 0, nil
		}
		return 0, fmt.Errorf("go tool pprof: no total in %.200q", out)
	}
	return strconv.ParseFloat(m[1], 64)
}
