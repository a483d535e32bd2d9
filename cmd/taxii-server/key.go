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

func runKey(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 {
		return usageError{"key: want create, list or revoke"}
	}
	switch args[0] {
	case "create":
		return keyCreate(ctx, args[1:], c)
	case "list":
		return keyList(ctx, args[1:], c)
	case "revoke":
		return keyRevoke(ctx, args[1:], c)
	}
	return usageError{fmt.Sprintf("key: unknown subcommand %q; want create, list or revoke", args[0])}
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

func keyList(ctx context.Context, args []string, c *cli) error {
	st, _, _, _, err := commandStore(ctx, "key list", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tFEEDS\tSOURCE\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		feeds := strings.Join(k.Feeds, ",")
		if feeds == "" {
			feeds = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, feeds, k.Source,
			when(k.CreatedAt), when(k.LastUsedAt), when(k.RevokedAt))
	}
	return tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func keyRevoke(ctx context.Context, args []string, c *cli) error {
	st, fs, _, _, err := commandStore(ctx, "key revoke", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{"key revoke: want exactly one key id (see key list)"}
	}
	if err := st.RevokeKey(ctx, fs.Arg(0)); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("key revoke: no active key %q", fs.Arg(0))
		}
		return err
	}
	fmt.Fprintf(c.stderr, "revoked key %s\n", fs.Arg(0))
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
