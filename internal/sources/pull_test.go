package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// upstream is a fault-injecting TAXII server holding n indicators, the i-th
// added at base + i ms. Its faults are switched per test.
type upstream struct {
	mu       sync.Mutex
	objs     []upObj
	version  string // TAXII21 or TAXII20
	requests int
	// Faults: each counter is spent by the next matching requests.
	fail500     int           // answer 500
	fail429     int           // answer 429 with Retry-After: 1
	dropMidPage int           // write half a page, then cut the connection
	slow        int           // wait slowBy before answering
	slowBy      time.Duration //
	refuseNext  bool          // answer 400 to any next
	ignoreNext  bool          // treat next as absent (serve from added_after)
	noHeaders   bool          // send no X-TAXII-Date-Added-* headers
	noManifest  bool          // manifest entries without date_added
	seenAccept  []string
}

type upObj struct {
	id, modified string
	added        time.Time
}

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newUpstream(n int) *upstream {
	u := &upstream{version: TAXII21}
	for i := range n {
		u.add(i)
	}
	return u
}

func (u *upstream) add(i int) {
	u.objs = append(u.objs, upObj{
		id:       fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i),
		modified: base.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z"),
		added:    base.Add(time.Duration(len(u.objs)) * time.Millisecond),
	})
}

func (u *upstream) raw(o upObj) json.RawMessage {
	spec := `"spec_version":"2.1",`
	if u.version == TAXII20 {
		spec = `"labels":["malicious-activity"],`
	}
	return json.RawMessage(`{"type":"indicator",` + spec + `"id":"` + o.id + `","created":"` + o.modified + `","modified":"` + o.modified +
		`","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`)
}

func stamp(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000Z") }

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.requests++
	u.seenAccept = append(u.seenAccept, r.Header.Get("Accept"))
	if u.slow > 0 {
		u.slow--
		u.mu.Unlock()
		time.Sleep(u.slowBy)
		u.mu.Lock()
	}
	switch {
	case u.fail500 > 0:
		u.fail500--
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case u.fail429 > 0:
		u.fail429--
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	q := r.URL.Query()
	after := time.Time{}
	if s := q.Get("added_after"); s != "" {
		var err error
		if after, err = time.Parse(time.RFC3339Nano, s); err != nil {
			http.Error(w, "bad added_after", http.StatusBadRequest)
			return
		}
	}
	start := 0
	if nx := q.Get("next"); nx != "" && !u.ignoreNext {
		if u.refuseNext {
			http.Error(w, "unknown next", http.StatusBadRequest)
			return
		}
		start, _ = strconv.Atoi(nx)
	} else {
		for start < len(u.objs) && !u.objs[start].added.After(after) {
			start++
		}
	}
	limit := 1000
	if l, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = l
	}
	if rg := r.Header.Get("Range"); u.version == TAXII20 && rg != "" {
		var a, b int
		if _, err := fmt.Sscanf(rg, "items %d-%d", &a, &b); err == nil {
			limit = b - a + 1
		}
	}
	end := min(start+limit, len(u.objs))
	page := u.objs[start:end]

	if strings.HasSuffix(r.URL.Path, "/manifest/") {
		ids := map[string]bool{}
		for _, id := range strings.Split(q.Get("match[id]"), ",") {
			ids[id] = true
		}
		var entries []map[string]string
		for _, o := range u.objs[start:] {
			if len(ids) > 0 && !ids[o.id] {
				continue
			}
			e := map[string]string{"id": o.id, "version": o.modified}
			if !u.noManifest {
				e["date_added"] = stamp(o.added)
			}
			entries = append(entries, e)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"objects": entries})
		return
	}

	objs := make([]json.RawMessage, len(page))
	for i, o := range page {
		objs[i] = u.raw(o)
	}
	if len(page) > 0 && !u.noHeaders {
		w.Header()["X-TAXII-Date-Added-First"] = []string{stamp(page[0].added)}
		w.Header()["X-TAXII-Date-Added-Last"] = []string{stamp(page[len(page)-1].added)}
	}
	var body []byte
	if u.version == TAXII20 {
		w.Header().Set("Content-Type", acceptSTIX20)
		if len(page) > 0 {
			w.Header().Set("Content-Range", fmt.Sprintf("items 0-%d/%d", len(page)-1, len(u.objs)-start))
		}
		body, _ = json.Marshal(map[string]any{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "spec_version": "2.0", "objects": objs})
		w.WriteHeader(http.StatusPartialContent)
	} else {
		env := map[string]any{"more": end < len(u.objs)}
		if end < len(u.objs) {
			env["next"] = strconv.Itoa(end)
		}
		if len(objs) > 0 {
			env["objects"] = objs
		}
		body, _ = json.Marshal(env)
		w.Header().Set("Content-Type", accept21)
	}
	if u.dropMidPage > 0 && len(body) > 10 {
		u.dropMidPage--
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body[:len(body)/2])
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
			}
		}
		return
	}
	_, _ = w.Write(body)
}

// memSink stores versions by (id, modified); failAt makes the commit of that
// page (1-based) fail, as a crash between two pages would.
type memSink struct {
	mu        sync.Mutex
	versions  map[string]int
	watermark string
	commits   int
	failAt    int
}

func newSink() *memSink { return &memSink{versions: map[string]int{}} }

func (s *memSink) Commit(_ context.Context, objs [][]byte, wm string) (Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits++
	if s.commits == s.failAt {
		return Counts{}, errors.New("disk full")
	}
	var c Counts
	for _, raw := range objs {
		var o struct {
			ID, Modified string
			SpecVersion  string `json:"spec_version"`
		}
		_ = json.Unmarshal(raw, &o)
		if o.SpecVersion != "2.1" {
			c.Rejected++
			continue
		}
		k := o.ID + "@" + o.Modified
		if s.versions[k] > 0 {
			c.Unchanged++
		} else {
			c.Stored++
		}
		s.versions[k]++
	}
	s.watermark = wm
	return c, nil
}

func puller(t *testing.T, srv *httptest.Server, version string, pageSize int, sink Sink) (*Puller, *[]time.Duration) {
	t.Helper()
	hc := srv.Client()
	hc.Timeout = 500 * time.Millisecond
	c, err := NewClient(Upstream{URL: srv.URL + "/root/collections/c1/", Version: version, PageSize: pageSize, User: "u", Password: "p"}, hc)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	p := &Puller{Client: c, Sink: sink, Retry: Retry{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }}
	return p, &waits
}

// complete checks the sink holds every upstream object exactly once.
func complete(t *testing.T, u *upstream, s *memSink) {
	t.Helper()
	if len(s.versions) != len(u.objs) {
		t.Fatalf("sink holds %d versions, upstream %d", len(s.versions), len(u.objs))
	}
	for _, o := range u.objs {
		if s.versions[o.id+"@"+o.modified] == 0 {
			t.Fatalf("%s missing", o.id)
		}
	}
}

func TestPullFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault func(u *upstream)
		check func(t *testing.T, st Stats, waits []time.Duration)
	}{
		{"clean", func(*upstream) {}, func(t *testing.T, st Stats, _ []time.Duration) {
			if st.Retries != 0 || len(st.Notes) != 0 {
				t.Errorf("retries %d notes %v", st.Retries, st.Notes)
			}
		}},
		{"500 twice", func(u *upstream) { u.fail500 = 2 }, func(t *testing.T, st Stats, waits []time.Duration) {
			if st.Retries != 2 || len(waits) != 2 {
				t.Errorf("retries %d waits %v", st.Retries, waits)
			}
		}},
		{"429 with Retry-After", func(u *upstream) { u.fail429 = 1 }, func(t *testing.T, st Stats, waits []time.Duration) {
			if len(waits) != 1 || waits[0] != time.Second {
				t.Errorf("waits %v, want [1s] from Retry-After", waits)
			}
		}},
		{"connection dropped mid-page", func(u *upstream) { u.dropMidPage = 1 }, func(t *testing.T, st Stats, _ []time.Duration) {
			if st.Retries != 1 {
				t.Errorf("retries %d", st.Retries)
			}
		}},
		{"slow answer", func(u *upstream) { u.slow, u.slowBy = 1, time.Second }, func(t *testing.T, st Stats, _ []time.Duration) {
			if st.Retries != 1 {
				t.Errorf("retries %d", st.Retries)
			}
		}},
		{"refused next", func(u *upstream) { u.refuseNext = true }, func(t *testing.T, st Stats, _ []time.Duration) {
			if len(st.Notes) == 0 || !strings.Contains(st.Notes[0], "refused its own next") {
				t.Errorf("notes %v", st.Notes)
			}
		}},
		{"ignored next", func(u *upstream) { u.ignoreNext = true }, func(t *testing.T, st Stats, _ []time.Duration) {
			if len(st.Notes) == 0 || st.Unchanged != 20 {
				t.Errorf("notes %v, unchanged %d", st.Notes, st.Unchanged)
			}
		}},
		{"no headers", func(u *upstream) { u.noHeaders = true }, func(t *testing.T, st Stats, _ []time.Duration) {
			if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "manifest") {
				t.Errorf("notes %v", st.Notes)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(95)
			tc.fault(u)
			srv := httptest.NewServer(u)
			defer srv.Close()
			sink := newSink()
			p, waits := puller(t, srv, TAXII21, 20, sink)
			st, err := p.Run(context.Background(), "")
			if err != nil {
				t.Fatalf("run: %v (%+v)", err, st)
			}
			complete(t, u, sink)
			// Only an upstream that ignores next costs one page pulled twice.
			if st.Stored != 95 || st.Unchanged != st.Pulled-95 || st.Unchanged > 20 {
				t.Errorf("stats %+v", st)
			}
			if st.Watermark != stamp(u.objs[94].added) || sink.watermark != st.Watermark {
				t.Errorf("watermark %q (sink %q), want %q", st.Watermark, sink.watermark, stamp(u.objs[94].added))
			}
			tc.check(t, st, *waits)

			// The next run from the watermark brings only what was added since.
			u.mu.Lock()
			u.add(95)
			u.mu.Unlock()
			st2, err := p.Run(context.Background(), st.Watermark)
			if err != nil || st2.Stored != 1 || st2.Pulled != 1 {
				t.Fatalf("second run: %+v %v", st2, err)
			}
			complete(t, u, sink)
		})
	}
}

// No headers and no date_added in the manifest: the watermark falls back to the
// objects' modified, and the run still ends.
func TestPullWithoutAnyDateAdded(t *testing.T) {
	u := newUpstream(30)
	u.noHeaders, u.noManifest = true, true
	for i := range u.objs {
		u.objs[i].modified = base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
	}
	srv := httptest.NewServer(u)
	defer srv.Close()
	sink := newSink()
	p, _ := puller(t, srv, TAXII21, 10, sink)
	st, err := p.Run(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	complete(t, u, sink)
	if st.Watermark != u.objs[29].modified || len(st.Notes) != 2 {
		t.Fatalf("watermark %q notes %v", st.Watermark, st.Notes)
	}
}

// A failure between two pages (the sink refuses a commit, as a crash would stop
// the run) loses nothing, and the run after it stores nothing twice.
func TestPullResumesAfterFailure(t *testing.T) {
	u := newUpstream(100)
	srv := httptest.NewServer(u)
	defer srv.Close()
	sink := newSink()
	sink.failAt = 3
	p, _ := puller(t, srv, TAXII21, 15, sink)
	st, err := p.Run(context.Background(), "")
	if err == nil {
		t.Fatal("the failed commit was not reported")
	}
	if st.Stored != 30 || st.Watermark != stamp(u.objs[29].added) || sink.watermark != st.Watermark {
		t.Fatalf("after the failure: %+v, sink watermark %q", st, sink.watermark)
	}
	st, err = p.Run(context.Background(), sink.watermark)
	if err != nil {
		t.Fatal(err)
	}
	complete(t, u, sink)
	for k, n := range sink.versions {
		if n != 1 {
			t.Fatalf("%s stored %d times", k, n)
		}
	}
	if st.Stored != 70 || st.Unchanged != 0 {
		t.Fatalf("resumed run: %+v", st)
	}
}

// Retries are bounded: an upstream that keeps failing ends the run with its error.
func TestPullGivesUp(t *testing.T) {
	u := newUpstream(10)
	u.fail500 = 100
	srv := httptest.NewServer(u)
	defer srv.Close()
	p, waits := puller(t, srv, TAXII21, 5, newSink())
	_, err := p.Run(context.Background(), "")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 || len(*waits) != 3 {
		t.Fatalf("err %v, waits %v", err, *waits)
	}
	// 4xx other than 429 is not retried.
	u.fail500 = 0
	c, _ := NewClient(Upstream{URL: srv.URL + "/nope/", PageSize: 5}, srv.Client())
	p.Client = c
	u.refuseNext = true
	*waits = nil
	st, err := p.Run(context.Background(), "not-a-time")
	if !errors.As(err, &se) || se.Status != 400 || len(*waits) != 0 || st.Retries != 0 {
		t.Fatalf("err %v, waits %v", err, *waits)
	}
}

// A TAXII 2.0 upstream is spoken to with the 2.0 media types and Range paging,
// and its STIX 2.0 objects arrive converted to 2.1.
func TestPullTAXII20(t *testing.T) {
	u := newUpstream(45)
	u.version = TAXII20
	srv := httptest.NewServer(u)
	defer srv.Close()
	sink := newSink()
	p, _ := puller(t, srv, TAXII20, 20, sink)
	st, err := p.Run(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	complete(t, u, sink)
	if st.Converted != 45 || st.Conversions[ConvIndicatorTypes] != 45 || st.Pages != 3 {
		t.Fatalf("stats %+v", st)
	}
	for _, a := range u.seenAccept {
		if !strings.Contains(a, "version=2.0") {
			t.Fatalf("Accept %q sent to a 2.0 upstream", a)
		}
	}
}

func TestRetryAfterAndBackoff(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := retryAfter("7", now); d != 7*time.Second {
		t.Errorf("seconds: %v", d)
	}
	if d := retryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Errorf("date: %v", d)
	}
	if d := retryAfter("soon", now); d != 0 {
		t.Errorf("garbage: %v", d)
	}
	r := Retry{Base: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	for n := 1; n < 30; n++ {
		d := r.backoff(n, &StatusError{Status: 503})
		ceiling := min(r.Base<<min(n-1, 20), r.Max)
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("try %d: %v outside [%v, %v]", n, d, ceiling/2, ceiling)
		}
	}
	if d := r.backoff(1, &StatusError{Status: 429, RetryAfter: time.Hour}); d != r.Max {
		t.Errorf("Retry-After not capped: %v", d)
	}
}
