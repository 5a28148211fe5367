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
	"github.com/assent-dev/assent/store/sqlite"
)

func init() {
	register("admin", "administer a data directory (admin client create)", runAdmin)
}

const adminUsage = "usage: assent admin client create --data-dir DIR --name NAME --scopes SCOPE[,SCOPE...]"

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

// clientCreate registers a third party in the store of a data directory and
// prints its API key, once. It opens the SQLite store directly, which is
// safe while a server runs on the same directory.
func clientCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin client create", stderr)
	dataDir := server.DefaultConfig().DataDir
	if v := os.Getenv("ASSENT_DATA_DIR"); v != "" {
		dataDir = v
	}
	fs.StringVar(&dataDir, "data-dir", dataDir, "data `directory` of the server ($ASSENT_DATA_DIR)")
	name := fs.String("name", "", "name of the third party, shown on the user's device")
	scopeList := fs.String("scopes", "", "comma-separated scopes: "+strings.Join(server.AllScopes, ", "))
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
	if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("data directory %s does not exist (run `assent serve -data-dir %s` once, or create it)", dataDir, dataDir)
	}
	st, err := sqlite.Open(ctx, dataDir)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
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
