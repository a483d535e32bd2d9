package main

import (
	"context"
	"fmt"
)

func runMigrate(ctx context.Context, args []string, c *cli) error {
	cfg, _, err := parseFlags("migrate", args, c, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, c.stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(c.stderr, "%s store migrated\n", cfg.StoreKind())
	return nil
}
