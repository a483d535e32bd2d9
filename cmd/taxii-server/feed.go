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

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
)

const feedUsage = `Usage: taxii-server feed COMMAND [flags]

Commands:
  create --title T [--description D] [--alias A] [--writable] [--format F [--template T]] [filters]
  update ID|ALIAS [--title T] [--description D] [--alias A] [--writable] [--format F [--template T]] [filters]
  show ID|ALIAS
  list [--json]
  delete ID|ALIAS

'taxii-server feed COMMAND --help' shows a command's flags and filters.
`

func runFeed(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 {
		return usageError{"feed: want create, update, show, list or delete (see taxii-server feed --help)"}
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(c.stdout, feedUsage)
		return nil
	case "create":
		return feedCreate(ctx, args[1:], c)
	case "update":
		return feedUpdate(ctx, args[1:], c)
	case "show":
		return feedShow(ctx, args[1:], c)
	case "list":
		return feedList(ctx, args[1:], c)
	case "delete":
		return feedDelete(ctx, args[1:], c)
	}
	return usageError{fmt.Sprintf("feed: unknown subcommand %q; want create, update, show, list or delete (see taxii-server feed --help)", args[0])}
}

// feedFlags are the flags of feed create and feed update: the feed's own
// fields, then one flag per filter of package feed.
type feedFlags struct {
	title, description, alias string
	writable                  bool
	format, template          string
	filter                    map[string]*string
}

func (ff *feedFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&ff.title, "title", "", "feed title (required by create)")
	fs.StringVar(&ff.description, "description", "", "feed description; empty: the collection says what the filter holds")
	fs.StringVar(&ff.alias, "alias", "", "optional unique alias, usable instead of the id in URLs")
	fs.BoolVar(&ff.writable, "writable", false, "accept objects through the TAXII add-objects endpoint")
	fs.StringVar(&ff.format, "format", "", "default format of the feed export API when a request names none: json, text, csv or custom")
	fs.StringVar(&ff.template, "template", "", "with --format custom: its template ($id $name $type $tlp $confidence $valid_until $observables)")
	ff.filter = map[string]*string{}
	for _, f := range feed.Flags {
		v := new(string)
		ff.filter[f.Name] = v
		if f.Bool {
			fs.Func(f.Name, f.Usage, func(s string) error { *v = s; return nil })
			boolFlag(fs, f.Name)
		} else {
			fs.StringVar(v, f.Name, "", f.Usage)
		}
	}
}

// change is what the flags given (set) ask of the feed.
func (ff *feedFlags) change(set map[string]bool) admin.FeedChange {
	c := admin.FeedChange{Filter: map[string]string{}}
	if set["title"] {
		c.Title = &ff.title
	}
	if set["description"] {
		c.Description = &ff.description
	}
	if set["alias"] {
		c.Alias = &ff.alias
	}
	if set["writable"] {
		c.Writable = &ff.writable
	}
	if set["format"] {
		c.Format = &ff.format
	}
	if set["template"] {
		c.Template = &ff.template
	}
	for _, fl := range feed.Flags {
		if set[fl.Name] {
			c.Filter[fl.Name] = *ff.filter[fl.Name]
		}
	}
	return c
}

// boolFlag lets a fs.Func flag be given without a value, as a boolean.
func boolFlag(fs *flag.FlagSet, name string) {
	fl := fs.Lookup(name)
	fl.Value = boolValue{fl.Value}
	fl.DefValue = "false"
}

type boolValue struct{ flag.Value }

func (boolValue) IsBoolFlag() bool { return true }

// idLast moves a leading feed id or alias after the flags, where the flag
// package leaves positional arguments: "feed update ID --tlp red" then parses.
func idLast(args []string) []string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return append(slices.Clone(args[1:]), args[0])
	}
	return args
}

func visited(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func feedCreate(ctx context.Context, args []string, c *cli) error {
	var ff feedFlags
	svc, fs, err := commandService(ctx, "feed create", args, c, ff.register)
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	f, err := svc.CreateFeed(ctx, admin.CLI, ff.change(visited(fs)))
	if err != nil {
		return adminError("feed create", err)
	}
	fmt.Fprintln(c.stdout, f.ID)
	fmt.Fprintf(c.stderr, "created feed %q (%s); use %s as the Collection ID\n", f.Title, feed.Describe(f.Filter), f.ID)
	return nil
}

func feedUpdate(ctx context.Context, args []string, c *cli) error {
	var ff feedFlags
	svc, fs, err := commandService(ctx, "feed update", idLast(args), c, ff.register)
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	if fs.NArg() != 1 {
		return usageError{"feed update: want exactly one feed id or alias"}
	}
	f, err := svc.UpdateFeed(ctx, admin.CLI, fs.Arg(0), ff.change(visited(fs)))
	if err != nil {
		return adminError("feed update", err)
	}
	fmt.Fprintf(c.stderr, "updated feed %s: %s\n", f.ID, feed.Describe(f.Filter))
	return nil
}

func feedShow(ctx context.Context, args []string, c *cli) error {
	st, fs, _, _, err := commandStore(ctx, "feed show", idLast(args), c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{"feed show: want exactly one feed id or alias"}
	}
	f, err := st.GetFeed(ctx, fs.Arg(0))
	if isNotFound(err) {
		return fmt.Errorf("feed show: no feed %q", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	count, newest, err := st.FeedStats(ctx, f.Filter)
	if err != nil {
		return err
	}
	newestText := "(none)"
	if newest > 0 {
		newestText = store.FormatDateAdded(newest)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, line := range [][2]string{
		{"id", f.ID}, {"title", f.Title}, {"description", f.Description}, {"alias", f.Alias},
		{"writable", fmt.Sprint(f.Writable)}, {"created", f.CreatedAt.UTC().Format(time.RFC3339)},
		{"filter", feed.Describe(f.Filter)},
		{"types", strings.Join(f.Filter.Types, ",")}, {"exclude-types", strings.Join(f.Filter.ExcludeTypes, ",")},
		{"tlp", tlpList(f.Filter.TLP)}, {"sources", strings.Join(f.Filter.Sources, ",")},
		{"created-by", strings.Join(f.Filter.CreatedBy, ",")}, {"min-confidence", fmt.Sprint(f.Filter.MinConfidence)},
		{"labels", strings.Join(f.Filter.Labels, ",")}, {"exclude-revoked", fmt.Sprint(f.Filter.ExcludeRevoked)},
		{"exclude-expired", fmt.Sprint(f.Filter.ExcludeExpired)}, {"with-context", fmt.Sprint(f.Filter.WithContext)},
		{"format", exportFormat(f)}, {"template", f.ExportTemplate},
		{"objects", fmt.Sprint(count)}, {"newest date_added", newestText}, {"building", building(f)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", line[0], line[1])
	}
	return tw.Flush()
}

// building says whether the feed's entries are still being gathered, and what then happens.
func building(f store.Feed) string {
	if f.Building {
		return "yes: its objects answer 503 until the build is finished (serve does it within a minute)"
	}
	return "no"
}

func tlpList(levels []store.TLP) string {
	var names []string
	for _, l := range levels {
		names = append(names, strings.ToLower(feed.TLPName(l)))
	}
	return strings.Join(names, ",")
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
	Format      string    `json:"format"`             // default of the feed export API
	Template    string    `json:"template,omitempty"` // with format custom
}

// exportFormat is the feed's default export format by name.
func exportFormat(f store.Feed) string {
	if f.ExportFormat == "" {
		return "json"
	}
	return f.ExportFormat
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
				Types: append([]string{}, f.Filter.Types...), Writable: f.Writable, CreatedAt: f.CreatedAt.UTC(),
				Format: exportFormat(f), Template: f.ExportTemplate})
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tALIAS\tTYPES\tWRITABLE\tFORMAT\tCREATED")
	for _, f := range feeds {
		types := strings.Join(f.Filter.Types, ",")
		if types == "" {
			types = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\n", f.ID, f.Title, f.Alias, types, f.Writable, exportFormat(f), f.CreatedAt.UTC().Format(time.RFC3339))
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
	svc, fs, err := commandService(ctx, "feed delete", args, c, nil)
	if err != nil {
		return err
	}
	defer svc.Store().Close()
	if fs.NArg() != 1 {
		return usageError{"feed delete: want exactly one feed id or alias"}
	}
	f, keys, err := svc.DeleteFeed(ctx, admin.CLI, fs.Arg(0))
	if err != nil && f.ID == "" {
		return adminError("feed delete", err)
	}
	fmt.Fprintf(c.stderr, "deleted feed %s (its objects stay in the store)\n", f.ID)
	if err != nil {
		return err
	}
	var scoped []string
	for _, k := range keys {
		scoped = append(scoped, fmt.Sprintf("%s (%s)", k.Name, k.ID))
	}
	if len(scoped) > 0 {
		fmt.Fprintf(c.stderr, "warning: %d active key(s) were scoped to this feed and can no longer read it: %s\n"+
			"revoke them with 'taxii-server key revoke ID' when no longer needed\n", len(scoped), strings.Join(scoped, ", "))
	}
	return nil
}
