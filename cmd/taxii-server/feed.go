package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

const feedUsage = `Usage: taxii-server feed COMMAND [flags]

Commands:
  create --title T [--description D] [--types a,b] [--alias A] [--writable]
  list [--json]
  delete ID|ALIAS

'taxii-server feed COMMAND --help' shows a command's flags.
`

func runFeed(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 {
		return usageError{"feed: want create, list or delete (see taxii-server feed --help)"}
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(c.stdout, feedUsage)
		return nil
	case "create":
		return feedCreate(ctx, args[1:], c)
	case "list":
		return feedList(ctx, args[1:], c)
	case "delete":
		return feedDelete(ctx, args[1:], c)
	}
	return usageError{fmt.Sprintf("feed: unknown subcommand %q; want create, list or delete (see taxii-server feed --help)", args[0])}
}

func feedCreate(ctx context.Context, args []string, c *cli) error {
	var title, description, types, alias string
	var writable bool
	st, _, _, _, err := commandStore(ctx, "feed create", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&title, "title", "", "feed title (required)")
		fs.StringVar(&description, "description", "", "feed description")
		fs.StringVar(&types, "types", "", "comma-separated STIX types the feed exports; empty: all")
		fs.StringVar(&alias, "alias", "", "optional unique alias, usable instead of the id in URLs")
		fs.BoolVar(&writable, "writable", false, "accept objects through the TAXII add-objects endpoint")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	if strings.TrimSpace(title) == "" {
		return usageError{"feed create: --title is required"}
	}
	f := store.Feed{
		ID: uuid.NewString(), Title: title, Description: description, Alias: alias,
		Writable: writable, CreatedAt: time.Now().UTC(),
	}
	if f.Filter.Types, err = parseTypes(types); err != nil {
		return usageError{"feed create: " + err.Error()}
	}
	if alias != "" && (strings.ContainsAny(alias, "/?#% ") || len(alias) > 200) {
		return usageError{"feed create: --alias must be a URL path segment (no / ? # % or spaces)"}
	}
	if err := st.CreateFeed(ctx, f); err != nil {
		if isConflict(err) {
			return fmt.Errorf("feed create: alias %q is already used", alias)
		}
		return err
	}
	fmt.Fprintln(c.stdout, f.ID)
	fmt.Fprintf(c.stderr, "created feed %q; use %s as the Collection ID\n", title, f.ID)
	return nil
}

func parseTypes(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !stix.ValidTypeName(t) {
			return nil, fmt.Errorf("%q is not a STIX type name", t)
		}
		out = append(out, t)
	}
	return out, nil
}

// feedJSON is a feed in list --json output.
type feedJSON struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Alias       string    `json:"alias,omitempty"`
	Types       []string  `json:"types"`
	Writable    bool      `json:"writable"`
	CreatedAt   time.Time `json:"created_at"`
}

func feedList(ctx context.Context, args []string, c *cli) error {
	var asJSON bool
	st, _, _, _, err := commandStore(ctx, "feed list", args, c, jsonFlag(&asJSON))
	if err != nil {
		return err
	}
	defer st.Close()
	feeds, err := st.ListFeeds(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]feedJSON, 0, len(feeds))
		for _, f := range feeds {
			out = append(out, feedJSON{ID: f.ID, Title: f.Title, Description: f.Description, Alias: f.Alias,
				Types: append([]string{}, f.Filter.Types...), Writable: f.Writable, CreatedAt: f.CreatedAt.UTC()})
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tALIAS\tTYPES\tWRITABLE\tCREATED")
	for _, f := range feeds {
		types := strings.Join(f.Filter.Types, ",")
		if types == "" {
			types = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", f.ID, f.Title, f.Alias, types, f.Writable, f.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// jsonFlag adds --json to a list command.
func jsonFlag(on *bool) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) { fs.BoolVar(on, "json", false, "print a JSON array instead of a table") }
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func feedDelete(ctx context.Context, args []string, c *cli) error {
	st, fs, _, _, err := commandStore(ctx, "feed delete", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{"feed delete: want exactly one feed id or alias"}
	}
	f, err := st.GetFeed(ctx, fs.Arg(0))
	if err == nil {
		err = st.DeleteFeed(ctx, f.ID)
	}
	if isNotFound(err) {
		return fmt.Errorf("feed delete: no feed %q", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "deleted feed %s (its objects stay in the store)\n", f.ID)
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	var scoped []string
	for _, k := range keys {
		if k.RevokedAt.IsZero() && slices.Contains(k.Feeds, f.ID) {
			scoped = append(scoped, fmt.Sprintf("%s (%s)", k.Name, k.ID))
		}
	}
	if len(scoped) > 0 {
		fmt.Fprintf(c.stderr, "warning: %d active key(s) were scoped to this feed and can no longer read it: %s\n"+
			"revoke them with 'taxii-server key revoke ID' when no longer needed\n", len(scoped), strings.Join(scoped, ", "))
	}
	return nil
}
