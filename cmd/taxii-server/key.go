package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/store"
)

const keyUsage = `Usage: taxii-server key COMMAND [flags]

Commands:
  create --name N --role read-only|read-write|admin [--feeds ID,...]
  list [--json]
  revoke ID|NAME

'taxii-server key COMMAND --help' shows a command's flags.
`

func runKey(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 {
		return usageError{"key: want create, list or revoke (see taxii-server key --help)"}
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(c.stdout, keyUsage)
		return nil
	case "create":
		return keyCreate(ctx, args[1:], c)
	case "list":
		return keyList(ctx, args[1:], c)
	case "revoke":
		return keyRevoke(ctx, args[1:], c)
	}
	return usageError{fmt.Sprintf("key: unknown subcommand %q; want create, list or revoke (see taxii-server key --help)", args[0])}
}

func keyCreate(ctx context.Context, args []string, c *cli) error {
	var name, role, feeds, source string
	svc, _, err := commandService(ctx, "key create", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "a name for the key's holder, e.g. sentinel-prod (required)")
		fs.StringVar(&role, "role", "read-only", "read-only, read-write or admin")
		fs.StringVar(&feeds, "feeds", "", "comma-separated feed ids or aliases the key may use; empty: all feeds")
		fs.StringVar(&source, "source", "", "source recorded on what the key stores; a key that is not an admin may change only its source's objects (default: the name)")
	})
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	plain, k, err := svc.CreateKey(ctx, admin.CLI, admin.KeyInput{Name: name, Role: role, Feeds: strings.Split(feeds, ","), Source: source})
	if err != nil {
		return adminError("key create", err)
	}
	fmt.Fprintln(c.stdout, plain)
	fmt.Fprintf(c.stderr, "created %s key %q (id %s). It is shown once: store it now; the server keeps only its hash.\n", role, name, k.ID)
	return nil
}

// keyJSON is a key in list --json output; never the secret nor its hash.
type keyJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Role       string          `json:"role"`
	Feeds      []admin.KeyFeed `json:"feeds"` // empty: every feed
	CreatedAt  time.Time       `json:"created_at"`
	LastUsedAt *time.Time      `json:"last_used_at"`
	RevokedAt  *time.Time      `json:"revoked_at"`
}

func keyList(ctx context.Context, args []string, c *cli) error {
	var asJSON bool
	svc, _, err := commandService(ctx, "key list", args, c, jsonFlag(&asJSON))
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	keys, err := svc.ListKeys(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON{ID: k.ID, Name: k.Name, Role: string(k.Role), Feeds: k.Scope,
				CreatedAt: k.CreatedAt.UTC(), LastUsedAt: optTime(k.LastUsedAt), RevokedAt: optTime(k.RevokedAt)})
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tFEEDS\tSOURCE\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		var names []string
		for _, f := range k.Scope {
			switch {
			case f.Deleted:
				names = append(names, f.ID+" (deleted feed)")
			case f.Alias != "":
				names = append(names, f.Alias)
			default:
				names = append(names, strconvQuote(f.Title))
			}
		}
		list := strings.Join(names, ", ")
		if len(k.Feeds) == 0 {
			list = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, list, k.Source,
			when(k.CreatedAt), when(k.LastUsedAt), when(k.RevokedAt))
	}
	return tw.Flush()
}

// strconvQuote quotes a title only when it has spaces or commas, so the column stays readable.
func strconvQuote(s string) string {
	if strings.ContainsAny(s, " ,\t") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func when(t time.Time) string { return admin.When(t) }

// keyRevoke revokes a key named by its id or, when the name is unambiguous among
// active keys, by its name.
func keyRevoke(ctx context.Context, args []string, c *cli) error {
	svc, fs, err := commandService(ctx, "key revoke", args, c, nil)
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	if fs.NArg() != 1 {
		return usageError{"key revoke: want exactly one key id or name (see key list)"}
	}
	k, err := svc.RevokeKey(ctx, admin.CLI, fs.Arg(0))
	if err != nil {
		return adminError("key revoke", err)
	}
	fmt.Fprintf(c.stderr, "revoked key %s (%s)\n", k.ID, k.Name)
	return nil
}

// adminError words a refusal of the admin service as the CLI always has:
// "COMMAND: message", a usage error (exit 2) when the input was wrong.
func adminError(cmd string, err error) error {
	var ae *admin.Error
	if !errors.As(err, &ae) {
		return err
	}
	if errors.Is(ae.Err, admin.ErrInvalid) {
		return usageError{cmd + ": " + ae.Message}
	}
	return errors.New(cmd + ": " + ae.Message)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
