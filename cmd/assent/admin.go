package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
)

func init() {
	register("admin", "administer a server's store (admin client create|list|revoke)", runAdmin)
}

const (
	storeFlagsUsage = "[--data-dir DIR | --store mongodb --mongodb-uri URI [--mongodb-database NAME] | --store postgres --postgres-url URL]"
	adminUsage      = "assent admin client create " + storeFlagsUsage + " --name NAME --scopes SCOPE[,SCOPE...]\n" +
		"       assent admin client list " + storeFlagsUsage + "\n" +
		"       assent admin client revoke " + storeFlagsUsage + " CLIENT_ID"
)

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) >= 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stderr, "usage: "+adminUsage)
		return nil
	}
	if len(args) >= 2 && args[0] == "client" {
		switch args[1] {
		case "create":
			return clientCreate(ctx, args[2:], stdout, stderr)
		case "list":
			return clientList(ctx, args[2:], stdout, stderr)
		case "revoke":
			return clientRevoke(ctx, args[2:], stdout, stderr)
		}
	}
	return fmt.Errorf("%w: %s", errUsage, adminUsage)
}

// adminFlags are the store flags of every admin subcommand, the same flags
// and variables as `assent serve`.
type adminFlags struct {
	fs  *flag.FlagSet
	cfg server.Config
	env *envFlags
}

func newAdminFlags(name string, stderr io.Writer) *adminFlags {
	a := &adminFlags{fs: newFlagSet("admin client "+name, stderr), cfg: server.DefaultConfig()}
	a.env = &envFlags{fs: a.fs}
	backendFlags(a.env, &a.cfg)
	return a
}

// parse parses args, which must leave wantArgs positional arguments.
func (a *adminFlags) parse(args []string, wantArgs int) error {
	if a.env.err != nil {
		return a.env.err
	}
	if err := parseFlags(a.fs, args); err != nil {
		return err
	}
	if a.fs.NArg() > wantArgs {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, a.fs.Arg(wantArgs))
	}
	if a.fs.NArg() < wantArgs {
		return fmt.Errorf("%w: %s", errUsage, adminUsage)
	}
	return nil
}

// openStore opens the store the parsed flags name. The store is opened
// directly, which is safe while servers run on it.
func (a *adminFlags) openStore(ctx context.Context) (store.Store, func(), error) {
	cfg := a.cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if cfg.Store == server.StoreSQLite {
		if fi, err := os.Stat(cfg.DataDir); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("data directory %s does not exist (run `assent serve -data-dir %s` once, or create it)", cfg.DataDir, cfg.DataDir)
		}
	}
	st, err := node.OpenStore(ctx, cfg, 0)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

// clientCreate registers a third party and prints its API key, once.
func clientCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("create", stderr)
	name := a.fs.String("name", "", "name of the third party, shown on the user's device (required)")
	scopeList := a.fs.String("scopes", "", "comma-separated scopes, required: "+strings.Join(server.AllScopes, ", "))
	if err := a.parse(args, 0); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	if *scopeList == "" {
		return fmt.Errorf("%w: --scopes is required (one or more of %s, comma-separated)", errUsage, strings.Join(server.AllScopes, ", "))
	}
	scopes, err := server.ParseScopes(*scopeList)
	if err != nil {
		return fmt.Errorf("%w: --scopes: %v", errUsage, err)
	}
	st, done, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	key, client, err := server.CreateClient(ctx, st, rand.Reader, time.Now(), *name, scopes)
	if err != nil {
		return fmt.Errorf("creating the client: %w", err)
	}
	fmt.Fprintf(stdout, "client_id: %s\napi_key: %s\n", client.ID, key)
	fmt.Fprintf(stderr, "The API key is shown only this once; the server keeps only its hash.\n")
	return nil
}

// clientList prints the registered third parties, oldest first: id, name,
// scopes and creation time (never a key or its hash).
func clientList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("list", stderr)
	if err := a.parse(args, 0); err != nil {
		return err
	}
	st, done, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.Clients(ctx, store.MaxLimit)
	if err != nil {
		return fmt.Errorf("listing the clients: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tSCOPES\tCREATED")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, strings.Join(c.Scopes, ","), c.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// clientRevoke removes a third party: its API key is refused (401) from the
// next call on, by every server on the store.
func clientRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("revoke", stderr)
	if err := a.parse(args, 1); err != nil {
		return err
	}
	id := a.fs.Arg(0)
	st, done, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := st.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("revoking client %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "revoked %s\n", id)
	return nil
}
