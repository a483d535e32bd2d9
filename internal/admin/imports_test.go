package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// importServer is the assembled server with the admin API on st and an admin key.
type importServer struct {
	url, key string
	st       store.Store
}

func newImportServer(t *testing.T, st store.Store, o admin.ImportOptions) *importServer {
	t.Helper()
	plain, key, err := auth.Generate("loader", store.RoleAdmin, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key.Source = "vendor-x"
	if err := st.CreateKey(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	log := zaptest.NewLogger(t)
	ao := admin.OptionsFrom(cfg)
	ao.Imports = o
	svc := admin.NewService(st, log, time.Now, ao)
	h, err := admin.NewHandler(svc, log, admin.APIOptionsFrom(cfg))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Options{TAXII: http.NotFoundHandler(), Admin: h, Store: st, Log: log}))
	t.Cleanup(srv.Close)
	return &importServer{url: srv.URL + admin.Prefix, key: plain, st: st}
}

type importJob struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Source string `json:"source"`
	Counts struct {
		Imported, Unchanged, Conflicting, Rejected int
	} `json:"counts"`
	Summary string   `json:"summary"`
	Lines   []string `json:"lines"`
	Error   string   `json:"error"`
	Bytes   int64    `json:"bytes"`
}

// send makes one request with the admin key and decodes a JSON answer into out.
func (s *importServer) send(t *testing.T, method, path string, body io.Reader, size int64, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size // -1: chunked
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/x-ndjson") // changes must not carry a type a cross-site form may send
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func indicatorLine(n int, ip string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '%s']",`+
		`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`+"\n", n, ip)
}

func linesOf(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		b.WriteString(indicatorLine(i, fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255)))
	}
	return b.String()
}

// TestImportJob (issue 15): on both stores, a JSON-lines body of several
// batches streams through ingest; while it is still being sent the job is
// listed running with the counts of the batches stored, and its final answer
// (202) and resource read like the CLI: counts with conflicts, the listed
// objects by position, the key's source on what it stored.
func TestImportJob(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			s := newImportServer(t, named.New(t), admin.ImportOptions{ListMax: 10, MaxBytes: 1 << 30, Retention: time.Hour})
			pr, pw := io.Pipe()
			// A failure below must not leave the upload, and the server's Close, waiting forever.
			t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
			type answer struct {
				code int
				job  importJob
			}
			done := make(chan answer, 1)
			go func() {
				var a answer
				a.code = s.send(t, "POST", "/imports", pr, -1, &a.job)
				done <- a
			}()
			write := func(text string) {
				t.Helper()
				if _, err := io.WriteString(pw, text); err != nil {
					t.Fatal(err)
				}
			}
			// Two batches, a second apart: the second's counts reach the store.
			write(linesOf(0, 2000))
			time.Sleep(1100 * time.Millisecond)
			write(linesOf(2000, 2000))
			var running importJob
			for end := time.Now().Add(time.Minute); running.Counts.Imported < 4000; {
				var list struct{ Imports []importJob }
				if code := s.send(t, "GET", "/imports", nil, 0, &list); code != 200 {
					t.Fatalf("GET /imports: %d", code)
				}
				if len(list.Imports) == 1 {
					running = list.Imports[0]
				}
				if time.Now().After(end) {
					t.Fatalf("no running job with the first batches' counts: %+v", list)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if running.State != "running" || running.Source != "vendor-x" || running.Bytes == 0 {
				t.Fatalf("while sending: %+v", running)
			}
			var polled importJob
			if code := s.send(t, "GET", "/imports/"+running.ID, nil, 0, &polled); code != 200 || polled.State != "running" || polled.Counts.Imported < 4000 {
				t.Fatalf("GET the job while it runs: %d %+v", code, polled)
			}
			// The rest: 500 new, one conflict (object 4501), one invalid (object 4502).
			write(linesOf(4000, 500) + indicatorLine(7, "192.0.2.1") + `{"type":"indicator","spec_version":"2.1"}` + "\n")
			pw.Close()
			a := <-done
			want := "imported 4500, unchanged 0, conflicting 1, rejected 1"
			if a.code != http.StatusAccepted || a.job.ID != running.ID || a.job.State != "done" || a.job.Summary != want {
				t.Fatalf("POST answered %d %+v, want 202 and %q", a.code, a.job, want)
			}
			var final importJob
			if code := s.send(t, "GET", "/imports/"+a.job.ID, nil, 0, &final); code != 200 || final.Summary != want || len(final.Lines) != 2 ||
				!strings.HasPrefix(final.Lines[0], "conflicting upload: object 4501 indicator--00000000-0000-4000-8000-000000000007: version 2026-01-01T00:00:00.000Z is already stored with other content") ||
				!strings.HasPrefix(final.Lines[1], "rejected upload: object 4502 -: ") {
				t.Fatalf("final job %d %+v", code, final)
			}
			srcs, err := s.st.ListSources(t.Context())
			if err != nil || fmt.Sprint(srcs) != "[{vendor-x 4500}]" {
				t.Errorf("sources %v, %v: the key's source on every stored version", srcs, err)
			}
		})
	}
}

// TestImportLimits: a body announced larger than the limit is refused before
// a job starts (413); one that turns out larger ends its job failed, keeping
// what came before; a source parameter names the source; unknown jobs are 404.
func TestImportLimits(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	body := linesOf(0, 300)
	s := newImportServer(t, st, admin.ImportOptions{ListMax: 10, MaxBytes: int64(len(body) / 2)})
	var e struct{ Code, Error string }
	if code := s.send(t, "POST", "/imports", strings.NewReader(body), int64(len(body)), &e); code != 413 || !strings.Contains(e.Error, "TAXII_IMPORT_MAX_BYTES") {
		t.Fatalf("announced too large: %d %+v", code, e)
	}
	var job importJob
	code := s.send(t, "POST", "/imports?source=bulk", io.MultiReader(strings.NewReader(body)), -1, &job)
	if code != 202 || job.State != "failed" || !strings.Contains(job.Error, "larger than") || job.Source != "bulk" ||
		job.Counts.Imported == 0 || job.Counts.Imported >= 300 {
		t.Fatalf("chunked too large: %d %+v", code, job)
	}
	if code := s.send(t, "GET", "/imports/00000000-0000-4000-8000-000000000000", nil, 0, &e); code != 404 {
		t.Errorf("unknown job: %d", code)
	}
	var list struct{ Imports []importJob }
	if s.send(t, "GET", "/imports", nil, 0, &list); len(list.Imports) != 1 {
		t.Errorf("the refused body started a job: %+v", list)
	}
}

// The console calls Service.Import with any reader, as the API does.
func TestServiceImportFromReader(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	svc := admin.NewService(st, zaptest.NewLogger(t), time.Now, admin.Options{Imports: admin.ImportOptions{ListMax: 5, Limits: stix.Limits{}}})
	var started string
	job, err := svc.Import(context.Background(), admin.CLI, strings.NewReader(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[`+
		strings.TrimSuffix(strings.ReplaceAll(linesOf(0, 3), "\n", ","), ",")+`]}`), admin.ImportRequest{Input: "page.json"},
		func(j store.ImportJob) { started = j.ID })
	if err != nil || job.State != store.ImportDone || job.Imported != 3 || job.Source != "import" || started != job.ID {
		t.Fatalf("Import = %+v, %v (started %q)", job, err, started)
	}
}

// analyzeCounter is a store that counts refreshes of its planner statistics.
type analyzeCounter struct {
	store.Store
	calls atomic.Int32
}

func (a *analyzeCounter) Analyze(ctx context.Context) error {
	a.calls.Add(1)
	return a.Store.Analyze(ctx)
}

// An import job that stores ingest.AnalyzeAfter objects or more refreshes the
// store's planner statistics, as the command line's import does; a smaller one
// does not.
func TestImportJobRefreshesStatistics(t *testing.T) {
	st := &analyzeCounter{Store: storetest.Stores(t)[0].New(t)}
	svc := admin.NewService(st, zaptest.NewLogger(t), time.Now, admin.Options{Imports: admin.ImportOptions{ListMax: 5, Limits: stix.Limits{}}})
	for _, c := range []struct{ from, n, calls int }{{0, 10, 0}, {10, ingest.AnalyzeAfter, 1}} {
		job, err := svc.Import(context.Background(), admin.CLI, strings.NewReader(linesOf(c.from, c.n)), admin.ImportRequest{Input: "lines.jsonl"}, nil)
		if err != nil || job.Imported != int64(c.n) {
			t.Fatalf("Import = %+v, %v", job, err)
		}
		if got := int(st.calls.Load()); got != c.calls {
			t.Errorf("after importing %d objects: %d refreshes, want %d", c.n, got, c.calls)
		}
	}
}
