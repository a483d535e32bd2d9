//go:build unix

package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// bigIndicators makes an envelope-free bundle of n indicators of about size bytes each.
func bigIndicators(n, size int) string {
	pad := strings.Repeat("x", size)
	var b strings.Builder
	b.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000002","objects":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"ip %d","description":"%s",`+
			`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i, pad, i%250)
	}
	b.WriteString(`]}`)
	return b.String()
}

// TestSlowReadersDoNotFreezeTheServer stalls 4 x the database pool size of
// readers, each asking for a large page and never reading it, over HTTP/1.1
// (a connection each) and over HTTP/2 (streams of one connection), on both
// stores. Meanwhile other requests, authentication and a page read included,
// keep answering within a second, and /readyz stays 200.
func TestSlowReadersDoNotFreezeTheServer(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			pool := 16 // the SQLite reader pool
			if u := b.env["TAXII_DATABASE_URL"]; u != "" {
				pool = 4
				pu, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				q := pu.Query()
				q.Set("pool_max_conns", "4")
				pu.RawQuery = q.Encode()
				b.env["TAXII_DATABASE_URL"] = pu.String()
			}
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			roots := writeTestCert(t, certFile, keyFile, 1)
			b.env["TAXII_TLS_CERT"], b.env["TAXII_TLS_KEY"] = certFile, keyFile
			b.env["TAXII_TLS_RELOAD_INTERVAL"] = "0s"
			// The stall itself is under test here, not the per-key cap.
			b.env["TAXII_MAX_REQUESTS_PER_KEY"] = "1000"
			b.env["TAXII_PAGE_BUFFER_MEMORY"] = "67108864"

			base, out := b.serve()
			base = strings.Replace(base, "http://", "https://", 1)
			key := regexp.MustCompile(`tk_[A-Za-z0-9_-]+`).FindString(out.String())
			feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "All"))
			file := filepath.Join(dir, "bundle.json")
			// 3000 objects of 1.5 KB: a 4.5 MB page, more than the socket buffers take.
			if err := os.WriteFile(file, []byte(bigIndicators(3000, 1500)), 0o600); err != nil {
				t.Fatal(err)
			}
			b.must("", "import", file)

			host := strings.TrimPrefix(base, "https://")
			pagePath := "/api/v2/inthreat/taxii-server/collections/" + feed + "/objects/?limit=10000"
			auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+key))

			t.Run("http1", func(t *testing.T) {
				for i := range 4 * pool {
					raw, err := net.Dial("tcp", host)
					if err != nil {
						t.Fatal(err)
					}
					_ = raw.(*net.TCPConn).SetReadBuffer(4096)
					c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
					t.Cleanup(func() { c.Close() })
					fmt.Fprintf(c, "GET %s&n=%d HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nAccept: application/taxii+json;version=2.1\r\n\r\n", pagePath, i, host, auth)
					// The status line, and not much more: the page has started, then stalls.
					line, err := bufio.NewReaderSize(c, 16).ReadString('\n')
					if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
						t.Fatalf("staller %d: %q %v", i, line, err)
					}
				}
				probe(t, base, roots, key, feed)
			})
			t.Run("http2", func(t *testing.T) {
				tr := &http.Transport{
					TLSClientConfig:   &tls.Config{RootCAs: roots},
					ForceAttemptHTTP2: true,
					MaxConnsPerHost:   1,
					// Small windows: the server can send little before it has to wait.
					HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10, MaxReceiveBufferPerConnection: 64 << 10, MaxConcurrentStreams: 1000},
				}
				t.Cleanup(tr.CloseIdleConnections)
				client := &http.Client{Transport: tr}
				for i := range 4 * pool {
					req, _ := http.NewRequest(http.MethodGet, base+pagePath+fmt.Sprintf("&n=%d", i), nil)
					req.Header.Set("Authorization", auth)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
						t.Fatalf("staller %d: %s %s", i, resp.Proto, resp.Status)
					}
					t.Cleanup(func() { resp.Body.Close() })
				}
				probe(t, base, roots, key, feed)
			})
		})
	}
}

// probe asks for discovery, the collections, a small page and /readyz for a
// few seconds on fresh connections, and fails unless every answer is 200 and
// the p99 latency is under a second.
func probe(t *testing.T, base string, roots *x509.CertPool, key, feed string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
	root := base + "/api/v2/inthreat/taxii-server"
	urls := []string{base + "/readyz", base + "/taxii2/", root + "/collections/", root + "/collections/" + feed + "/objects/?limit=10"}
	var took []time.Duration
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		for _, u := range urls {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.SetBasicAuth("x", key)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s while readers stall: %v", u, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took = append(took, time.Since(start))
			if resp.StatusCode != 200 {
				t.Fatalf("%s while readers stall: %s", u, resp.Status)
			}
		}
	}
	slices.Sort(took)
	p99 := took[len(took)*99/100]
	t.Logf("%d requests while readers stall: p50 %s, p99 %s", len(took), took[len(took)/2], p99)
	if p99 > time.Second {
		t.Fatalf("p99 %s while readers stall, want under 1s", p99)
	}
}
