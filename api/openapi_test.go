// Package api_test checks api/openapi.yaml against the server's real router.
package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/console"
	"github.com/inthreat/taxii-server/internal/export"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// specRoot is the API root the spec's paths are written with: the default.
var specRoot = config.Default().APIRootPath

// secretStore is enough store for taxii.NewHandler, which reads the cursor secret once;
// walking the routes calls nothing else.
type secretStore struct{ store.Store }

func (secretStore) CursorSecret(context.Context) ([]byte, error) {
	return bytes.Repeat([]byte{7}, 32), nil
}

type readyStore struct{}

func (readyStore) Ping(context.Context) error        { return nil }
func (readyStore) CheckSchema(context.Context) error { return nil }

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// normalise makes a spec path and a router pattern comparable: the API root becomes
// <root>, parameter names go, and so does the trailing slash (the server accepts both).
func normalise(path, root string) string {
	root = strings.TrimSuffix(root, "/")
	if path == root || path == root+"/" || strings.HasPrefix(path, root+"/") {
		path = "<root>" + strings.TrimPrefix(path, root)
	}
	for _, section := range []string{"/collections/", "/objects", "/indicators/"} {
		if rest, ok := strings.CutPrefix(path, export.PrefixOf(root)+section); ok {
			path = "<export>" + section + rest
			break
		}
	}
	path = pathParam.ReplaceAllString(path, "{}")
	if path != "/" {
		path = strings.TrimSuffix(path, "/")
	}
	return path
}

type operation struct {
	Planned bool `yaml:"x-planned"`
}

// specOperations returns "METHOD path" for each operation of the spec, and whether it is planned.
func specOperations(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Errorf("openapi %q: want 3.1", spec.OpenAPI)
	}
	ops := map[string]bool{}
	for path, item := range spec.Paths {
		for method, node := range item {
			m := strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}, m) {
				continue // parameters, servers, summary...
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", m, path, err)
			}
			key := m + " " + normalise(path, specRoot)
			if _, dup := ops[key]; dup {
				t.Errorf("%s is in the spec twice (with and without a trailing slash?)", key)
			}
			ops[key] = op.Planned
		}
	}
	return ops
}

// routerOperations walks the real handler: the server's router with the TAXII router,
// the export routes, the admin API and the web console mounted in it and /metrics enabled, on a non-default API root.
func routerOperations(t *testing.T, root string) map[string]bool {
	t.Helper()
	d := config.Default()
	opts := taxii.OptionsFrom(d)
	opts.APIRootPath = root
	api, err := taxii.NewHandler(opts, secretStore{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := api.(chi.Routes); !ok {
		t.Fatalf("taxii.NewHandler returns %T: the check needs a chi router to walk", api)
	}
	rs, err := export.Routes(export.Options{Prefix: export.PrefixOf(root), DefaultLimit: 1, MaxLimit: 1, MaxScan: 1, MaxTemplateLength: 1, ListBatch: 1, PerKey: admit.NewPerKey(1)}, secretStore{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var extra []server.Route
	for _, r := range rs {
		extra = append(extra, server.Route(r))
	}
	svc := admin.NewService(secretStore{}, nil, nil, admin.Options{ListLimit: 1, MaxListLimit: 1, CountMax: 1, CountTimeout: time.Second})
	adminAPI, err := admin.NewHandler(svc, nil, admin.APIOptions{MaxBody: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Options{Admin: svc, Secret: bytes.Repeat([]byte{7}, 32), SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Options{TAXII: api, Routes: extra, Admin: adminAPI, Console: c, Store: readyStore{}, MetricsHandler: http.NotFoundHandler()})
	routes, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("server.New returns %T, not a chi router", h)
	}
	ops := map[string]bool{}
	err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		ops[method+" "+normalise(route, root)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// TestOpenAPIMatchesRouter fails when an endpoint is served and not described, or
// described and not served. Operations marked x-planned must not be served yet:
// when one lands, remove its marker.
func TestOpenAPIMatchesRouter(t *testing.T) {
	spec := specOperations(t)
	routed := routerOperations(t, "/custom/taxii/root/")
	if len(routed) < 5 || !routed["GET /admin/api/v1/feeds"] {
		t.Fatalf("the router walk found only %v (the admin API included?)", routed)
	}
	for op := range routed {
		planned, described := spec[op]
		switch {
		case !described:
			t.Errorf("%s is served but not in api/openapi.yaml", op)
		case planned:
			t.Errorf("%s is served now: remove its x-planned marker in api/openapi.yaml", op)
		}
	}
	for op, planned := range spec {
		if !routed[op] && !planned {
			t.Errorf("%s is in api/openapi.yaml but the router does not serve it (mark it x-planned if it is to come)", op)
		}
	}
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v2/inthreat/taxii-server/":                                "<root>",
		"/api/v2/inthreat/taxii-server":                                 "<root>",
		"/api/v2/inthreat/taxii-server/collections/{collection}/":       "<root>/collections/{}",
		"/api/v2/inthreat/taxii-server/collections/{id}/objects/{obj}/": "<root>/collections/{}/objects/{}",
		"/taxii2/":                              "/taxii2",
		"/healthz":                              "/healthz",
		"/api/v2/inthreat/taxii-server-other/x": "/api/v2/inthreat/taxii-server-other/x",
		"/api/v2/inthreat/collections/{feed}/lists/{kind}.txt": "<export>/collections/{}/lists/{}.txt",
		"/api/v2/inthreat/objects":                             "<export>/objects",
	} {
		if got := normalise(in, specRoot); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
}
