package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/inthreat/taxii-server/internal/config"
)

// compose is the part of the compose file the checks read.
type compose struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
	Networks map[string]any     `yaml:"networks"`
}

type service struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Logging struct {
		Driver  string            `yaml:"driver"`
		Options map[string]string `yaml:"options"`
	} `yaml:"logging"`
	Deploy struct {
		Resources struct {
			Limits struct {
				CPUs   string `yaml:"cpus"`
				Memory string `yaml:"memory"`
			} `yaml:"limits"`
		} `yaml:"resources"`
	} `yaml:"deploy"`
	Environment map[string]string `yaml:"environment"`
	EnvFile     []struct {
		Path     string `yaml:"path"`
		Required bool   `yaml:"required"`
	} `yaml:"env_file"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Volumes         []string `yaml:"volumes"`
	Ports           []string `yaml:"ports"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	ReadOnly        bool     `yaml:"read_only"`
	User            string   `yaml:"user"`
}

// load returns the compose file, deploy/.env (from .env.example: the values of ${...})
// and deploy/taxii.env (from taxii.env.example: the server's env_file).
func load(t *testing.T) (compose, map[string]string, map[string]string) {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c, readEnvFile(t, ".env.example"), readEnvFile(t, "taxii.env.example")
}

// readEnvFile parses KEY=VALUE lines as compose does (comments and blank lines skipped).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}$]*))?\}`)

// interpolate fills ${VAR}, ${VAR-default}, ${VAR:-default} and ${VAR:?error} from vars,
// as compose does, innermost first (a default may itself hold ${...}).
func interpolate(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	for {
		next := interpolation.ReplaceAllStringFunc(s, func(m string) string {
			p := interpolation.FindStringSubmatch(m)
			v, set := vars[p[1]]
			switch p[2] {
			case ":-":
				if v == "" {
					return p[3]
				}
			case "-":
				if !set {
					return p[3]
				}
			case ":?", "?":
				if v == "" {
					t.Errorf("%s is required by the compose file and missing from .env.example", p[1])
				}
			default:
				if !set {
					t.Errorf("${%s} has no value in .env.example", p[1])
				}
			}
			return v
		})
		if next == s {
			return s
		}
		s = next
	}
}

func TestComposeServices(t *testing.T) {
	c, _, _ := load(t)
	if len(c.Services) != 2 {
		t.Errorf("services %v, want postgres and taxii", keys(c.Services))
	}
	pg, ok := c.Services["postgres"]
	if !ok {
		t.Fatal("no postgres service")
	}
	if !regexp.MustCompile(`^postgres:1[4-9](\.\d+)?(-[a-z0-9]+)?$`).MatchString(pg.Image) {
		t.Errorf("postgres image %q: pin a major version (postgres:16), never latest", pg.Image)
	}
	if len(pg.Volumes) != 1 || !strings.HasSuffix(pg.Volumes[0], ":/var/lib/postgresql/data") {
		t.Errorf("postgres volumes %v: want a volume on /var/lib/postgresql/data", pg.Volumes)
	} else if vol, _, _ := strings.Cut(pg.Volumes[0], ":"); strings.ContainsAny(vol, "./") {
		t.Errorf("postgres data on %q: want a named volume", vol)
	} else if _, declared := c.Volumes[vol]; !declared {
		t.Errorf("named volume %q is not declared under volumes:", vol)
	}
	if hc := strings.Join(pg.Healthcheck.Test, " "); !strings.Contains(hc, "pg_isready") || !strings.Contains(hc, "-h 127.0.0.1") {
		t.Errorf("postgres health check %q: want pg_isready over TCP (the init server only listens on the socket)", hc)
	}

	tx, ok := c.Services["taxii"]
	if !ok {
		t.Fatal("no taxii service")
	}
	if dep, ok := tx.DependsOn["postgres"]; !ok || dep.Condition != "service_healthy" {
		t.Errorf("taxii depends_on %+v: want postgres with condition service_healthy", tx.DependsOn)
	}
	if got := tx.Healthcheck.Test; !slices.Equal(got, []string{"CMD", "/taxii-server", "healthcheck"}) {
		t.Errorf("taxii health check %v: want the binary's own healthcheck, exec form (no shell in the image)", got)
	}
	for name, s := range c.Services {
		for field, d := range map[string]string{"interval": s.Healthcheck.Interval, "timeout": s.Healthcheck.Timeout, "start_period": s.Healthcheck.StartPeriod} {
			if _, err := time.ParseDuration(d); err != nil {
				t.Errorf("%s health check %s %q: %v", name, field, d, err)
			}
		}
		if s.Healthcheck.Retries < 1 {
			t.Errorf("%s health check has no retries", name)
		}
	}
	if tx.Build.Dockerfile == "" {
		t.Fatal("taxii is not built from the repository's Dockerfile")
	}
	if _, err := os.Stat(filepath.Join(tx.Build.Context, tx.Build.Dockerfile)); err != nil {
		t.Errorf("build context %q + dockerfile %q: %v", tx.Build.Context, tx.Build.Dockerfile, err)
	}
	if _, err := os.Stat(filepath.Join(tx.Build.Context, "go.mod")); err != nil {
		t.Errorf("build context %q is not the repository root: %v", tx.Build.Context, err)
	}
	if len(tx.EnvFile) != 1 || tx.EnvFile[0].Path != "taxii.env" {
		t.Errorf("taxii env_file %+v: want taxii.env (not .env, which holds POSTGRES_PASSWORD)", tx.EnvFile)
	}
	for _, p := range tx.Ports {
		if strings.HasSuffix(p, ":9090") {
			t.Errorf("port %q: metrics published on the host's 9090, Prometheus's own port", p)
		}
	}
	if v := tx.Build.Args["VERSION"]; !strings.Contains(v, "${VERSION") {
		t.Errorf("build args %v: want VERSION passed through", tx.Build.Args)
	}
	for name, s := range c.Services {
		if s.Logging.Driver != "json-file" || s.Logging.Options["max-size"] == "" || s.Logging.Options["max-file"] == "" {
			t.Errorf("%s logging %+v: want json-file with max-size and max-file (rotation)", name, s.Logging)
		}
		if s.Deploy.Resources.Limits.Memory == "" || s.Deploy.Resources.Limits.CPUs == "" {
			t.Errorf("%s has no CPU and memory limits", name)
		}
	}
	keyFile := tx.Environment["TAXII_ADMIN_KEY_FILE"]
	inVolume := false
	for _, v := range tx.Volumes {
		vol, dir, _ := strings.Cut(v, ":")
		if _, named := c.Volumes[vol]; named && keyFile != "" && filepath.Dir(keyFile) == dir {
			inVolume = true
		}
	}
	if !inVolume {
		t.Errorf("TAXII_ADMIN_KEY_FILE %q is not in a named volume of the taxii service (%v)", keyFile, tx.Volumes)
	}
	if v := tx.Environment["TAXII_AUTO_MIGRATE"]; v != "true" {
		t.Errorf("TAXII_AUTO_MIGRATE=%q: the server must migrate at start", v)
	}
	grace, err := time.ParseDuration(tx.StopGracePeriod)
	shutdown, err2 := time.ParseDuration(tx.Environment["TAXII_SHUTDOWN_TIMEOUT"])
	if err != nil || err2 != nil || grace <= shutdown {
		t.Errorf("stop_grace_period %q must exceed TAXII_SHUTDOWN_TIMEOUT %q, or Docker kills in-flight requests", tx.StopGracePeriod, tx.Environment["TAXII_SHUTDOWN_TIMEOUT"])
	}
	if !tx.ReadOnly {
		t.Error("the server needs no writable filesystem with Postgres: read_only: true")
	}
}

// TestComposeEnvNamesAreReal fails on a TAXII_* variable the binary does not read:
// a typo there is silently ignored at run time.
func TestComposeEnvNamesAreReal(t *testing.T) {
	known := map[string]bool{}
	for _, n := range config.EnvNames() {
		known[n], known[n+"_FILE"] = true, true
	}
	name := regexp.MustCompile(`\bTAXII_[A-Z0-9_]*[A-Z0-9]`)
	for _, file := range []string{"docker-compose.yml", ".env.example", "taxii.env.example", "Dockerfile"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		found := name.FindAllString(string(b), -1)
		if len(found) == 0 && file != "Dockerfile" && file != ".env.example" {
			t.Errorf("%s names no TAXII_* variable", file)
		}
		for _, n := range found {
			if !known[n] {
				t.Errorf("%s: %s is not a setting of the server (see config.Config)", file, n)
			}
		}
	}
}

// TestComposeConfigurationIsValid loads the server's configuration from the environment the
// compose file gives it, with .env.example as .env, as the container would.
func TestComposeConfigurationIsValid(t *testing.T) {
	c, dotenv, taxiiEnv := load(t)
	if dotenv["POSTGRES_PASSWORD"] == "" {
		t.Fatal(".env.example has no POSTGRES_PASSWORD")
	}
	env := containerEnv(t, c, dotenv, taxiiEnv)
	if _, leaked := env["POSTGRES_PASSWORD"]; leaked {
		t.Error("POSTGRES_PASSWORD reaches the taxii container")
	}
	for _, p := range c.Services["taxii"].Ports {
		interpolate(t, p, dotenv)
	}
	interpolate(t, c.Services["postgres"].Environment["POSTGRES_PASSWORD"], dotenv)
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("the server would refuse the compose configuration: %v", err)
	}
	if cfg.StoreKind() != "postgres" || !strings.Contains(cfg.DatabaseURL, "@postgres:5432/") {
		t.Errorf("database %q: want the postgres service", cfg.DatabaseURL)
	}
	pg := c.Services["postgres"].Environment
	if !strings.Contains(cfg.DatabaseURL, "://"+pg["POSTGRES_USER"]+":"+dotenv["POSTGRES_PASSWORD"]+"@") || !strings.HasSuffix(strings.Split(cfg.DatabaseURL, "?")[0], "/"+pg["POSTGRES_DB"]) {
		t.Errorf("database URL %q does not match the postgres service's user, password and database", cfg.DatabaseURL)
	}
	if cfg.MetricsListen == "" {
		t.Error("compose should give metrics a listener of their own")
	}
}

// containerEnv is the taxii container's environment: its env_file, then environment:
// interpolated from deploy/.env (environment wins, as in compose).
func containerEnv(t *testing.T, c compose, dotenv, taxiiEnv map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range taxiiEnv {
		env[k] = v
	}
	for k, v := range c.Services["taxii"].Environment {
		env[k] = interpolate(t, v, dotenv)
	}
	return env
}

// TestComposeDatabaseURLFromFile: the documented _FILE route works, TAXII_DATABASE_URL
// in the compose file does not beat it (nor is the start refused for having both).
func TestComposeDatabaseURLFromFile(t *testing.T) {
	c, dotenv, taxiiEnv := load(t)
	secret := filepath.Join(t.TempDir(), "database_url")
	const url = "postgres://taxii:from-a-file@postgres:5432/taxii?sslmode=disable"
	if err := os.WriteFile(secret, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dotenv["TAXII_DATABASE_URL"] = ""
	taxiiEnv["TAXII_DATABASE_URL_FILE"] = secret
	env := containerEnv(t, c, dotenv, taxiiEnv)
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.DatabaseURL != url {
		t.Fatalf("database URL from the file: %q %v", cfg.DatabaseURL, err)
	}
}

func TestSecretsStayOutOfGit(t *testing.T) {
	ignore, err := os.ReadFile(".gitignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".env", "taxii.env"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), f) {
			t.Errorf("deploy/.gitignore does not ignore %s", f)
		}
	}
	docker, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"deploy/.env", "deploy/taxii.env"} {
		if !slices.Contains(strings.Split(string(docker), "\n"), f) {
			t.Errorf("the build context would carry %s into the builder", f)
		}
	}
	if env := readEnvFile(t, ".env.example"); len(env["POSTGRES_PASSWORD"]) > 12 {
		t.Error(".env.example must hold a placeholder password, not a real one")
	}
}

// TestDockerfile checks the image: multi-stage, make build (schemas, static binary),
// distroless non-root runtime, no shell needed, HEALTHCHECK through the binary.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	var stages [][]string
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], l)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a builder and a runtime", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[len(stages)-1]
	if !strings.Contains(build, "make build") {
		t.Error("the builder does not run make build (schemas + CGO_ENABLED=0)")
	}
	if !strings.Contains(final[0], "gcr.io/distroless/static") || !strings.Contains(final[0], ":nonroot") {
		t.Errorf("runtime %q: want gcr.io/distroless/static-debian12:nonroot", final[0])
	}
	has := func(prefix string) string {
		for _, l := range final {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return ""
	}
	if u := has("USER "); u == "" || strings.Contains(u, "root") && !strings.Contains(u, "nonroot") || strings.HasPrefix(u, "USER 0") {
		t.Errorf("runtime user %q: want a non-root user", u)
	}
	if hc := has("HEALTHCHECK "); !strings.Contains(hc, `CMD ["/taxii-server", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q: want the exec form of /taxii-server healthcheck", hc)
	}
	if ep := has("ENTRYPOINT "); ep != `ENTRYPOINT ["/taxii-server"]` {
		t.Errorf("ENTRYPOINT %q: want the exec form, there is no shell", ep)
	}
	if run := has("RUN "); run != "" {
		t.Errorf("the runtime stage runs %q: it has no shell", run)
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^build:.*\n\tCGO_ENABLED=0 `).Match(mk) {
		t.Error("make build no longer builds with CGO_ENABLED=0: the distroless static image needs a static binary")
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
