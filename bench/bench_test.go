package bench_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/bench"
)

// childEnv makes the test binary the server child of the runs below.
const childEnv = "ASSENT_BENCH_TEST_SERVER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := bench.ServeChild(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyConfig is every part but age, in seconds.
func tinyConfig(t *testing.T) bench.Config {
	cfg := bench.QuickConfig()
	cfg.Parts = []int{1, 2, 3, 4, 5}
	cfg.ServerCommand = []string{os.Args[0]}
	cfg.ServerEnv = []string{childEnv + "=1"}
	cfg.WorkDir = t.TempDir()
	cfg.Round, cfg.Rounds = 10*time.Millisecond, 1
	cfg.EnvelopeSize = 1 << 20
	cfg.Approvals = 3
	cfg.Concurrency = []int{1, 2}
	cfg.PhaseDuration = 500 * time.Millisecond
	cfg.RecordSize = 1 << 10
	cfg.Transfers = []int64{256 << 10}
	cfg.GrowthSizes = []int{10, 30}
	cfg.GrowthSamples = 2
	cfg.Pending = 12
	return cfg
}

func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	cfg := tinyConfig(t)
	out := t.TempDir()
	cfg.OutDir = out
	var progress bytes.Buffer
	cfg.Progress = &progress
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}

	linux := runtime.GOOS == "linux"
	want := []string{
		"primitive/poprf-evaluate", "primitive/poprf-finalize", "primitive/oprf-evaluate",
		"primitive/ed25519-verify", "primitive/gcm-seal", "primitive/gcm-open",
		"threshold/server-create", "threshold/server-access", "threshold/device",
		"protocol/store-write", "protocol/server-upload", "protocol/server-create", "protocol/server-access", "protocol/device",
		"envelope/seal", "envelope/seal-vs-gcm-sha256", "envelope/open", "envelope/open-vs-gcm-read",
		"e2e/seal-rate/c1", "e2e/seal-rate/c2", "e2e/open-rate/c1", "e2e/open-rate/c2",
		"e2e/seal-latency/c2/p50", "e2e/seal-latency/c2/p99", "e2e/open-latency/c1/p95",
		"e2e/seal-server-cpu/c2", "e2e/seal-harness-cpu/c2", "e2e/seal-store-writes/c2", "e2e/seal-store-busy/c2", "e2e/store-bound",
		"e2e/upload/256 KiB", "e2e/download/256 KiB",
		"growth/store/10", "growth/store/30", "growth/seal/10", "growth/seal/30",
		"pending/heap-per-request", "pending/heap-10k",
	}
	if linux {
		want = append(want, "e2e/upload-rss/256 KiB", "e2e/download-rss/256 KiB", "e2e/server-peak-rss", "pending/rss-growth")
	}
	for _, id := range want {
		row := res.Row(id)
		if row == nil {
			t.Errorf("row %s missing", id)
			continue
		}
		if row.Skipped != "" {
			t.Errorf("row %s not measured: %s", id, row.Skipped)
			continue
		}
		// RSS and heap growth may be zero or below (a collection freed
		// more); everything else is a positive figure.
		if row.Value <= 0 && !strings.HasPrefix(id, "pending/") {
			t.Errorf("row %s: value %v, want > 0", id, row.Value)
		}
	}
	for _, row := range res.Rows {
		if row.Baseline < 0 || (row.Baseline > 0 && row.Ratio <= 0) {
			t.Errorf("row %s: baseline %v, ratio %v", row.ID, row.Baseline, row.Ratio)
		}
		if row.Baseline > 0 && row.Value > 0 {
			if r := row.Value / row.Baseline; r/row.Ratio < 0.999 || r/row.Ratio > 1.001 {
				t.Errorf("row %s: ratio %v, want value/baseline %v", row.ID, row.Ratio, r)
			}
		}
		if (row.Goal == "") != (row.Met == nil) {
			t.Errorf("row %s: goal %q with met %v", row.ID, row.Goal, row.Met)
		}
	}
	// The threshold rows' ratios are reported, not judged here: a ratio is a
	// timing, and tests make no timing assertions (under -race and a loaded
	// machine a short round can put either side ahead).
	for _, id := range []string{"threshold/server-create", "threshold/server-access", "threshold/device"} {
		if r := res.Row(id); r.Baseline <= 0 || r.Value <= 0 {
			t.Errorf("row %s: value %v against baseline %v, want both measured", id, r.Value, r.Baseline)
		}
	}
	for _, op := range []string{"seal", "baseline", "open"} {
		for _, c := range []int{1, 2} {
			p := func(q int) float64 { return res.Row(fmt.Sprintf("e2e/%s-latency/c%d/p%d", op, c, q)).Value }
			if !(p(50) <= p(95) && p(95) <= p(99)) {
				t.Errorf("%s c=%d: p50 %v, p95 %v, p99 %v out of order", op, c, p(50), p(95), p(99))
			}
		}
	}
	// Sealing, the no-consent baseline and opening, at two concurrencies.
	if len(res.Latencies) != 6 || len(res.Throughput) != 6 {
		t.Errorf("%d latency series and %d throughput points, want 6 and 6", len(res.Latencies), len(res.Throughput))
	}
	for _, c := range []int{1, 2} {
		for _, id := range []string{"e2e/baseline-rate/c%d", "e2e/seal-vs-baseline/c%d", "e2e/seal-fsyncs/c%d",
			"e2e/seal-vs-baseline-crypto-bound/c%d", "e2e/seal-server-ceiling/c%d", "e2e/baseline-server-ceiling/c%d"} {
			if res.Row(fmt.Sprintf(id, c)) == nil {
				t.Errorf("no row "+id, c)
			}
		}
		// The server's CPU is a part of the server's and harness's: its
		// ceiling is the higher one. The least CPU consent could cost is the
		// baseline's and then some.
		for _, op := range []string{"seal", "baseline"} {
			all, server := res.Row(fmt.Sprintf("e2e/%s-cpu-ceiling/c%d", op, c)), res.Row(fmt.Sprintf("e2e/%s-server-ceiling/c%d", op, c))
			if all != nil && server != nil && !(server.Value > all.Value) {
				t.Errorf("%s c=%d: server-only ceiling %v not above the shared one %v", op, c, server.Value, all.Value)
			}
		}
		if b, m := res.Row(fmt.Sprintf("e2e/seal-vs-baseline-crypto-bound/c%d", c)), res.Row(fmt.Sprintf("e2e/seal-vs-baseline-cpu/c%d", c)); b != nil && m != nil {
			if !(b.Value > b.Baseline) || b.Baseline != m.Baseline {
				t.Errorf("c=%d: least CPU with consent %v against baseline %v (the measured row's baseline: %v)", c, b.Value, b.Baseline, m.Baseline)
			}
		}
	}
	if !strings.Contains(progress.String(), "part 5/6") || !strings.Contains(progress.String(), "\r") {
		t.Errorf("progress line missing or not rewritten in place: %.200q", progress.String())
	}
	checkProfile(t, res, out)
	checkMarkdown(t, res)
	checkFiles(t, res, out)
}

func checkProfile(t *testing.T, res *bench.Results, out string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, bench.FileProfile)); err != nil {
		t.Errorf("CPU profile: %v", err)
	}
	total := 0.0
	kinds := map[string]int{}
	for _, p := range res.Profile {
		kinds[p.Kind]++
		if p.Percent < 0 || p.Percent > 100 {
			t.Errorf("profile entry %q: %v%%", p.Name, p.Percent)
		}
		if p.Kind == bench.ProfileCategory {
			total += p.Percent
		}
	}
	if kinds[bench.ProfileCategory] == 0 || kinds[bench.ProfileStack] == 0 || kinds[bench.ProfileFunction] == 0 {
		t.Fatalf("profile summary %v lacks a kind", kinds)
	}
	if total < 98 || total > 102 {
		t.Errorf("profile categories add up to %.1f%%, want 100%%", total)
	}
}

func checkMarkdown(t *testing.T, res *bench.Results) {
	t.Helper()
	var md strings.Builder
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	text := md.String()
	if testing.Verbose() {
		t.Log("\n" + text)
	}
	if !strings.Contains(text, "| part | measure | value | baseline | ratio | goal |") {
		t.Errorf("no table header in:\n%s", text)
	}
	for _, row := range res.Rows {
		if !strings.Contains(text, row.Name) {
			t.Errorf("markdown lacks row %q", row.Name)
		}
	}
	if got := strings.Count(text, "\n| "); got < len(res.Rows)+1 {
		t.Errorf("%d table lines, want at least %d", got, len(res.Rows)+1)
	}
	if !strings.Contains(text, ">= 0.9x: ") || !strings.Contains(text, "<= 1.2x: ") {
		t.Errorf("goals not reported:\n%s", text)
	}
}

func checkFiles(t *testing.T, res *bench.Results, out string) {
	t.Helper()
	if err := res.WriteFiles(out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, bench.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := bench.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res) {
		t.Errorf("results changed through JSON")
	}
	for _, name := range []string{bench.FileLatency, bench.FileThroughput} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(bytes.NewReader(data))
		lines := 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed: %v", name, err)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
				lines++
			}
		}
		if lines < 2 {
			t.Errorf("%s draws %d lines, want one per series", name, lines)
		}
	}
}

// ageConfig runs part 6 alone, with no age cached from an earlier run.
func ageConfig(t *testing.T) bench.Config {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	cfg := bench.QuickConfig()
	cfg.Parts = []int{bench.PartAge}
	cfg.WorkDir = t.TempDir()
	cfg.AgeSize = 1 << 20
	return cfg
}

// fakeAge puts shell scripts named age and age-keygen first on PATH: the
// keygen writes an identity file, age copies its input (or fails when
// broken), so that part 6's plumbing runs without the network.
func fakeAge(t *testing.T, broken bool) {
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	dir := t.TempDir()
	keygen := "#!/bin/sh\nprintf '# created: now\\n# public key: age1fakerecipient\\nAGE-SECRET-KEY-1FAKE\\n' > \"$2\"\n"
	age := "#!/bin/sh\n[ \"$2\" = age1fakerecipient ] || exit 3\ncp \"$5\" \"$4\"\n"
	if broken {
		age = "#!/bin/sh\necho 'age: error: something broke' >&2\nexit 1\n"
	}
	for name, script := range map[string]string{"age": age, "age-keygen": keygen} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// TestAgeUnavailable: without age on PATH and without a go command to
// install it, part 6 says why and the run goes on.
func TestAgeUnavailable(t *testing.T) {
	cfg := ageConfig(t)
	t.Setenv("PATH", t.TempDir())
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkAgeSkipped(t, res, "no age on PATH and no go command")
}

// TestAgeFails: an age that fails is reported with its message, not as a
// failure of the run.
func TestAgeFails(t *testing.T) {
	cfg := ageConfig(t)
	fakeAge(t, true)
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkAgeSkipped(t, res, "age failed: exit status 1: age: error: something broke")
}

func checkAgeSkipped(t *testing.T, res *bench.Results, why string) {
	t.Helper()
	for _, id := range []string{"age/envelope", "age/envelope-cpu", "age/age"} {
		row := res.Row(id)
		if row == nil || !strings.Contains(row.Skipped, why) {
			t.Errorf("row %s: %+v, want skipped because %q", id, row, why)
		}
	}
	var md strings.Builder
	if err := res.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "not measured ("+why) {
		t.Errorf("markdown does not say why:\n%s", md.String())
	}
}

// TestAgeOnPath: an age on PATH is used with the recipient from its
// keygen, and both sides of the comparison are measured.
func TestAgeOnPath(t *testing.T) {
	cfg := ageConfig(t)
	fakeAge(t, false)
	res, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, id := range []string{"age/envelope", "age/envelope-cpu", "age/age"} {
		row := res.Row(id)
		if row == nil || row.Skipped != "" || row.Value <= 0 {
			t.Fatalf("row %s: %+v, want measured", id, row)
		}
	}
	if row := res.Row("age/envelope"); row.Baseline != res.Row("age/age").Value || row.Ratio <= 0 {
		t.Errorf("envelope row %+v does not compare with the age row", row)
	}
	if !strings.Contains(res.Row("age/age").Note, "age found on PATH") {
		t.Errorf("age row note %q does not say where age came from", res.Row("age/age").Note)
	}
}

func TestConfigRefused(t *testing.T) {
	for name, edit := range map[string]func(*bench.Config){
		"unknown part":       func(c *bench.Config) { c.Parts = []int{7} },
		"no server command":  func(c *bench.Config) { c.Parts = []int{4} },
		"zero rounds":        func(c *bench.Config) { c.Rounds = 0 },
		"tiny envelope":      func(c *bench.Config) { c.Parts, c.EnvelopeSize = []int{3}, 100 },
		"no concurrency":     func(c *bench.Config) { c.ServerCommand, c.Concurrency = []string{"x"}, nil },
		"huge concurrency":   func(c *bench.Config) { c.ServerCommand, c.Concurrency = []string{"x"}, []int{1 << 20} },
		"unsorted growth":    func(c *bench.Config) { c.ServerCommand, c.GrowthSizes = []string{"x"}, []int{100, 10} },
		"no approvals":       func(c *bench.Config) { c.ServerCommand, c.Approvals = []string{"x"}, 0 },
		"negative age size":  func(c *bench.Config) { c.Parts, c.AgeSize = []int{6}, -1 },
		"zero transfer size": func(c *bench.Config) { c.ServerCommand, c.Transfers = []string{"x"}, []int64{0} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := bench.QuickConfig()
			edit(&cfg)
			if _, err := bench.Run(context.Background(), cfg); !errors.Is(err, bench.ErrConfig) {
				t.Errorf("Run: %v, want ErrConfig", err)
			}
		})
	}
}

// TestServerChildFails: a server command that does not start a server is
// reported as the failure of the parts that need it, with the server's
// words, and the other parts still run.
func TestServerChildFails(t *testing.T) {
	cfg := bench.QuickConfig()
	cfg.Parts = []int{bench.PartEndToEnd, bench.PartEnvelope}
	cfg.Round, cfg.Rounds, cfg.EnvelopeSize = 5*time.Millisecond, 1, 1<<20
	cfg.WorkDir = t.TempDir()
	cfg.ServerCommand = []string{os.Args[0], "-data-dir-missing"}
	cfg.ServerEnv = []string{childEnv + "=1"}
	res, err := bench.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "part 4") || !strings.Contains(err.Error(), "before it was ready") {
		t.Fatalf("Run: %v, want part 4 to fail before the server was ready", err)
	}
	if res == nil || res.Row("envelope/seal") == nil || res.Row("envelope/seal").Value <= 0 {
		t.Fatalf("part 3 did not run after part 4 failed")
	}
	if len(res.Errors) != 1 {
		t.Errorf("errors %q, want one", res.Errors)
	}
}

func TestReadJSONStrict(t *testing.T) {
	good := `{"meta":{"date":"2026-01-02T03:04:05Z","cpu":"x","cores":2,"gomaxprocs":2,"go_version":"go1.26","os":"linux","arch":"amd64","quick":true,"seconds":1},"rows":[{"id":"a","part":1,"name":"n","value":1.5,"unit":"MB/s"}]}`
	r, err := bench.ReadJSON(strings.NewReader(good))
	if err != nil || r.Row("a") == nil || r.Row("a").Value != 1.5 {
		t.Fatalf("ReadJSON(good) = %+v, %v", r, err)
	}
	for name, bad := range map[string]string{
		"trailing data": good + `{}`,
		"unknown field": strings.Replace(good, `"cpu"`, `"cpux"`, 1),
		"truncated":     good[:len(good)-3],
		"not JSON":      "table",
	} {
		if _, err := bench.ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadJSON(%s) succeeded", name)
		}
	}
}

// TestCommittedResults: the full run committed with RESULTS.md still reads
// as Results, covers every part, and was measured whole (not quick, nothing
// skipped or failed), so that the document and the code agree.
func TestCommittedResults(t *testing.T) {
	f, err := os.Open(filepath.Join("results", bench.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := bench.ReadJSON(f)
	if err != nil {
		t.Fatalf("results/%s no longer reads as Results (run the full bench again): %v", bench.FileJSON, err)
	}
	if res.Meta.Quick || len(res.Errors) > 0 {
		t.Errorf("committed run: quick %v, errors %q", res.Meta.Quick, res.Errors)
	}
	parts := map[int]bool{}
	for _, row := range res.Rows {
		parts[row.Part] = true
		if row.Skipped != "" {
			t.Errorf("committed run: row %s not measured: %s", row.ID, row.Skipped)
		}
	}
	for p := bench.PartPrimitives; p <= bench.PartAge; p++ {
		if !parts[p] {
			t.Errorf("committed run has no row of part %d", p)
		}
	}
	for _, id := range []string{"e2e/seal-rate/c64", "e2e/upload-rss/1 GiB", "growth/store/100000", "pending/heap-10k"} {
		if res.Row(id) == nil {
			t.Errorf("committed run lacks row %s", id)
		}
	}
}

func TestParseParts(t *testing.T) {
	got, err := bench.ParseParts(" 6, 1,3")
	if err != nil || !reflect.DeepEqual(got, []int{6, 1, 3}) {
		t.Errorf("ParseParts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "7", "1,,2", "1,1", "two", "1;2", "99999999999999999999"} {
		if _, err := bench.ParseParts(bad); !errors.Is(err, bench.ErrConfig) {
			t.Errorf("ParseParts(%q) = %v, want ErrConfig", bad, err)
		}
	}
}
