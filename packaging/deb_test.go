//go:build debtest

// Package packaging's test installs the .deb that `make dist` built on this machine
// (root, dpkg), checks what it put in place, and runs the systemd unit's command the
// way systemd would: as the unit's user, with its EnvironmentFile. Run by `make deb-test`.
package packaging

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// unitSettings reads Key=Value lines of the [Service] section.
func unitSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// envFile reads KEY=VALUE lines as systemd's EnvironmentFile does (comments skipped).
func envFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	return env
}

func TestDebInstallsAndStarts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("dpkg -i needs root")
	}
	debs, _ := filepath.Glob(filepath.Join("..", "dist", "taxii-server_*_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		t.Fatalf("want one .deb for %s in dist/ (make dist), found %v", runtime.GOARCH, debs)
	}
	_, userExisted := user.Lookup("taxii")
	_, dataErr := os.Stat("/var/lib/taxii-server")
	if _, err := os.Stat("/usr/bin/taxii-server"); err == nil {
		t.Fatal("/usr/bin/taxii-server exists already; this test would replace someone's install")
	}
	t.Cleanup(func() {
		_ = exec.Command("dpkg", "--purge", "taxii-server").Run()
		if userExisted != nil {
			_ = exec.Command("userdel", "taxii").Run()
		}
		if dataErr != nil {
			_ = os.RemoveAll("/var/lib/taxii-server")
		}
	})
	run(t, "dpkg", "-i", debs[0])

	if out := run(t, "/usr/bin/taxii-server", "version"); !strings.HasPrefix(out, "taxii-server ") {
		t.Errorf("version: %q", out)
	}
	u, err := user.Lookup("taxii")
	if err != nil {
		t.Fatalf("no taxii user: %v", err)
	}
	if passwd := run(t, "getent", "passwd", "taxii"); !strings.HasSuffix(strings.TrimSpace(passwd), "/usr/sbin/nologin") {
		t.Errorf("taxii user can log in: %s", passwd)
	}
	if info, err := os.Stat("/etc/taxii-server/env"); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("/etc/taxii-server/env: %v %v", info, err)
	}
	info, err := os.Stat("/var/lib/taxii-server")
	if err != nil || fmt.Sprint(info.Sys().(*syscall.Stat_t).Uid) != u.Uid || info.Mode().Perm() != 0o750 {
		t.Fatalf("/var/lib/taxii-server: %v %v", info, err)
	}
	if conf := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "taxii-server"); !strings.Contains(conf, "/etc/taxii-server/env") {
		t.Errorf("/etc/taxii-server/env is not a conffile: %q", conf)
	}

	unit := unitSettings(t, "/lib/systemd/system/taxii-server.service")
	if unit["User"] != "taxii" || unit["EnvironmentFile"] != "/etc/taxii-server/env" || !strings.Contains(unit["ReadWritePaths"], "/var/lib/taxii-server") {
		t.Fatalf("unit: %v", unit)
	}
	// The unit's command, as systemd runs it, on a free port instead of the env file's :8080.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := append(envFile(t, unit["EnvironmentFile"]), "TAXII_LISTEN="+addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	argv := strings.Fields(unit["ExecStart"])
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env // only the EnvironmentFile, as systemd gives it
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("the server did not stop cleanly on SIGTERM: %v\n%s", err, logs.String())
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unit's command did not answer /healthz:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	key, err := os.Stat("/var/lib/taxii-server/admin-key")
	if err != nil || key.Mode().Perm() != 0o600 || fmt.Sprint(key.Sys().(*syscall.Stat_t).Uid) != u.Uid {
		t.Errorf("admin key file: %v %v", key, err)
	}
	if _, err := os.Stat("/var/lib/taxii-server/taxii.db"); err != nil {
		t.Errorf("the embedded store is not in /var/lib/taxii-server: %v", err)
	}
	if strings.Contains(logs.String(), "tk_") {
		t.Error("the admin key reached the server's output (the journal)")
	}
}
