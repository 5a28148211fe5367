// Command assent is the one Assent binary: the server (serve), the device
// agent (device), the end-to-end demonstration (demo), the benchmark harness
// (bench) and admin commands (admin).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of assent. Each lives in its own file and
// registers itself in init, so that the parts of the binary stay independent.
type command struct {
	summary string
	// run gets the arguments after the subcommand name. It returns errUsage
	// (wrapped) for bad flags or arguments.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// errUsage marks an error caused by how the command was called (exit code 2).
var errUsage = errors.New("usage")

// exitError is an error with its own exit code (above 2), for commands
// whose help lists what each code means.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: assent <command> [flags]")
	fmt.Fprintln(w)
	listCommands(w, commands, 8)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'assent <command> -h' for a command's flags.")
}

// listCommands prints one line per command, sorted by name, the names padded
// to width.
func listCommands(w io.Writer, cmds map[string]command, width int) {
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, name, cmds[name].summary)
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "assent: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "assent %s: %v\n", args[0], err)
		return 2
	case errors.As(err, new(*exitError)):
		var ee *exitError
		errors.As(err, &ee)
		fmt.Fprintf(stderr, "assent %s: %v\n", args[0], err)
		return ee.code
	default:
		fmt.Fprintf(stderr, "assent %s: %v\n", args[0], err)
		return 1
	}
}

// newFlagSet returns a flag set for a subcommand that reports errors instead
// of exiting, and prints its usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("assent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args into fs and turns a flag error into errUsage. A
// mistyped flag gives the error and one line pointing at -h, not the whole
// list of flags; -h prints the list.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	}
	return fmt.Errorf("%w: %v (run '%s -h' for the flags)", errUsage, err, fs.Name())
}
