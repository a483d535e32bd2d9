package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inthreat/taxii-server/internal/auth"
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
	st, _, _, _, err := commandStore(ctx, "key create", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "a name for the key's holder, e.g. sentinel-prod (required)")
		fs.StringVar(&role, "role", "read-only", "read-only, read-write or admin")
		fs.StringVar(&feeds, "feeds", "", "comma-separated feed ids or aliases the key may use; empty: all feeds")
		fs.StringVar(&source, "source", "", "source recorded on what the key stores; a key that is not an admin may change only its source's objects (default: the name)")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	if strings.TrimSpace(name) == "" {
		return usageError{"key create: --name is required"}
	}
	if !store.Role(role).Valid() {
		return usageError{fmt.Sprintf("key create: --role %q is not read-only, read-write or admin", role)}
	}
	var ids []string
	for _, f := range strings.Split(feeds, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		feed, err := st.GetFeed(ctx, f)
		if isNotFound(err) {
			return fmt.Errorf("key create: no feed %q", f)
		}
		if err != nil {
			return err
		}
		ids = append(ids, feed.ID)
	}
	plain, k, err := auth.Generate(name, store.Role(role), ids, time.Now().UTC())
	if err != nil {
		return err
	}
	k.Source = strings.TrimSpace(source) // "": the store records the name
	if err := st.CreateKey(ctx, k); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, plain)
	fmt.Fprintf(c.stderr, "created %s key %q (id %s). It is shown once: store it now; the server keeps only its hash.\n", role, name, k.ID)
	return nil
}

// keyJSON is a key in list --json output; never the secret nor its hash.
type keyJSON struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Role       string        `json:"role"`
	Feeds      []keyFeedJSON `json:"feeds"` // empty: every feed
	CreatedAt  time.Time     `json:"created_at"`
	LastUsedAt *time.Time    `json:"last_used_at"`
	RevokedAt  *time.Time    `json:"revoked_at"`
}

type keyFeedJSON struct {
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	Alias   string `json:"alias,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

func keyList(ctx context.Context, args []string, c *cli) error {
	var asJSON bool
	st, _, _, _, err := commandStore(ctx, "key list", args, c, jsonFlag(&asJSON))
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	feeds, err := st.ListFeeds(ctx)
	if err != nil {
		return err
	}
	byID := map[string]store.Feed{}
	for _, f := range feeds {
		byID[strings.ToLower(f.ID)] = f
	}
	scope := func(k store.APIKey) []keyFeedJSON {
		out := []keyFeedJSON{}
		for _, id := range k.Feeds {
			f, ok := byID[strings.ToLower(id)]
			out = append(out, keyFeedJSON{ID: id, Title: f.Title, Alias: f.Alias, Deleted: !ok})
		}
		return out
	}
	if asJSON {
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON{ID: k.ID, Name: k.Name, Role: string(k.Role), Feeds: scope(k),
				CreatedAt: k.CreatedAt.UTC(), LastUsedAt: optTime(k.LastUsedAt), RevokedAt: optTime(k.RevokedAt)})
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tFEEDS\tSOURCE\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		var names []string
		for _, f := range scope(k) {
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

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keyRevoke revokes a key named by its id or, when the name is unambiguous among
// active keys, by its name.
func keyRevoke(ctx context.Context, args []string, c *cli) error {
	st, fs, _, _, err := commandStore(ctx, "key revoke", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{"key revoke: want exactly one key id or name (see key list)"}
	}
	arg := fs.Arg(0)
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	var target *store.APIKey
	var active, revoked []store.APIKey
	for i, k := range keys {
		if strings.EqualFold(k.ID, arg) {
			target = &keys[i]
			break
		}
		if k.Name == arg {
			if k.RevokedAt.IsZero() {
				active = append(active, k)
			} else {
				revoked = append(revoked, k)
			}
		}
	}
	if target == nil {
		switch {
		case len(active) == 1:
			target = &active[0]
		case len(active) > 1:
			var b strings.Builder
			fmt.Fprintf(&b, "key revoke: %d active keys are named %q; give the id of one:", len(active), arg)
			for _, k := range active {
				fmt.Fprintf(&b, "\n  %s  %s  created %s  last used %s", k.ID, k.Role, when(k.CreatedAt), when(k.LastUsedAt))
			}
			return errors.New(b.String())
		case len(revoked) > 0:
			return fmt.Errorf("key revoke: the key named %q is already revoked (%s)", arg, when(revoked[len(revoked)-1].RevokedAt))
		default:
			return fmt.Errorf("key revoke: no key has the id or name %q (see key list)", arg)
		}
	}
	if !target.RevokedAt.IsZero() {
		return fmt.Errorf("key revoke: key %s (%s) is already revoked (%s)", target.ID, target.Name, when(target.RevokedAt))
	}
	if err := st.RevokeKey(ctx, target.ID); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "revoked key %s (%s)\n", target.ID, target.Name)
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
