package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverPackage is the server's main package, built by buildServer.
const serverPackage = "github.com/inthreat/taxii-server/cmd/taxii-server"

// apiRootPath is the server's default API root.
const apiRootPath = "/api/v2/inthreat/taxii-server/"

// BuildServer builds the server binary into dir, the way `make build` does, and
// returns its path. It must run inside the module (go build resolves the package there).
func BuildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "taxii-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, serverPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (run inside the module, or give -server-bin): %v\n%s", serverPackage, err, out)
	}
	return bin, nil
}

// deployment is one server binary and the store it uses: the environment every
// command of the binary (serve, import, feed, key) runs with.
type deployment struct {
	bin   string
	env   []string
	kind  string // postgres or sqlite
	pgURL string // the bench database, for the baseline
	// ownDatabase: pgURL is a database of its own (not a schema in a shared one).
	ownDatabase bool
	sqlite      string // the bench database file, for the baseline
	cleanup     []func() error
}

// baseEnv is the caller's environment without any TAXII_ setting, so that
// nothing from the shell changes what is measured.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TAXII_") {
			env = append(env, kv)
		}
	}
	return env
}

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newPostgresDeployment creates a database of its own on the server of adminURL
// (or, when not allowed to, a schema), dropped by close.
func newPostgresDeployment(ctx context.Context, bin, adminURL string) (*deployment, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-pg %q: want a URL such as postgres://user@host:5432/db", adminURL)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	d := &deployment{bin: bin, kind: "postgres"}
	name := "taxii_bench_" + randomSuffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err == nil {
		db := *u
		db.Path = "/" + name
		d.pgURL, d.ownDatabase = db.String(), true
		d.cleanup = append(d.cleanup, func() error {
			c, err := pgx.Connect(context.Background(), adminURL)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			_, err = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		})
	} else {
		// No CREATE DATABASE privilege: a schema of our own in the given database.
		if _, err2 := conn.Exec(ctx, "CREATE SCHEMA "+name); err2 != nil {
			return nil, fmt.Errorf("create a database (%v) or a schema (%v) for the benchmark", err, err2)
		}
		db := *u
		q := db.Query()
		q.Set("search_path", name)
		db.RawQuery = q.Encode()
		d.pgURL = db.String()
		d.cleanup = append(d.cleanup, func() error {
			c, err := pgx.Connect(context.Background(), adminURL)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			_, err = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+name+" CASCADE")
			return err
		})
	}
	d.env = append(baseEnv(), "TAXII_DATABASE_URL="+d.pgURL)
	return d, nil
}

// newSqliteDeployment puts the embedded store's file under dir.
func newSqliteDeployment(bin, dir string) *deployment {
	data := filepath.Join(dir, "data")
	return &deployment{
		bin: bin, kind: "sqlite", sqlite: filepath.Join(data, "taxii.db"),
		env: append(baseEnv(), "TAXII_DATA_DIR="+data),
	}
}

// close drops the database; the caller removes the work folder.
func (d *deployment) close() error {
	var errs []error
	for _, f := range d.cleanup {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// command runs the binary with args and returns its standard output.
func (d *deployment) command(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = d.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("taxii-server %s: %v\n%s", strings.Join(args, " "), err, snippet(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// commandCPU is command, and the CPU time the process used.
func (d *deployment) commandCPU(ctx context.Context, args ...string) (string, time.Duration, error) {
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = d.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), 0, fmt.Errorf("taxii-server %s: %v\n%s", strings.Join(args, " "), err, snippet(stderr.Bytes()))
	}
	return stdout.String(), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// sql runs one statement on the deployment's Postgres database.
func (d *deployment) sql(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, d.pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

// server is a running `taxii-server serve`.
type server struct {
	cmd    *exec.Cmd
	addr   string // host:port
	exited chan struct{}
	err    error // the exit status, once exited is closed
	logs   *tailBuffer
}

// freePort finds a loopback port nobody listens on.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs serve on a free loopback port and waits until /readyz answers.
func (d *deployment) startServer(ctx context.Context) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(d.bin, "serve")
	cmd.Env = append(append([]string{}, d.env...), "TAXII_LISTEN="+addr)
	s := &server{cmd: cmd, addr: addr, exited: make(chan struct{}), logs: &tailBuffer{max: 8 << 10}}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.err = cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("the server exited at start: %v\n%s", s.err, s.logs)
		case <-ctx.Done():
			_ = s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("the server did not become ready in 60 s:\n%s", s.logs)
		}
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop asks the server to drain (SIGTERM) and kills it after 15 s.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("the server did not stop on SIGTERM in 15 s; killed")
	}
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
