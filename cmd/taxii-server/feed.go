package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// stixType is the STIX 2.1 rule for type names (3-250 chars, lower-case, digits, hyphens).
var stixType = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$`)

func runFeed(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 {
		return usageError{"feed: want create, list or delete"}
	}
	switch args[0] {
	case "create":
		return feedCreate(ctx, args[1:], c)
	case "list":
		return feedList(ctx, args[1:], c)
	case "delete":
		return feedDelete(ctx, args[1:], c)
	}
	return usageError{fmt.Sprintf("feed: unknown subcommand %q; want create, list or delete", args[0])}
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
		ID: newUUID(), Title: title, Description: description, Alias: alias,
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
		if !stixType.MatchString(t) || strings.Contains(t, "--") {
			return nil, fmt.Errorf("%q is not a STIX type name", t)
		}
		out = append(out, t)
	}
	return out, nil
}

func feedList(ctx context.Context, args []string, c *cli) error {
	st, _, _, _, err := commandStore(ctx, "feed list", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	feeds, err := st.ListFeeds(ctx)
	if err != nil {
		return err
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

func feedDelete(ctx context.Context, args []string, c *cli) error {
	st, fs, _, _, err := commandStore(ctx, "feed delete", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{"feed delete: want exactly one feed id"}
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
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
