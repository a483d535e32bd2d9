package server

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
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost.
type testCert struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
}

func newTestCert(t *testing.T, serial int64) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "taxii test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		cert:    cert,
	}
}

// write replaces the files the way an operator (or cert-manager) would: write then rename.
func (c testCert) write(t *testing.T, certFile, keyFile string) {
	t.Helper()
	for file, data := range map[string][]byte{certFile: c.certPEM, keyFile: c.keyPEM} {
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
}

func (c testCert) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// serveTLS runs the real handler over HTTPS with certificates from the files; it returns the address.
func serveTLS(t *testing.T, certs *CertReloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Timeouts{ReadHeaderTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second}, zaptest.NewLogger(t),
			Listener{Name: "taxii", Listener: ln, Handler: New(Options{TAXII: fakeTAXII(), Store: okPinger{}}), TLS: TLSConfig(certs.GetCertificate)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func certFiles(t *testing.T) (string, string) {
	dir := t.TempDir()
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func TestTLSServing(t *testing.T) {
	certFile, keyFile := certFiles(t)
	a := newTestCert(t, 1)
	a.write(t, certFile, keyFile)
	certs, err := LoadCertificate(certFile, keyFile, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, certs)

	for name, cfg := range map[string]*tls.Config{
		"TLS 1.3":         {RootCAs: a.pool()},
		"TLS 1.2 AES-GCM": {RootCAs: a.pool(), MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
	} {
		t.Run(name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			defer client.CloseIdleConnections()
			resp, err := client.Get("https://" + addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
				t.Fatalf("%s over %v", resp.Status, resp.TLS)
			}
		})
	}

	refused := map[string]struct {
		cfg  *tls.Config
		want string // the server's alert
	}{
		"TLS 1.1":          {&tls.Config{RootCAs: a.pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "protocol version"},
		"TLS 1.0":          {&tls.Config{RootCAs: a.pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, "protocol version"},
		"TLS 1.2 CBC only": {&tls.Config{RootCAs: a.pool(), MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, "handshake failure"},
	}
	for name, c := range refused {
		t.Run("refuses "+name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, c.cfg)
			if err == nil {
				conn.Close()
				t.Fatalf("handshake with %s succeeded", name)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("handshake with %s: %v, want the server's %q alert", name, err, c.want)
			}
		})
	}

	t.Run("plain HTTP is not served", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP answered 200 on the TLS listener")
			}
		}
	})
}

func TestCertificateReload(t *testing.T) {
	certFile, keyFile := certFiles(t)
	a, b := newTestCert(t, 1), newTestCert(t, 2)
	a.write(t, certFile, keyFile)
	certs, err := LoadCertificate(certFile, keyFile, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, certs)

	pool := a.pool()
	pool.AddCert(b.cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	get := func() (serial int64, reused bool) {
		t.Helper()
		var info httptrace.GotConnInfo
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/healthz", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { info = i }}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), info.Reused
	}
	if serial, _ := get(); serial != 1 {
		t.Fatalf("first certificate: serial %d", serial)
	}

	// Reload (SIGHUP): the open connection goes on, new connections get the new certificate.
	b.write(t, certFile, keyFile)
	if changed, err := certs.Reload(); !changed || err != nil {
		t.Fatalf("Reload: changed=%v err=%v", changed, err)
	}
	if serial, reused := get(); serial != 1 || !reused {
		t.Fatalf("after reload, the kept-alive connection: serial %d reused %v; want it untouched", serial, reused)
	}
	client.CloseIdleConnections()
	if serial, reused := get(); serial != 2 || reused {
		t.Fatalf("after reload, a new connection: serial %d reused %v", serial, reused)
	}
	if changed, err := certs.Reload(); changed || err != nil {
		t.Fatalf("Reload of unchanged files: changed=%v err=%v", changed, err)
	}

	// A broken pair (certificate of one key, the other key) is refused; the current one stays.
	if err := os.WriteFile(keyFile, a.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Reload(); err == nil {
		t.Fatal("mismatched certificate and key loaded")
	}
	client.CloseIdleConnections()
	if serial, _ := get(); serial != 2 {
		t.Fatalf("after a failed reload: serial %d, want the previous 2", serial)
	}
}

func TestCertificateWatch(t *testing.T) {
	certFile, keyFile := certFiles(t)
	newTestCert(t, 1).write(t, certFile, keyFile)
	certs, err := LoadCertificate(certFile, keyFile, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		c, _ := certs.GetCertificate(nil)
		return c.Leaf.SerialNumber.Int64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("file change", func(t *testing.T) {
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { certs.Watch(wctx, 10*time.Millisecond, nil); close(done) }()
		newTestCert(t, 2).write(t, certFile, keyFile)
		eventually(t, 5*time.Second, "the changed files were not picked up", func() bool { return serial() == 2 })
		stop()
		<-done
	})
	t.Run("signal only", func(t *testing.T) {
		reload := make(chan struct{})
		done := make(chan struct{})
		go func() { certs.Watch(ctx, 0, reload); close(done) }()
		newTestCert(t, 3).write(t, certFile, keyFile)
		time.Sleep(50 * time.Millisecond)
		if serial() != 2 {
			t.Fatal("reloaded without a signal while the file check is off")
		}
		reload <- struct{}{}
		eventually(t, 5*time.Second, "SIGHUP did not reload", func() bool { return serial() == 3 })
		cancel()
		<-done
	})
}

func TestLoadCertificateErrors(t *testing.T) {
	certFile, keyFile := certFiles(t)
	if _, err := LoadCertificate(certFile, keyFile, nil); err == nil {
		t.Fatal("missing files accepted")
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, newTestCert(t, 1).keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCertificate(certFile, keyFile, nil); err == nil {
		t.Fatal("garbage certificate accepted")
	}
}
