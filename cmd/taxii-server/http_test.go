package main

import (
	"bufio"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rawGet sends one HTTP/1.1 GET over a fresh connection and returns the response
// head exactly as it came over the wire, and the body.
func rawGet(t *testing.T, base, path, key string) (string, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(base, "http://") +
		"\r\nAuthorization: Bearer " + key + "\r\nAccept: application/taxii+json;version=2.1\r\nConnection: close\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	tp := textproto.NewReader(br)
	var body strings.Builder
	for {
		line, err := tp.ReadLine()
		body.WriteString(line)
		if err != nil {
			break
		}
	}
	return head.String(), body.String()
}

// TestServeSpeaksTAXIIToTheLetter runs the real binary on plain HTTP and checks what
// a strict conformance suite checks: HEAD on every GET endpoint, relative discovery
// URLs without TAXII_PUBLIC_BASE_URL (spec 4.1.1), and the date headers spelled as
// the spec spells them on the wire.
func TestServeSpeaksTAXIIToTheLetter(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			base, out := b.serve()
			admin := regexp.MustCompile(`\btk_\S+`).FindString(out.String())
			feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "Indicators", "--writable"))
			file := filepath.Join(t.TempDir(), "bundle.json")
			if err := os.WriteFile(file, []byte(indicatorBundle(3)), 0o600); err != nil {
				t.Fatal(err)
			}
			b.must("", "import", file)
			root := "/api/v2/inthreat/taxii-server"
			obj := "indicator--00000001-0000-4000-8000-000000000000"

			head, body := rawGet(t, base, "/taxii2/", admin)
			if !strings.HasPrefix(head, "HTTP/1.1 200") || !strings.Contains(body, `"default":"`+root+`/"`) ||
				!strings.Contains(body, `"api_roots":["`+root+`/"]`) {
				t.Fatalf("discovery over plain HTTP: %s%s", head, body)
			}
			head, _ = rawGet(t, base, root+"/collections/"+feed+"/objects/", admin)
			for _, name := range []string{"X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"} {
				if !strings.Contains(head, "\r\n"+name+": ") {
					t.Errorf("the response head does not spell %s as the spec does:\n%s", name, head)
				}
			}

			for _, path := range []string{"/taxii2/", root + "/", root + "/collections/", root + "/collections/" + feed + "/",
				root + "/collections/" + feed + "/manifest/", root + "/collections/" + feed + "/objects/",
				root + "/collections/" + feed + "/objects/" + obj + "/", root + "/collections/" + feed + "/objects/" + obj + "/versions/"} {
				req, _ := http.NewRequest(http.MethodHead, base+path, nil)
				req.Header.Set("Authorization", "Bearer "+admin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/taxii+json;version=2.1" {
					t.Errorf("HEAD %s: %s (Allow %q)", path, resp.Status, resp.Header.Get("Allow"))
				}
			}
		})
	}
}
