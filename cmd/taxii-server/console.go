package main

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/console"
	"github.com/inthreat/taxii-server/internal/server"
)

// consoleHandler is the web console (TAXII_CONSOLE), or nil when it is off.
// It manages feeds and keys through svc, the admin API's one code path.
func consoleHandler(ctx context.Context, cfg config.Config, svc *admin.Service, log *zap.Logger) (http.Handler, error) {
	if !cfg.Console {
		return nil, nil
	}
	secret, err := console.SessionSecret(ctx, svc.Store())
	if err != nil {
		return nil, err
	}
	return console.New(console.Options{
		Admin:         svc,
		Log:           log.Named("console"),
		Secret:        secret,
		SessionTTL:    cfg.ConsoleSessionTTL,
		APIRootPath:   cfg.APIRootPath,
		PublicBaseURL: cfg.PublicBaseURL,
		LoginAllowed:  server.AddressLimiter(cfg.ConsoleLoginAttempts, nil),
	})
}
