package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

// runSource reports provenance: every stored version records its source (a
// key's, or an import's), and writers that are not admins may change only
// objects of their own source.
func runSource(ctx context.Context, args []string, c *cli) error {
	if len(args) == 0 || args[0] != "list" {
		return usageError{"source: want list"}
	}
	st, _, _, _, err := commandStore(ctx, "source list", args[1:], c, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	sources, err := st.ListSources(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tOBJECTS")
	for _, s := range sources {
		fmt.Fprintf(tw, "%s\t%d\n", s.Source, s.Objects)
	}
	return tw.Flush()
}
