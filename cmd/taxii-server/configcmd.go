package main

import (
	"context"
	"fmt"

	"github.com/inthreat/taxii-server/internal/config"
)

func runConfig(_ context.Context, args []string, c *cli) error {
	cfg, fs, err := parseFlags("config", args, c, nil)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 && fs.Arg(0) == "help" {
		fmt.Fprint(c.stdout, config.Help())
		return nil
	}
	fmt.Fprint(c.stdout, cfg.String())
	return nil
}
