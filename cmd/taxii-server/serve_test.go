//go:build unix

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns its pool.
func writeTestCert(t *testing.T, certFile, keyFile string, serial int64) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "serve test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestServeOperations runs the real serve command with HTTPS and a metrics listener, on
// both stores: the wiring of TLS, SIGHUP reload, metrics, the healthcheck command and shutdown.
func TestServeOperations(t *testing.T) {
	stores := map[string]func(t *testing.T) map[string]string{
		"sqlite": func(t *testing.T) map[string]string { return map[string]string{"TAXII_DATA_DIR": t.TempDir()} },
		"postgres": func(t *testing.T) map[string]string {
			return map[string]string{"TAXII_DATABASE_URL": pgtest.NewSchema(t)}
		},
	}
	for name, storeEnv := range stores {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			roots := writeTestCert(t, certFile, keyFile, 1)
			env := storeEnv(t)
			env["TAXII_TLS_CERT"], env["TAXII_TLS_KEY"] = certFile, keyFile
			env["TAXII_TLS_RELOAD_INTERVAL"] = "0s"     // SIGHUP only, so the test knows what reloads
			env["TAXII_METRICS_LISTEN"] = "127.0.0.1:0" // both on port 0: the server reports the bound addresses
			getenv := func(k string) string { return env[k] }

			ctx, cancel := context.WithCancel(context.Background())
			out := &syncBuffer{}
			addrs, done := make(chan [2]string, 2), make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, &cli{
					stdin: strings.NewReader(""), stdout: out, stderr: io.Discard, getenv: getenv,
					listening: func(name, a string) { addrs <- [2]string{name, a} },
				})
			}()
			bound := map[string]string{}
			for len(bound) < 2 {
				select {
				case a := <-addrs:
					bound[a[0]] = a[1]
				case err := <-done:
					t.Fatalf("serve stopped: %v", err)
				case <-time.After(30 * time.Second):
					t.Fatal("serve did not listen")
				}
			}
			addr, metricsAddr := bound["taxii"], bound["metrics"]
			key := regexp.MustCompile(`tk_[A-Za-z0-9_-]+`).FindString(out.String())
			if key == "" {
				t.Fatalf("no admin key printed: %s", out.String())
			}

			pool := roots.Clone()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			defer client.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/taxii2/", nil)
			req.SetBasicAuth("x", key)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"https://`+addr+`/api/v2/inthreat/taxii-server/"`) || resp.Header.Get("X-Request-Id") == "" {
				t.Fatalf("discovery over HTTPS: %s %s", resp.Status, body)
			}

			// The web console is served by default; over HTTPS its cookies are Secure.
			cresp, err := client.Get("https://" + addr + "/console/login")
			if err != nil {
				t.Fatal(err)
			}
			cresp.Body.Close()
			secure := slices.ContainsFunc(cresp.Cookies(), func(c *http.Cookie) bool { return c.Name == "taxii_console_login" && c.Secure && c.HttpOnly })
			if cresp.StatusCode != http.StatusOK || !strings.Contains(cresp.Header.Get("Content-Security-Policy"), "script-src 'self'") || !secure {
				t.Fatalf("console login page over HTTPS: %s, CSP %q, cookies %v", cresp.Status, cresp.Header.Get("Content-Security-Policy"), cresp.Header.Values("Set-Cookie"))
			}

			// The healthcheck command speaks TLS when the server does.
			hc := map[string]string{"TAXII_TLS_CERT": certFile, "TAXII_TLS_KEY": keyFile}
			if err := run(ctx, []string{"healthcheck", "--listen", addr}, &cli{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return hc[k] }}); err != nil {
				t.Fatalf("healthcheck over TLS: %v", err)
			}

			// Metrics on their own listener, labelled by route pattern; pool statistics with Postgres.
			mresp, err := http.Get("http://" + metricsAddr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(mresp.Body)
			mresp.Body.Close()
			for _, want := range []string{`taxii_http_requests_total{method="GET",route="/taxii2",status="200"} 1`, `taxii_store_operation_duration_seconds_count{operation="get_key"}`,
				`taxii_tls_certificate_expiry_timestamp_seconds `, `taxii_build_info{goversion="go`} {
				if !strings.Contains(string(metrics), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			if hasPool := strings.Contains(string(metrics), "taxii_db_pool_connections"); hasPool != (name == "postgres") {
				t.Errorf("pool statistics present: %v, with %s", hasPool, name)
			}
			if r, err := client.Get("https://" + addr + "/metrics"); err == nil {
				r.Body.Close()
				if r.StatusCode == 200 {
					t.Error("/metrics answered on the main listener without TAXII_METRICS_ON_MAIN")
				}
			}

			// SIGHUP reloads the certificate for new connections.
			writeTestCert(t, certFile, keyFile, 2)
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only the serial is read
				if err != nil {
					t.Fatal(err)
				}
				serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
				conn.Close()
				if serial == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("SIGHUP did not reload the certificate")
				}
				time.Sleep(20 * time.Millisecond)
			}

			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve after shutdown: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop")
			}
		})
	}
}
