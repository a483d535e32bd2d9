package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/sqlite"
)

// storeSettings are the settings every command that opens the store reads.
var storeSettings = []string{"TAXII_DATABASE_URL", "TAXII_DATA_DIR", "TAXII_AUTO_MIGRATE", "TAXII_LOG_LEVEL", "TAXII_LOG_FORMAT"}

// commandSettings lists, per command, the settings it takes as flags and shows in
// its --help; nil means every setting. Commands not listed read storeSettings.
var commandSettings = map[string][]string{
	"serve":       nil,
	"config":      nil,
	"migrate":     {"TAXII_DATABASE_URL", "TAXII_DATA_DIR", "TAXII_LOG_LEVEL", "TAXII_LOG_FORMAT"},
	"healthcheck": {"TAXII_LISTEN", "TAXII_TLS_CERT", "TAXII_TLS_KEY"},
	"import": append([]string{"TAXII_STRICT_VALIDATION", "TAXII_MAX_OBJECT_SIZE", "TAXII_MAX_JSON_DEPTH", "TAXII_MAX_JSON_PROPERTIES"},
		storeSettings...),
	"key rotate": append([]string{"TAXII_KEY_ROTATE_GRACE", "TAXII_KEY_ROTATE_MAX_GRACE"}, storeSettings...),
}

// commandSynopsis is the first line of a command's --help.
var commandSynopsis = map[string]string{
	"serve":       "serve [flags]\n\nRuns the TAXII 2.1 server. Every setting is also an environment variable.",
	"config":      "config [flags] [help]\n\nPrints the effective configuration, secrets redacted; 'config help' describes every variable.",
	"migrate":     "migrate [flags]\n\nApplies the database migrations (serve also does, unless TAXII_AUTO_MIGRATE=false).",
	"healthcheck": "healthcheck [flags]\n\nExits 0 when the local server answers /healthz; for container health checks.",
	"import":      "import [--collection ID] [flags] FILE...   (- reads standard input)",
	"feed create": "feed create --title T [flags]",
	"feed list":   "feed list [--json]",
	"feed delete": "feed delete ID|ALIAS",
	"key create":  "key create --name N [--role R] [--feeds ID,...]",
	"key list":    "key list [--json]",
	"key rotate":  "key rotate ID|NAME [--grace 24h]",
	"key revoke":  "key revoke ID|NAME",
	"backup":      "backup FILE\n\nWrites an online, consistent copy of the embedded store (VACUUM INTO). For Postgres use pg_dump.",
	"purge":       "purge --older-than AGE [--revoked] [--expired] [--feed ID] [--dry-run]\n\nRemoves whole objects (every version) nothing was added to within AGE.",
}

func settingsOf(name string) []string {
	if s, ok := commandSettings[name]; ok {
		if s == nil {
			return config.EnvNames()
		}
		return s
	}
	return storeSettings
}

// errHelpShown means a command printed its --help; the process exits 0.
var errHelpShown = errors.New("help shown")

// parseFlags loads the configuration from the environment, then from the
// command's flags (which override it), and validates it. Every invalid setting,
// from the environment or the flags, is reported at once.
func parseFlags(name string, args []string, c *cli, extra func(fs *flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	cfg, envErr := config.FromEnv(c.getenv)
	own := flag.NewFlagSet(name, flag.ContinueOnError)
	if extra != nil {
		extra(own)
	}
	settings := settingsOf(name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	own.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	// A command's own flags win over settings of the same name (feed create --title).
	all := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg.RegisterFlags(all, settings...)
	all.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(c.stdout, name, own, settings)
			return cfg, nil, errHelpShown
		}
		return cfg, nil, usageError{fmt.Sprintf("%s: %v (see taxii-server %s --help)", name, err, name)}
	}
	if c.environ != nil {
		for _, u := range config.Unknown(c.environ()) {
			fmt.Fprintf(c.stderr, "warning: unknown setting %s is ignored\n", u)
		}
	}
	if err := errors.Join(envErr, cfg.Validate()); err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, fs, nil
}

func printCommandHelp(w io.Writer, name string, own *flag.FlagSet, settings []string) {
	synopsis := commandSynopsis[name]
	if synopsis == "" {
		synopsis = name + " [flags]"
	}
	fmt.Fprintf(w, "Usage: taxii-server %s\n", synopsis)
	hasOwn := false
	own.VisitAll(func(*flag.Flag) { hasOwn = true })
	if hasOwn {
		fmt.Fprintln(w, "\nFlags:")
		own.SetOutput(w)
		own.PrintDefaults()
	}
	fmt.Fprintln(w, "\nSettings (a flag, or the environment variable in brackets):")
	fmt.Fprint(w, config.Usage(settings))
}

func newLogger(cfg config.Config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(w) {
			encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder // ANSI colours only where a person reads them
		}
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)), nil
}

// isTerminal reports whether w is a terminal (not a file, pipe or log collector).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openStore opens the store the configuration names and brings its schema up to date
// when migrate is true; otherwise it refuses a schema this binary does not know.
func openStore(ctx context.Context, cfg config.Config, log *zap.Logger, migrate bool) (store.Store, error) {
	var st store.Store
	switch cfg.StoreKind() {
	case "postgres":
		pg, err := postgres.OpenWithLimits(ctx, cfg.DatabaseURL, log, cfg.StoreLimits())
		if err != nil {
			// The driver's message may quote the URL; its redaction is best effort.
			return nil, errors.New(config.RedactSecrets(err.Error()))
		}
		if err := pg.Ping(ctx); err != nil {
			pg.Close()
			return nil, fmt.Errorf("connect to the database %s: %w", postgres.Describe(cfg.DatabaseURL), postgres.RootCause(err))
		}
		st = pg
	default:
		path := cfg.SqlitePath()
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
		lite, err := sqlite.OpenWithLimits(ctx, path, log, cfg.StoreLimits())
		if err != nil {
			return nil, err
		}
		st = lite
	}
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	if err := st.CheckSchema(ctx); err != nil {
		st.Close()
		return nil, err
	}
	// The default feed exists from the first start of the server or of any command.
	if err := feed.EnsureDefault(ctx, st); err != nil {
		st.Close()
		return nil, fmt.Errorf("default feed: %w", err)
	}
	return st, nil
}

// commandStore is the usual start of a management command: configuration, a quiet
// logger, and the store migrated (management commands run before the first serve too).
func commandStore(ctx context.Context, name string, args []string, c *cli, extra func(*flag.FlagSet)) (store.Store, *flag.FlagSet, config.Config, *zap.Logger, error) {
	cfg, fs, err := parseFlags(name, args, c, extra)
	if err != nil {
		return nil, nil, cfg, nil, err
	}
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn"
	}
	log, err := newLogger(cfg, c.stderr)
	if err != nil {
		return nil, nil, cfg, nil, err
	}
	st, err := openStore(ctx, cfg, log, cfg.AutoMigrate)
	if err != nil {
		return nil, nil, cfg, nil, err
	}
	return st, fs, cfg, log, nil
}

// commandService opens the store like commandStore and returns the admin
// service over it: the one code path of every management rule.
func commandService(ctx context.Context, name string, args []string, c *cli, extra func(*flag.FlagSet)) (*admin.Service, *flag.FlagSet, error) {
	st, fs, cfg, log, err := commandStore(ctx, name, args, c, extra)
	if err != nil {
		return nil, nil, err
	}
	return admin.NewService(st, log, time.Now, admin.OptionsFrom(cfg)), fs, nil
}
