package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// backuper is a store that can copy itself while online (the embedded store).
type backuper interface {
	Backup(ctx context.Context, path string) error
}

func runBackup(ctx context.Context, args []string, c *cli) error {
	st, fs, cfg, _, err := commandStore(ctx, "backup", args, c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 1 {
		return usageError{"backup: want exactly one FILE to write (see taxii-server backup --help)"}
	}
	b, ok := st.(backuper)
	if !ok {
		return fmt.Errorf("backup: the %s store is backed up with its own tools: pg_dump --format=custom --file=taxii.dump DATABASE_URL "+
			"(and pg_restore to restore); see the README's Backup and restore section", cfg.StoreKind())
	}
	start := time.Now()
	if err := b.Backup(ctx, fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "backed up the embedded store to %s in %s\n", fs.Arg(0), time.Since(start).Round(time.Millisecond))
	return nil
}

func runPurge(ctx context.Context, args []string, c *cli) error {
	var olderThan, feed string
	var revoked, expired, dryRun bool
	st, fs, _, _, err := commandStore(ctx, "purge", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&olderThan, "older-than", "", "remove objects with no version added within this age, e.g. 365d or 720h (required)")
		fs.BoolVar(&revoked, "revoked", false, "only objects whose latest version is revoked")
		fs.BoolVar(&expired, "expired", false, "only objects whose latest version's valid_until has passed")
		fs.StringVar(&feed, "feed", "", "only objects this feed (id or alias) shows")
		fs.BoolVar(&dryRun, "dry-run", false, "count what would be removed; remove nothing")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("purge: unexpected argument %q (see taxii-server purge --help)", fs.Arg(0))}
	}
	age, err := parseAge(olderThan)
	if err != nil {
		return usageError{"purge: --older-than: " + err.Error()}
	}
	now := time.Now().UTC()
	p := store.Purge{Before: now.Add(-age).UnixMicro(), Revoked: revoked, DryRun: dryRun}
	if expired {
		p.ExpiredBefore = now.Format("2006-01-02T15:04:05Z")
	}
	if feed != "" {
		f, err := st.GetFeed(ctx, feed)
		if isNotFound(err) {
			return fmt.Errorf("purge: no feed %q", feed)
		}
		if err != nil {
			return err
		}
		p.Feed = f.Filter
	}
	res, err := st.PurgeObjects(ctx, p)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	verb := "purged"
	if dryRun {
		verb = "would purge"
	}
	fmt.Fprintf(c.stdout, "%s %d objects (%d versions) with nothing added since %s\n", verb, res.Objects, res.Versions,
		time.UnixMicro(p.Before).UTC().Format(time.RFC3339))
	return nil
}

// parseAge reads an age such as 365d, 12h or 90m; days are 24 hours.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("required, e.g. 365d")
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days such as 365d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not an age such as 365d or 720h", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}
