// Command taxii-server serves STIX 2.1 threat intelligence feeds over TAXII 2.1
// and manages them: migrate, import, validate, feed, key, source, config.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, environ: os.Environ})
	stop()
	if err != nil {
		var ue usageError
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "taxii-server:", err)
		}
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// cli is what a command may touch of the outside world; tests pass their own.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// environ lists the environment (NAME=value) for the unknown-setting warning; nil: none.
	environ func() []string
	// listening, when set, receives the address of each listener ("taxii", "metrics")
	// once all listen, so tests listen on port 0 and read back the bound addresses.
	listening func(name, addr string)
	// progressEvery is how often import reports progress when stderr is not a
	// terminal; 0: every 5 s.
	progressEvery time.Duration
}

// usageError is a mistake in the command line; exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errReported means the command already told the user what went wrong.
var errReported = errors.New("reported")

const usage = `Usage: taxii-server [command] [flags]

Commands:
  serve                    run the TAXII 2.1 server (the default)
  migrate                  apply database migrations
  import [--collection ID] [--source NAME] FILE...   import STIX 2.1 bundles, envelopes, arrays or JSON lines (- = stdin)
  validate [--strict] FILE...        validate STIX 2.1 content without storing it
  feed create --title T [--description D] [--alias A] [--writable] [filters]
  feed update ID|ALIAS [--title T] [--description D] [--alias A] [--writable] [filters]
  feed show ID|ALIAS | feed list [--json] | feed delete ID|ALIAS
      filters: --types a,b --exclude-types a,b --tlp clear,green,amber,amber+strict,red,none
               --sources S,.. --created-by identity--..,.. --min-confidence N --labels a,b
               --exclude-revoked --exclude-expired --with-context
  key create --name N --role read-only|read-write|admin [--feeds ID,...] [--source NAME]
  key list [--json] | key revoke ID|NAME | key rotate ID|NAME [--grace 24h]
  source add --name N --url COLLECTION_URL [--taxii 2.1|2.0] [--user U --password-file F | --token-file F]
             [--interval 1h] [--added-after T] [--types a,b] [--ca FILE] [--insecure-skip-verify]
                           pull an upstream TAXII collection into this server (serve runs the pulls)
  source list              the upstream sources with their state, then each source of stored objects with its count
  source pause|resume|run-now|remove NAME
  backup FILE              write an online, consistent copy of the embedded store to FILE
  purge --older-than 365d [--revoked] [--expired] [--feed ID] [--dry-run]
                           remove objects nothing was added to for that long
  config                   print the effective configuration, secrets redacted
  healthcheck              exit 0 when the local server answers /healthz (for containers)
  version                  print the version

Every setting is an environment variable and a flag (TAXII_LISTEN = --listen); see 'taxii-server config help'.
'taxii-server COMMAND --help' shows a command's flags and the settings it reads.
`

func run(ctx context.Context, args []string, c *cli) error {
	if err := dispatch(ctx, args, c); !errors.Is(err, errHelpShown) {
		return err
	}
	return nil
}

func dispatch(ctx context.Context, args []string, c *cli) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, c)
	case "migrate":
		return runMigrate(ctx, args, c)
	case "import":
		return runImport(ctx, args, c)
	case "validate":
		return runValidate(ctx, args, c.stdout, c.stderr)
	case "feed":
		return runFeed(ctx, args, c)
	case "key":
		return runKey(ctx, args, c)
	case "source":
		return runSource(ctx, args, c)
	case "config":
		return runConfig(ctx, args, c)
	case "backup":
		return runBackup(ctx, args, c)
	case "purge":
		return runPurge(ctx, args, c)
	case "healthcheck":
		return runHealthcheck(ctx, args, c)
	case "version":
		fmt.Fprintln(c.stdout, "taxii-server", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q (see taxii-server --help)", cmd)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
