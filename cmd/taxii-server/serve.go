package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/taxii"
)

func runServe(ctx context.Context, args []string, c *cli) error {
	cfg, _, err := parseFlags("serve", args, c, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, c.stderr)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit

	st, err := openStore(ctx, cfg, log, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := bootstrapAdminKey(ctx, st, c, log); err != nil {
		return err
	}

	api, err := taxii.NewHandler(taxiiOptions(cfg), st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("serving TAXII 2.1",
		zap.String("address", ln.Addr().String()),
		zap.String("store", cfg.StoreKind()),
		zap.String("api_root", cfg.APIRootPath))
	if c.listening != nil {
		c.listening(ln.Addr().String())
	}
	go server.ExpireStatuses(ctx, st, 10*time.Minute, log)
	return server.Serve(ctx, cfg, ln, server.Handler(api, st), log)
}

func taxiiOptions(cfg config.Config) taxii.Options {
	return taxii.Options{
		APIRootPath:        cfg.APIRootPath,
		Title:              cfg.Title,
		Description:        cfg.Description,
		Contact:            cfg.Contact,
		APIRootTitle:       cfg.APIRootTitle,
		APIRootDescription: cfg.APIRootDescription,
		DefaultPageSize:    cfg.DefaultPageSize,
		MaxPageSize:        cfg.MaxPageSize,
		MaxContentLength:   cfg.MaxContentLength,
		PublicBaseURL:      cfg.PublicBaseURL,
		Realm:              "taxii",
	}
}

// bootstrapAdminKey creates an admin key on a store with no key at all and shows it
// once, so a newcomer is never locked out. Replicas starting together create one.
func bootstrapAdminKey(ctx context.Context, st store.Keys, c *cli, log *zap.Logger) error {
	plain, k, err := auth.Generate("bootstrap-admin", store.RoleAdmin, nil, time.Now().UTC())
	if err != nil {
		return err
	}
	created, err := st.CreateFirstKey(ctx, k)
	if err != nil || !created {
		return err
	}
	log.Info("created the first admin API key; it is printed once on standard output", zap.String("key_id", k.ID))
	fmt.Fprintf(c.stdout, "\nFirst start: an admin API key was created. It is shown once; store it now:\n\n    %s\n\n"+
		"Use it as the password of HTTP Basic auth (any username), or as a Bearer token.\n\n", plain)
	return nil
}

// runHealthcheck asks the local server's /healthz; for container HEALTHCHECKs
// in images without a shell or curl.
func runHealthcheck(ctx context.Context, args []string, c *cli) error {
	cfg, _, err := parseFlags("healthcheck", args, c, nil)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("healthcheck: listen address %q: %w", cfg.Listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	return nil
}
