package export_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
)

// TestExportAdmission: the export routes are under the caps of the TAXII API, through
// the assembled server: a key's requests in progress count across both APIs (429), and
// a connection over the server's cap is told 503, each with Retry-After and the JSON error.
func TestExportAdmission(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, func(c *config.Config) { c.MaxRequestsPerKey, c.MaxConnections = 1, 3 })
		host := strings.TrimPrefix(f.srv.URL, "http://")
		fresh := func(key, url string) response { // a new connection per request
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+f.keys[key])
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return response{status: resp.StatusCode, header: resp.Header, body: b, close: resp.Close}
		}
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("%s: not within 10s", what)
				}
			}
		}
		refusal := func(r response, status int, want string) {
			t.Helper()
			r.apiError(t, status, want)
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
			}
		}
		// A TAXII Add Objects whose body never comes holds the writer key's one slot.
		held, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { held.Close() })
		fmt.Fprintf(held, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/taxii+json;version=2.1\r\nContent-Length: 100\r\n\r\n{",
			strings.TrimPrefix(f.taxii, f.srv.URL)+"/collections/"+feedAll+"/objects/", host, base64.StdEncoding.EncodeToString([]byte("x:"+f.keys["writer"])))
		for _, path := range []string{"/collections/" + feedAll + "/objects", "/collections/" + feedAll + "/lists/ipv4.txt",
			"/objects?match[id]=" + indicatorID(1), "/indicators/context?value=198.51.100.1"} {
			var r response
			waitFor("the writer's export request is refused", func() bool {
				r = fresh("writer", f.api+path)
				return r.status == http.StatusTooManyRequests
			})
			refusal(r, http.StatusTooManyRequests, "requests in progress")
			// Another key goes on (once the server has counted the refused connection closed).
			waitFor("the reader's export request is served", func() bool { return fresh("reader", f.api+path).status == http.StatusOK })
		}

		// Connections: the held one and two idle ones make three; a fourth is told 503.
		for range 2 {
			idle, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { idle.Close() })
		}
		var r response
		waitFor("a connection over the cap is refused", func() bool {
			r = fresh("reader", f.api+"/indicators/context?value=198.51.100.1")
			return r.status == http.StatusServiceUnavailable
		})
		refusal(r, http.StatusServiceUnavailable, "connections")
		if !r.close {
			t.Error("the connection over the cap is not closed")
		}
		held.Close()
		waitFor("the cap frees when a connection closes", func() bool {
			return fresh("writer", f.api+"/collections/"+feedAll+"/objects").status == http.StatusOK
		})
	})
}

// TestHeadOnEveryRoute: HEAD answers every export GET route with the GET's status and
// headers and no body, refusals included (Content-Length aside: a streamed body has none to announce).
func TestHeadOnEveryRoute(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		f.post(t, indicator(1, "[ipv4-addr:value = '198.51.100.1']", "stix", ""))
		for _, path := range []string{
			"/collections/" + feedAll + "/objects", "/collections/" + feedAll + "/objects?format=csv",
			"/collections/" + feedAll + "/lists/ipv4.txt", "/objects/" + indicatorID(1), "/objects?match[id]=" + indicatorID(1),
			"/indicators/context?value=198.51.100.1", "/indicators/context", "/objects/" + indicatorID(2),
		} {
			get := f.get(t, "reader", f.api+path)
			req, _ := http.NewRequest(http.MethodHead, f.api+path, nil)
			req.Header.Set("Authorization", "Bearer "+f.keys["reader"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != get.status || len(b) != 0 {
				t.Errorf("HEAD %s: %d with %d bytes; GET: %d", path, resp.StatusCode, len(b), get.status)
			}
			for _, h := range []string{"Content-Type", "ETag", "Last-Modified", "Cursor"} {
				if resp.Header.Get(h) != get.header.Get(h) {
					t.Errorf("HEAD %s: %s %q, GET has %q", path, h, resp.Header.Get(h), get.header.Get(h))
				}
			}
		}
	})
}
