package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/assent-dev/assent/bench"
	"github.com/assent-dev/assent/internal/progress"
)

func init() {
	register("bench", "measure the whole system and what the threshold step costs", runBench)
}

// benchChildFlag makes `assent bench` the server child of a benchmark run
// (bench.ServeChild) instead of the benchmark itself.
const benchChildFlag = "-internal-server-child"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == benchChildFlag {
		return bench.ServeChild(ctx, args[1:], os.Stdin, stdout, stderr)
	}
	fs := newFlagSet("bench", stderr)
	quick := fs.Bool("quick", false, "a short run (under two minutes): smaller records, shorter phases, 10^3 records")
	out := fs.String("out", "", "`directory` for the raw results (results.json), SVG charts and the server's CPU profile")
	parts := fs.String("parts", "", "comma-separated `list` of the parts to run, 1 to 6 (default all)")
	work := fs.String("work-dir", "", "`directory` for temporary data; a full run needs a few GiB (default the system's)")
	noProgress := fs.Bool("no-progress", false, "do not print the progress line on stderr")
	stores := fs.String("store", "sqlite", "comma-separated `list` of the stores part 4 runs on: sqlite, postgres, or both (the first runs the whole part, the others its sealing rates beside it)")
	var pgURL string
	e := &envFlags{fs: fs}
	e.secretStr(&pgURL, "postgres-url", "ASSENT_POSTGRES_URL", "PostgreSQL `URL` of store postgres (the run makes a schema there and drops it)")
	if e.err != nil {
		return e.err
	}
	fs.Usage = func() {
		// fs.Output, not stderr: parseFlags silences it while the flag
		// package parses, which calls Usage on -h as parseFlags does.
		w := fs.Output()
		fmt.Fprintln(w, "usage: assent bench [-quick] [-out DIR] [-parts 1,2,...] [-store sqlite,postgres -postgres-url URL]")
		fmt.Fprintln(w, "\nMeasures: 1 primitives, 2 protocol CPU per approval, 3 envelope against AES-GCM,")
		fmt.Fprintln(w, "4 end to end on loopback, 5 store growth and pending memory, 6 age. Prints a markdown table.")
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg := bench.FullConfig()
	if *quick {
		cfg = bench.QuickConfig()
	}
	if *parts != "" {
		p, err := bench.ParseParts(*parts)
		if err != nil {
			return fmt.Errorf("%w: -parts: %v", errUsage, err)
		}
		cfg.Parts = p
	}
	cfg.Stores = strings.Split(*stores, ",")
	if slices.Contains(cfg.Stores, bench.StorePostgres) {
		if pgURL == "" {
			return fmt.Errorf("%w: -store postgres needs -postgres-url or $ASSENT_POSTGRES_URL", errUsage)
		}
		cfg.PostgresURL = pgURL
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to start the server with: %w", err)
	}
	cfg.ServerCommand = []string{exe, "bench", benchChildFlag}
	cfg.OutDir, cfg.WorkDir = *out, *work
	if !*noProgress {
		cfg.Progress = progress.OnTerminal(stderr) // drawn only on a terminal
	}

	res, runErr := bench.Run(ctx, cfg)
	if res == nil {
		return runErr
	}
	if err := res.WriteMarkdown(stdout); err != nil {
		return err
	}
	if *out != "" {
		if err := res.WriteFiles(*out); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "assent bench: results, charts and profile in %s\n", *out)
	}
	return runErr
}
