package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/assent-dev/assent/webapp"
)

func init() {
	register("app", "build or serve the approval app (the phone in a browser): app build, app serve", runApp)
}

func runApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want 'app build' or 'app serve'", errUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, "usage: assent app build --out DIR --api URL [--src DIR]")
		fmt.Fprintln(stderr, "       assent app serve --api URL [--listen ADDR] [--dir DIR] [--src DIR]")
		fmt.Fprintln(stderr, "Run 'assent app build -h' or 'assent app serve -h' for the flags.")
		return flag.ErrHelp
	case "build":
		return appBuild(ctx, args[1:], stdout, stderr)
	case "serve":
		return appServe(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown app command %q (want build or serve)", errUsage, args[0])
}

// appBuild is `assent app build --out DIR --api URL`: the bundle, with its
// SHA256SUMS, built from this source tree.
func appBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("app build", stderr)
	out := fs.String("out", "", "`directory` to write the bundle to (required)")
	api := fs.String("api", "", "`URL` of the Assent API the app talks to (required): the enrollment default and the CSP's connect-src")
	src := fs.String("src", "", "`directory` of the assent source tree the WebAssembly is built from (default: the current directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" || *api == "" {
		return fmt.Errorf("%w: --out and --api are required", errUsage)
	}
	b, err := webapp.Build(ctx, webapp.BuildOptions{Out: *out, API: *api, SrcDir: *src})
	if errors.Is(err, webapp.ErrAPIURL) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(filepath.Join(b.Dir, webapp.FileWasm))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "assent app: bundle %s written to %s (%d files, device.wasm %s); hashes in %s\n",
		b.Version, b.Dir, len(b.Sums), b.Sums[webapp.FileWasm][:16], webapp.FileSums)
	fmt.Fprintf(stdout, "device.wasm: %s, %s gzipped (budget %s)\n", mib(len(wasm)), mib(webapp.GzipSize(wasm)), mib(webapp.MaxWasmGzip))
	fmt.Fprintln(stdout, "Host it on an origin the API operator does not control, and list that origin with assent serve --app-origin.")
	return nil
}

// mib writes n bytes in MiB, with the exact count.
func mib(n int) string { return fmt.Sprintf("%.2f MiB (%d bytes)", float64(n)/(1<<20), n) }

// appServe is `assent app serve --listen ADDR --api URL [--dir DIR]`: it
// serves a built bundle (or builds one in a temporary directory) for trials.
func appServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("app serve", stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "TCP `address` to serve the app on")
	api := fs.String("api", "", "`URL` of the Assent API (required)")
	dir := fs.String("dir", "", "a bundle `directory` made by assent app build (default: build one now into a temporary directory)")
	src := fs.String("src", "", "`directory` of the assent source tree, when building")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *api == "" {
		return fmt.Errorf("%w: --api is required", errUsage)
	}
	origin, err := webapp.APIOrigin(*api)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "assent-app-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintln(stdout, "assent app: building the bundle (the WebAssembly takes a while)…")
		if _, err := webapp.Build(ctx, webapp.BuildOptions{Out: tmp, API: *api, SrcDir: *src}); err != nil {
			return err
		}
		*dir = tmp
	}
	sums, err := webapp.ReadSums(*dir)
	if err != nil {
		return err
	}
	if err := webapp.Verify(*dir, sums); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: webapp.Handler(*dir, webapp.CSP(origin), sums), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "assent app: serving the approval app on http://%s (API %s); for trials only\n", ln.Addr(), *api)
	fmt.Fprintf(stdout, "The API must allow this origin: assent serve --app-origin http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
