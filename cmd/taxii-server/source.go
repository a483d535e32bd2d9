package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inthreat/taxii-server/internal/sources"
	"github.com/inthreat/taxii-server/internal/store"
)

// Upstream source intervals: shorter would hammer upstreams, longer is a mistake.
const (
	minSourceInterval     = time.Second
	maxSourceInterval     = 30 * 24 * time.Hour
	defaultSourceInterval = time.Hour
)

const sourceUsage = `Usage: taxii-server source COMMAND [flags]

Commands:
  add --name N --url COLLECTION_URL [--taxii 2.1|2.0] [--user U --password-file F | --token-file F]
      [--interval 1h] [--added-after T] [--types a,b] [--ca FILE] [--insecure-skip-verify]
  list
  pause|resume|run-now|remove NAME

'taxii-server source COMMAND --help' shows a command's flags.
`

// runSource manages upstream TAXII sources and reports provenance: every
// stored version records its source (a key's, an import's, or an upstream's
// name), and writers that are not admins may change only their own source's objects.
func runSource(ctx context.Context, args []string, c *cli) error {
	const want = "want add, list, pause, resume, run-now or remove (see taxii-server source --help)"
	if len(args) == 0 {
		return usageError{"source: " + want}
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(c.stdout, sourceUsage)
		return nil
	case "add":
		return sourceAdd(ctx, args[1:], c)
	case "list":
		return sourceList(ctx, args[1:], c)
	case "pause", "resume", "run-now", "remove":
		return sourceChange(ctx, args[0], args[1:], c)
	}
	return usageError{fmt.Sprintf("source: unknown subcommand %q; %s", args[0], want)}
}

func sourceAdd(ctx context.Context, args []string, c *cli) error {
	var name, rawURL, version, user, passwordFile, tokenFile, addedAfter, types, caFile string
	var interval time.Duration
	var insecure bool
	st, _, _, _, err := commandStore(ctx, "source add", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the source's name, recorded as the provenance of what it stores (required)")
		fs.StringVar(&rawURL, "url", "", "the upstream collection's URL, https://host/api-root/collections/ID/ (required)")
		fs.StringVar(&version, "taxii", sources.TAXII21, "the upstream's TAXII version: 2.1 or 2.0")
		fs.StringVar(&user, "user", "", "HTTP Basic user name, with --password-file")
		fs.StringVar(&passwordFile, "password-file", "", "file holding the HTTP Basic password")
		fs.StringVar(&tokenFile, "token-file", "", "file holding a Bearer token (instead of --user)")
		fs.DurationVar(&interval, "interval", defaultSourceInterval, "time between the end of a pull and the next")
		fs.StringVar(&addedAfter, "added-after", "", "first pull: only objects added upstream after this RFC 3339 time; empty: everything")
		fs.StringVar(&types, "types", "", "comma-separated STIX types to pull; empty: every type")
		fs.StringVar(&caFile, "ca", "", "PEM file of CA certificates to trust for this upstream, besides the system's")
		fs.BoolVar(&insecure, "insecure-skip-verify", false, "do not verify the upstream's TLS certificate (dangerous)")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	name = strings.TrimSpace(name)
	if name == "" || rawURL == "" {
		return usageError{"source add: --name and --url are required"}
	}
	if interval < minSourceInterval || interval > maxSourceInterval {
		return usageError{fmt.Sprintf("source add: --interval %s must be between %s and %s", interval, minSourceInterval, maxSourceInterval)}
	}
	if addedAfter != "" {
		if _, err := time.Parse(time.RFC3339Nano, addedAfter); err != nil {
			return usageError{fmt.Sprintf("source add: --added-after %q is not an RFC 3339 time", addedAfter)}
		}
	}
	if user != "" && tokenFile != "" || (user == "") != (passwordFile == "") {
		return usageError{"source add: give --user with --password-file, or --token-file, or neither"}
	}
	u := store.Upstream{Name: name, URL: rawURL, TAXIIVersion: version, User: user, Insecure: insecure,
		Interval: interval, AddedAfter: addedAfter, Types: splitList(types)}
	if u.Password, err = readSecret(passwordFile); err != nil {
		return err
	}
	if u.Token, err = readSecret(tokenFile); err != nil {
		return err
	}
	if _, err := sources.NewClient(sources.Upstream{URL: rawURL, Version: version}, nil); err != nil {
		return usageError{"source add: " + err.Error()}
	}
	if caFile != "" {
		if u.CAPEM, err = os.ReadFile(caFile); err != nil {
			return err
		}
		if _, err := sources.HTTPClientPEM(u.CAPEM, false, 0); err != nil {
			return fmt.Errorf("source add: --ca %s: %w", caFile, err)
		}
	}
	if insecure {
		fmt.Fprintf(c.stderr, "WARNING: source %q: the upstream's TLS certificate will not be verified; anyone on the path can read its credentials and forge its content. Prefer --ca.\n", name)
	}
	if _, err := st.CreateUpstream(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("source add: a source named %q exists", name)
		}
		return err
	}
	fmt.Fprintf(c.stdout, "added source %q: serve pulls it now, then every %s\n", name, interval)
	return nil
}

// readSecret reads a secret file, without its trailing newline; "" for no file.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func sourceChange(ctx context.Context, cmd string, args []string, c *cli) error {
	st, fs, _, _, err := commandStore(ctx, "source "+cmd, idLast(args), c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("source %s: want one source name", cmd)}
	}
	name := fs.Arg(0)
	switch cmd {
	case "pause", "resume":
		err = st.PauseUpstream(ctx, name, cmd == "pause")
	case "run-now":
		err = st.RunUpstreamNow(ctx, name)
	default:
		err = st.DeleteUpstream(ctx, name)
	}
	if isNotFound(err) {
		return fmt.Errorf("source %s: no source %q", cmd, name)
	}
	if err != nil {
		return err
	}
	done := map[string]string{"pause": "paused", "resume": "resumed", "run-now": "will be pulled at serve's next poll", "remove": "removed (its objects stay)"}[cmd]
	fmt.Fprintf(c.stdout, "source %q %s\n", name, done)
	return nil
}

// sourceList prints the upstream sources, then every provenance source of
// stored objects with its object count. Secrets are never printed.
func sourceList(ctx context.Context, args []string, c *cli) error {
	st, _, _, _, err := commandStore(ctx, "source list", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	ups, err := st.ListUpstreams(ctx)
	if err != nil {
		return err
	}
	counts, err := st.ListSources(ctx)
	if err != nil {
		return err
	}
	if len(ups) > 0 {
		printUpstreams(c.stdout, ups, time.Now())
		fmt.Fprintln(c.stdout)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tOBJECTS")
	for _, s := range counts {
		fmt.Fprintf(tw, "%s\t%d\n", s.Source, s.Objects)
	}
	return tw.Flush()
}

// printUpstreams writes one line per upstream source. Counts are
// pulled/stored/unchanged/conflicting/rejected/converted.
func printUpstreams(w io.Writer, ups []store.Upstream, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPSTREAM\tSTATE\tTAXII\tLAST_SUCCESS\tLAST_RUN(p/s/u/k/r/c)\tTOTAL(p/s/u/k/r/c)\tWATERMARK\tLAG\tURL\tLAST_ERROR")
	for _, u := range ups {
		state := "scheduled"
		switch {
		case u.Paused:
			state = "paused"
		case u.LeaseOwner != "" && u.LeaseUntil.After(now):
			state = "running"
		case u.RunNow || !u.NextRun.After(now):
			state = "due"
		}
		lag := "-"
		if wm, err := time.Parse(time.RFC3339Nano, u.Watermark); err == nil {
			lag = now.Sub(wm).Round(time.Second).String()
		}
		lastErr := "-"
		if u.LastError != "" {
			lastErr = u.LastErrorAt.Format(time.RFC3339) + " " + u.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, state, u.TAXIIVersion, timeOrDash(u.LastSuccess),
			countsText(u.LastCounts), countsText(u.TotalCounts), orDash(u.Watermark), lag, redactURL(u.URL), lastErr)
	}
	tw.Flush()
}

func countsText(c store.UpstreamCounts) string {
	return fmt.Sprintf("%d/%d/%d/%d/%d/%d", c.Pulled, c.Stored, c.Unchanged, c.Conflicting, c.Rejected, c.Converted)
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// redactURL hides a password written into the URL itself.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
