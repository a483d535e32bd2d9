package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/sqlite"
)

// parseFlags loads the configuration from the environment, then from the
// command's flags (which override it), and validates it.
func parseFlags(name string, args []string, c *cli, extra func(fs *flag.FlagSet)) (config.Config, *flag.FlagSet, error) {
	cfg, err := config.FromEnv(c.getenv)
	if err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if extra != nil {
		extra(fs)
	}
	// A command's own flags win over settings of the same name (feed create --title).
	settings := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg.RegisterFlags(settings)
	settings.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, nil, errReported
		}
		return cfg, nil, usageError{err.Error()}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, fs, nil
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
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)), nil
}

// openStore opens the store the configuration names and brings its schema up to date
// when migrate is true; otherwise it refuses a schema this binary does not know.
func openStore(ctx context.Context, cfg config.Config, log *zap.Logger, migrate bool) (store.Store, error) {
	var st store.Store
	switch cfg.StoreKind() {
	case "postgres":
		pg, err := postgres.OpenWithLimits(ctx, cfg.DatabaseURL, log, cfg.StoreLimits())
		if err != nil {
			return nil, err
		}
		st = pg
	default:
		path := cfg.SqlitePath()
		if err := os.MkdirAll(dirOf(path), 0o750); err != nil {
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

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' || path[i] == os.PathSeparator {
			if i == 0 {
				return "/"
			}
			return path[:i]
		}
	}
	return "."
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
