//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

// BenchmarkAddObjectsPeakRSS runs the real binary on Postgres and reports its peak
// RSS (VmHWM) after each load of the README's memory table: one POST of 100,000
// objects (about 100 MB), three POSTs of 50,000 at once, and 20 reads at once of
// the status of a 100,000-object request. TAXII_RSS_BIN measures another build.
// Run: go test -run '^$' -bench AddObjectsPeakRSS -benchtime 1x ./cmd/taxii-server
func BenchmarkAddObjectsPeakRSS(b *testing.B) {
	bin := os.Getenv("TAXII_RSS_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "taxii-server")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	big := envelopeOf(0, 100_000)
	halves := []string{envelopeOf(200_000, 50_000), envelopeOf(300_000, 50_000), envelopeOf(400_000, 50_000)}
	for b.Loop() {
		mib := func(kb int64) float64 { return float64(kb) / 1024 }
		srv := startBinary(b, bin)
		srv.post(b, big)
		b.ReportMetric(mib(srv.peakKB(b)), "MiB-one-100MB-post")
		srv.stop()

		srv = startBinary(b, bin)
		var wg sync.WaitGroup
		for _, h := range halves {
			wg.Go(func() { srv.post(b, h) })
		}
		wg.Wait()
		b.ReportMetric(mib(srv.peakKB(b)), "MiB-three-50MB-posts")
		srv.stop()

		srv = startBinary(b, bin)
		status := srv.post(b, big)
		base := srv.peakKB(b)
		for range 20 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, srv.apiRoot+"/status/"+status+"/", nil)
				req.SetBasicAuth("x", srv.key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n < 1_000_000 {
					b.Errorf("status read: %s, %d bytes", resp.Status, n)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(mib(srv.peakKB(b)), "MiB-20-status-reads")
		b.ReportMetric(mib(base), "MiB-before-status-reads")
		srv.stop()
	}
}

// envelopeOf is an envelope of n indicators of about 1 KB, numbered from first.
func envelopeOf(first, n int) string {
	var sb strings.Builder
	sb.WriteString(`{"objects":[`)
	pad := strings.Repeat("x", 700)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"ip %d","description":"%s",`+
			`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, first+i, i, pad, i%250)
	}
	sb.WriteString(`]}`)
	return sb.String()
}

type runningBinary struct {
	cmd        *exec.Cmd
	apiRoot    string
	collection string
	key        string
}

func startBinary(tb testing.TB, bin string) *runningBinary {
	tb.Helper()
	env := append(os.Environ(), "TAXII_DATABASE_URL="+pgtest.NewSchema(tb), "TAXII_LOG_LEVEL=info",
		"TAXII_MAX_CONTENT_LENGTH=209715200", "TAXII_MAX_ADD_BYTES=314572800",
		// Memory is measured here: writers queued behind a 100 MB request must not time out.
		"TAXII_DB_LOCK_TIMEOUT=10m", "TAXII_DB_STATEMENT_TIMEOUT=1h")
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = env
	// The bootstrap key is printed on stdout; it is read from a pipe, as the
	// server may log that it serves before the key has been copied out.
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	key := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if k := regexp.MustCompile(`tk_[A-Za-z0-9_-]+`).FindString(sc.Text()); k != "" {
				select {
				case key <- k:
				default:
				}
			}
		}
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l struct{ Msg, Address string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving TAXII 2.1" {
				addr <- l.Address
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(60 * time.Second):
		tb.Fatal("server did not start")
	}
	r := &runningBinary{cmd: cmd, apiRoot: "http://" + a + "/api/v2/inthreat/taxii-server"}
	select {
	case r.key = <-key:
	case <-time.After(60 * time.Second):
		tb.Fatal("server printed no bootstrap key")
	}
	fc := exec.Command(bin, "feed", "create", "--title", "All", "--writable")
	fc.Env = env
	out, err := fc.Output()
	if err != nil {
		tb.Fatal(err)
	}
	r.collection = r.apiRoot + "/collections/" + strings.TrimSpace(string(out))
	return r
}

// post adds an envelope and returns the status id.
func (r *runningBinary) post(tb testing.TB, body string) string {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, r.collection+"/objects/", strings.NewReader(body))
	req.SetBasicAuth("x", r.key)
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Error(err)
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		ID           string `json:"id"`
		SuccessCount int    `json:"success_count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 202 || st.SuccessCount == 0 {
		tb.Errorf("POST: %s %+v %v", resp.Status, st, err)
	}
	return st.ID
}

func (r *runningBinary) peakKB(tb testing.TB) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb
}

func (r *runningBinary) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	_ = r.cmd.Wait()
}
