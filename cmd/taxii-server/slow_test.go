//go:build unix

package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// taxiiRefusal asserts a load refusal: the status, a whole-second Retry-After
// and a TAXII error resource with the status and an error_code.
func taxiiRefusal(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		HTTPStatus string `json:"http_status"`
		ErrorCode  string `json:"error_code"`
		ErrorID    string `json:"error_id"`
	}
	if resp.StatusCode != status || json.Unmarshal(body, &e) != nil || e.HTTPStatus != strconv.Itoa(status) || e.ErrorCode == "" || e.ErrorID == "" {
		t.Fatalf("got %s %s, want %d with a TAXII error", resp.Status, body, status)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/taxii+json") {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

// TestLoadCaps drives each admission cap of the real binary past its limit, on
// both stores: open connections (503), requests in progress of one key (429),
// and bytes of Add Objects bodies in progress (503).
func TestLoadCaps(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			b.env["TAXII_MAX_CONNECTIONS"] = "3"
			b.env["TAXII_MAX_REQUESTS_PER_KEY"] = "2"
			b.env["TAXII_MAX_CONTENT_LENGTH"] = "1048576"
			b.env["TAXII_MAX_ADD_BYTES"] = "1048576"
			b.env["TAXII_MAX_OBJECT_SIZE"] = "65536"
			base, out := b.serve()
			key := regexp.MustCompile(`tk_[A-Za-z0-9_-]+`).FindString(out.String())
			feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "All", "--writable"))
			other := strings.TrimSpace(b.must("", "key", "create", "--name", "other", "--role", "read-write"))
			objects := base + "/api/v2/inthreat/taxii-server/collections/" + feed + "/objects/"
			host := strings.TrimPrefix(base, "http://")
			newClient := func() *http.Client { return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} }

			// A POST whose body never comes holds its Content-Length of the budget and its key's slot.
			// A connection the client just closed still counts for up to half a second
			// (net/http delays its close to avoid a reset), so a hold refused with
			// too_many_connections is tried again.
			hold := func(k string, length int) net.Conn {
				for end := time.Now().Add(10 * time.Second); ; {
					c, err := net.Dial("tcp", host)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/taxii+json;version=2.1\r\nContent-Length: %d\r\n\r\n{",
						strings.TrimPrefix(objects, base), host, base64.StdEncoding.EncodeToString([]byte("x:"+k)), length)
					_ = c.SetReadDeadline(time.Now().Add(time.Second)) // a refusal comes at once; silence is a hold
					buf := make([]byte, 512)
					n, err := c.Read(buf)
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						_ = c.SetReadDeadline(time.Time{})
						return c // no answer: the request waits for its body, holding its share
					}
					c.Close()
					if !strings.Contains(string(buf[:n]), "too_many_connections") || time.Now().After(end) {
						t.Fatalf("a held POST was answered: %q %v", buf[:n], err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			post := func(k string) *http.Response {
				req, _ := http.NewRequest(http.MethodPost, objects, strings.NewReader(`{"objects":[]}`))
				req.SetBasicAuth("x", k)
				req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
				resp, err := newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for end := time.Now().Add(10 * time.Second); !cond(); {
					if time.Now().After(end) {
						t.Fatalf("%s: not within 10s", what)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}

			// Add Objects bytes: one request holds the whole 1 MiB budget; another key's POST is 503.
			c1 := hold(key, 1<<20)
			waitFor("the held POST takes the budget", func() bool {
				resp := post(other)
				if resp.StatusCode == 503 {
					taxiiRefusal(t, resp, 503)
					return true
				}
				resp.Body.Close()
				return false
			})
			c1.Close()
			waitFor("the budget comes back", func() bool {
				resp := post(other)
				resp.Body.Close()
				return resp.StatusCode == 202
			})

			// Requests per key: two in progress, the third of that key is 429, another key's goes on.
			hold(key, 100)
			hold(key, 100)
			waitFor("the third request of the key is refused", func() bool {
				req, _ := http.NewRequest(http.MethodGet, objects, nil)
				req.SetBasicAuth("x", key)
				resp, err := newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode == 429 {
					taxiiRefusal(t, resp, 429)
					return true
				}
				resp.Body.Close()
				return false
			})
			// (Retried: the server may not have closed the refused request's connection yet.)
			waitFor("another key goes on while the first is at its cap", func() bool {
				resp := post(other)
				resp.Body.Close()
				return resp.StatusCode == 202
			})

			// Connections: two held above and a third make three; the fourth is told 503.
			idle, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { idle.Close() })
			waitFor("a connection over the cap is refused", func() bool {
				req, _ := http.NewRequest(http.MethodGet, base+"/taxii2/", nil)
				req.SetBasicAuth("x", other)
				resp, err := newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode == 503 {
					taxiiRefusal(t, resp, 503)
					return true
				}
				resp.Body.Close()
				return false
			})
			idle.Close()
			waitFor("the connection cap frees", func() bool {
				req, _ := http.NewRequest(http.MethodGet, base+"/taxii2/", nil)
				req.SetBasicAuth("x", other)
				resp, err := newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			})
		})
	}
}
