package main

import (
	"context"
	"fmt"
	"io"

	"github.com/assent-dev/assent/internal/version"
)

func init() {
	register("version", "print the version of this binary (also --version)", runVersion)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	fmt.Fprintln(stdout, "assent", version.String())
	return nil
}
