package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if c.StoreKind() != "sqlite" || c.SqlitePath() != filepath.Join("data", "taxii.db") {
		t.Fatalf("default store = %s at %s, want sqlite at data/taxii.db", c.StoreKind(), c.SqlitePath())
	}
}

func TestFromEnvAndFlags(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(secret, []byte("postgres://u:pw@db/taxii\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnv(env(map[string]string{
		"TAXII_LISTEN":             ":9000",
		"TAXII_MAX_PAGE_SIZE":      "500",
		"TAXII_DEFAULT_PAGE_SIZE":  "100",
		"TAXII_STATUS_TTL":         "48h",
		"TAXII_AUTO_MIGRATE":       "false",
		"TAXII_DATABASE_URL_FILE":  secret,
		"TAXII_API_ROOT_PATH":      "/taxii/root",
		"TAXII_PUBLIC_BASE_URL":    "https://taxii.example.com/",
		"TAXII_UNRELATED_VARIABLE": "x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:7000"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7000" || c.MaxPageSize != 500 || c.DefaultPageSize != 100 || c.StatusTTL != 48*time.Hour || c.AutoMigrate {
		t.Fatalf("settings not applied: %+v", c)
	}
	if c.DatabaseURL != "postgres://u:pw@db/taxii" || c.StoreKind() != "postgres" {
		t.Fatalf("database url from _FILE: %q", c.DatabaseURL)
	}
	if c.APIRootPath != "/taxii/root/" || c.PublicBaseURL != "https://taxii.example.com" {
		t.Fatalf("normalisation: %q %q", c.APIRootPath, c.PublicBaseURL)
	}
	if s := c.String(); strings.Contains(s, "pw") || !strings.Contains(s, "TAXII_DATABASE_URL=postgres://u:REDACTED@db/taxii") {
		t.Fatalf("String leaks or misses the password redaction:\n%s", s)
	}
}

func TestInvalid(t *testing.T) {
	cases := map[string]map[string]string{
		"unparsable number":      {"TAXII_MAX_PAGE_SIZE": "ten"},
		"page size over max":     {"TAXII_MAX_PAGE_SIZE": "1000000"},
		"default over max":       {"TAXII_MAX_PAGE_SIZE": "10", "TAXII_DEFAULT_PAGE_SIZE": "11"},
		"zero page":              {"TAXII_DEFAULT_PAGE_SIZE": "0"},
		"mysql url":              {"TAXII_DATABASE_URL": "mysql://x"},
		"relative root":          {"TAXII_API_ROOT_PATH": "api"},
		"root under taxii2":      {"TAXII_API_ROOT_PATH": "/taxii2/x/"},
		"bad base url":           {"TAXII_PUBLIC_BASE_URL": "ftp://x"},
		"bad log level":          {"TAXII_LOG_LEVEL": "loud"},
		"bad duration":           {"TAXII_STATUS_TTL": "forever"},
		"short ttl":              {"TAXII_STATUS_TTL": "1s"},
		"content length limit":   {"TAXII_MAX_CONTENT_LENGTH": "99999999999"},
		"no header timeout":      {"TAXII_READ_HEADER_TIMEOUT": "0s"},
		"missing secret file":    {"TAXII_DATABASE_URL_FILE": "/nonexistent/file"},
		"object over body size":  {"TAXII_MAX_CONTENT_LENGTH": "2048", "TAXII_MAX_OBJECT_SIZE": "4096"},
		"object size ceiling":    {"TAXII_MAX_CONTENT_LENGTH": "1073741824", "TAXII_MAX_OBJECT_SIZE": "268435457"},
		"metrics on main, port":  {"TAXII_LISTEN": "127.0.0.1:8080", "TAXII_METRICS_LISTEN": "127.0.0.1:8080"},
		"cert without key":       {"TAXII_TLS_CERT": "/etc/taxii/cert.pem"},
		"key without cert":       {"TAXII_TLS_KEY": "/etc/taxii/key.pem"},
		"fast reload check":      {"TAXII_TLS_RELOAD_INTERVAL": "10ms"},
		"bad proxy":              {"TAXII_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example.com"},
		"bad metrics address":    {"TAXII_METRICS_LISTEN": "9090"},
		"metrics on main":        {"TAXII_METRICS_LISTEN": ":8080"},
		"negative rate":          {"TAXII_RATE_LIMIT": "-1"},
		"unparsable rate":        {"TAXII_RATE_LIMIT": "fast"},
		"infinite rate":          {"TAXII_RATE_LIMIT": "+Inf"},
		"zero burst":             {"TAXII_RATE_LIMIT_BURST": "0"},
		"zero match ids":         {"TAXII_MAX_MATCH_IDS": "0"},
		"match ids over max":     {"TAXII_MAX_MATCH_IDS": "5001"},
		"zero match values":      {"TAXII_MAX_MATCH_VALUES": "0"},
		"match values over max":  {"TAXII_MAX_MATCH_VALUES": "1001"},
		"zero purge batch":       {"TAXII_STATUS_PURGE_BATCH": "0"},
		"purge batch over max":   {"TAXII_STATUS_PURGE_BATCH": "1000001"},
		"fast purge":             {"TAXII_STATUS_PURGE_INTERVAL": "10ms"},
		"negative status buffer": {"TAXII_STATUS_BUFFER_MEMORY": "-1"},
		"status buffer over max": {"TAXII_STATUS_BUFFER_MEMORY": "17179869185"},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := FromEnv(env(vars))
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("%v accepted", vars)
			}
			for k := range vars {
				if !strings.Contains(err.Error(), strings.TrimSuffix(k, "_FILE")) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
		})
	}
}

func TestOperationsSettings(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"TAXII_TLS_CERT":            "/etc/taxii/cert.pem",
		"TAXII_TLS_KEY":             "/etc/taxii/key.pem",
		"TAXII_TLS_RELOAD_INTERVAL": "0s",
		"TAXII_TRUSTED_PROXIES":     " 10.0.0.0/8, 192.168.1.7 ,::1, 172.16.5.4/12",
		"TAXII_METRICS_LISTEN":      "127.0.0.1:9090",
		"TAXII_RATE_LIMIT":          "2.5",
		"TAXII_RATE_LIMIT_BURST":    "5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.TLS() || c.TLSReloadInterval != 0 || c.MetricsListen != "127.0.0.1:9090" || c.RateLimit != 2.5 || c.RateLimitBurst != 5 {
		t.Fatalf("settings not applied: %+v", c)
	}
	ps, err := c.TrustedProxyPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.168.1.7/32 ::1/128 172.16.0.0/12"; strings.Join(got, " ") != want {
		t.Fatalf("trusted proxies = %v, want %s", got, want)
	}
	if d := Default(); d.TLS() || d.MetricsListen != "" || d.MetricsOnMain || d.RateLimit != 0 || d.TrustedProxies != "" {
		t.Fatalf("operations defaults must be off: %+v", d)
	}
}

// TestReadmeDocumentsEverySetting keeps the README's configuration reference complete.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, ref, ok := strings.Cut(readme, "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no '## Configuration' section")
	}
	for _, name := range EnvNames() {
		if !strings.Contains(ref, "| `"+name+"` |") {
			t.Errorf("README.md's configuration reference has no row for %s", name)
		}
	}
}
