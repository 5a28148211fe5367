package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/assent-dev/assent/server"
)

func init() {
	register("admin", "administer a server's store (admin client create)", runAdmin)
}

const adminUsage = "usage: assent admin client create [--data-dir DIR | --store mongodb --mongodb-uri URI [--mongodb-database NAME]] --name NAME --scopes SCOPE[,SCOPE...]"

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) >= 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stderr, adminUsage)
		return nil
	}
	if len(args) < 2 || args[0] != "client" || args[1] != "create" {
		return fmt.Errorf("%w: %s", errUsage, adminUsage)
	}
	return clientCreate(ctx, args[2:], stdout, stderr)
}

// clientCreate registers a third party in the store of a server (the
// SQLite file of a data directory, or MongoDB, chosen by the same flags and
// variables as `assent serve`) and prints its API key, once. It opens the
// store directly, which is safe while servers run on it.
func clientCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin client create", stderr)
	cfg := server.DefaultConfig()
	e := &envFlags{fs: fs}
	backendFlags(e, &cfg)
	name := fs.String("name", "", "name of the third party, shown on the user's device")
	scopeList := fs.String("scopes", "", "comma-separated scopes: "+strings.Join(server.AllScopes, ", "))
	if e.err != nil {
		return e.err
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *name == "" {
		return fmt.Errorf("%w: -name is required", errUsage)
	}
	scopes, err := server.ParseScopes(*scopeList)
	if err != nil {
		return fmt.Errorf("%w: -scopes: %v", errUsage, err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if cfg.Store == server.StoreSQLite {
		if fi, err := os.Stat(cfg.DataDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("data directory %s does not exist (run `assent serve -data-dir %s` once, or create it)", cfg.DataDir, cfg.DataDir)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	key, client, err := server.CreateClient(ctx, st, rand.Reader, time.Now(), *name, scopes)
	if err != nil {
		return fmt.Errorf("creating the client: %w", err)
	}
	fmt.Fprintf(stdout, "client_id: %s\napi_key: %s\n", client.ID, key)
	fmt.Fprintf(stderr, "The API key is shown only this once; the server keeps only its hash.\n")
	return nil
}
