// Command taxii-bench measures a TAXII server end to end: it generates a data set
// of STIX 2.1 indicators, runs a real taxii-server on its own database on loopback,
// and prints one table of figures (import, pulls, deep pages, pollers, memory,
// and the database's own read speed as the baseline).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/inthreat/taxii-server/cmd/taxii-bench/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "taxii-bench:", err)
		}
		os.Exit(2)
	}
}

const usage = `Usage: taxii-bench [flags]

Runs taxii-server (built from this module unless -server-bin is given) on
127.0.0.1 with a store of its own, loads -n generated indicators, and prints one
table: import rate, full-feed pulls (next and added_after, limit 1000 and 10000),
deep-page ratio, concurrent pollers while objects are added, server peak RSS, and
the database's own read speed of the same data as the baseline. It removes its
database and files when done.

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg bench.Config
	var pollers, jsonPath string
	fs := flag.NewFlagSet("taxii-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.IntVar(&cfg.N, "n", 100_000, "objects in the data set (at least 2000)")
	fs.StringVar(&cfg.Store, "store", "postgres", "postgres or sqlite")
	fs.StringVar(&cfg.PGURL, "pg", bench.DefaultPGURL, "Postgres server where a database taxii_bench_* is created and dropped")
	fs.IntVar(&cfg.Runs, "runs", 0, "repetitions of the pulls and the baseline, medians reported (default 3, 1 with -quick)")
	fs.StringVar(&pollers, "pollers", "50,200", "comma-separated counts of concurrent pollers")
	fs.DurationVar(&cfg.PollTime, "poll-time", 0, "how long each poller measurement runs, back to back then paced (default 20s, 2s with -quick)")
	fs.BoolVar(&cfg.Quick, "quick", false, "one run and short polling: checks the tool, figures are rough")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the data set")
	fs.StringVar(&cfg.Types, "types", "indicator", "STIX types the benchmark feed exports (feed create --types); empty: all")
	fs.StringVar(&cfg.Decoder, "decoder", bench.DecoderScan, "the client's envelope decoder: scan (the server's own streaming decoder, internal/stix) or encoding/json")
	fs.StringVar(&cfg.ServerBin, "server-bin", "", "a built taxii-server to measure (default: go build ./cmd/taxii-server)")
	fs.StringVar(&cfg.WorkDir, "dir", "", "folder for the data set and the embedded store (default: a temporary one, removed)")
	fs.StringVar(&jsonPath, "json", "", "also write the table as JSON to this file")
	verbose := fs.Bool("v", true, "print progress on standard error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (the client side) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, p := range strings.Split(pollers, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("-pollers %q: %q is not a number", pollers, p)
		}
		cfg.Pollers = append(cfg.Pollers, n)
	}
	if *verbose {
		cfg.Progress = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if jsonPath != "" {
		if err := rep.WriteJSON(jsonPath); err != nil {
			return err
		}
	}
	if *verbose {
		fmt.Fprintf(stderr, "done in %s\n", time.Since(start).Round(time.Second))
	}
	return nil
}
