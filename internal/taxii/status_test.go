package taxii

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
)

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The status of a request is readable for StatusTTL after it was processed, by
// the keys that may read its collection, and then gone.
func TestStatusLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)}
		b := setupWrite(t, st, Options{StatusTTL: time.Hour, Now: clk.now})
		r := b.post(t, "writer", "all", envelopeOf(indicator(1, mod1), "[]"))
		s := r.accepted(t)
		if s.RequestTimestamp != "2026-05-01T12:00:00.123456Z" {
			t.Fatalf("request_timestamp %s, want the clock's, in microseconds", s.RequestTimestamp)
		}
		url := b.statusURL(s.ID)
		for _, key := range []string{"writer", "reader", "admin"} {
			if got := b.get(t, key, url+"/").ok(t); !bytes.Equal(got.body, r.body) {
				t.Fatalf("%s reads\n%s\nwant\n%s", key, got.body, r.body)
			}
		}
		// Keys that may not read the collection see no such status.
		for _, key := range []string{"limited", "nofeeds"} {
			b.get(t, key, url).taxiiError(t, 404, "no status")
		}
		b.get(t, "", url).taxiiError(t, 401, "API key")
		b.get(t, "revoked", url).taxiiError(t, 401, "API key")

		clk.advance(time.Hour - time.Microsecond)
		b.get(t, "reader", url).ok(t)
		clk.advance(time.Microsecond)
		b.get(t, "reader", url).taxiiError(t, 404, "expired")
		b.get(t, "admin", url).taxiiError(t, 404, "expired")

		// The expiry sweep removes it for good.
		if n, err := st.DeleteExpiredStatuses(context.Background(), clk.now(), 100); err != nil || n != 1 {
			t.Fatalf("DeleteExpiredStatuses = %d, %v; want 1", n, err)
		}
		clk.advance(-time.Hour)
		b.get(t, "reader", url).taxiiError(t, 404, "no status")
	})
}

// A status id is a UUID; anything else is a plain 404, never a database error.
func TestStatusUnknownAndOddIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		s := b.post(t, "writer", "all", envelopeOf(indicator(1, mod1))).accepted(t)
		// The same id in capitals is the same status.
		b.get(t, "reader", b.statusURL(strings.ToUpper(s.ID))).ok(t)
		for _, id := range []string{
			"2d086da7-4bdc-4f91-900e-d77486753710", // well formed, unknown
			"not-a-status",
			"urn:uuid:" + s.ID,
			"{" + s.ID + "}",
			strings.ReplaceAll(s.ID, "-", ""),
			s.ID + "x",
			"'%20OR%201=1--",
			strings.Repeat("a", 5000),
			"%E2%80%AE" + s.ID,
		} {
			b.get(t, "admin", b.statusURL(id)).taxiiError(t, 404, "no status")
		}
		b.get(t, "admin", b.root+"/status/").taxiiError(t, 404, "")
		b.get(t, "admin", b.statusURL("%FF%FE")).taxiiError(t, 400, "UTF-8")
		b.get(t, "admin", b.statusURL(s.ID+"%00")).taxiiError(t, 400, "NUL")
	})
}

// The status resource of a request with every kind of outcome, through the
// store and back: what Get Status returns is what the POST answered.
func TestStatusRoundTripsThroughTheStore(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		r := b.post(t, "writer", "windicators", envelopeOf(
			indicator(1, mod1), malware(2, mod1), `"x"`, `{"type":"indicator","id":"`+stixID("indicator", 3)+`","name":"caf\u00e9 \"q\" <b>"}`,
			`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","value":"10.0.0.1"}`))
		s := r.accepted(t)
		if *s.SuccessCount != 1 || *s.FailureCount != 4 {
			t.Fatalf("status %s", r.body)
		}
		if got := b.get(t, "reader", b.statusURL(s.ID)).ok(t); !bytes.Equal(got.body, r.body) {
			t.Fatalf("Get Status\n%s\nPOST answered\n%s", got.body, r.body)
		}
	})
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// reopenable is a store that can be closed and opened again on the same database.
type reopenable struct {
	name string
	open func(t *testing.T) store.Store // a new connection; closed at cleanup at the latest
}

func reopenables(t *testing.T) []reopenable {
	t.Helper()
	return []reopenable{
		{"sqlite", func() func(t *testing.T) store.Store {
			path := filepath.Join(t.TempDir(), "taxii.db")
			return func(t *testing.T) store.Store { return sqlitetest.Open(t, path) }
		}()},
		{"postgres", func() func(t *testing.T) store.Store {
			var dsn string
			return func(t *testing.T) store.Store {
				if dsn == "" {
					dsn = pgtest.NewSchema(t)
				}
				s, err := postgres.Open(context.Background(), dsn, zaptest.NewLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				if err := s.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				return s
			}
		}()},
	}
}

// A restart between the POST and Get Status loses nothing: the status and the
// objects are in the database, and the new process serves them.
func TestStatusSurvivesARestart(t *testing.T) {
	for _, ro := range reopenables(t) {
		t.Run(ro.name, func(t *testing.T) {
			st1 := ro.open(t)
			b1 := setupWrite(t, st1, Options{})
			r := b1.post(t, "writer", "all", envelopeOf(indicator(1, mod1), malware(2, mod1), "0"))
			s := r.accepted(t)
			objects := b1.get(t, "reader", b1.objectsURL("all")).ok(t).body
			b1.srv.Close()
			st1.Close()

			st2 := ro.open(t)
			h, err := NewHandler(withConfigDefaults(Options{}), st2, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			b2 := *b1
			b2.st = st2
			b2.srv = newServer(t, h)
			b2.root = b2.srv.URL + rootPathDefault
			if got := b2.get(t, "reader", b2.statusURL(s.ID)).ok(t); !bytes.Equal(got.body, r.body) {
				t.Fatalf("after the restart Get Status is\n%s\nwant\n%s", got.body, r.body)
			}
			if got := b2.get(t, "reader", b2.objectsURL("all")).ok(t).body; !bytes.Equal(got, objects) {
				t.Fatalf("after the restart the objects are\n%s\nwant\n%s", got, objects)
			}
			// The new process takes more, and re-posting is still a success.
			if s2 := b2.post(t, "writer", "all", envelopeOf(indicator(1, mod1), indicator(3, mod1))).accepted(t); *s2.SuccessCount != 2 {
				t.Fatalf("post after the restart: %+v", s2)
			}
			if n := len(stored(t, st2)); n != 3 {
				t.Fatalf("%d versions stored, want 3", n)
			}
		})
	}
}

// TestTaxii2ClientRoundTrip does what the OASIS taxii2-client does, to the
// letter: Collection.add_objects posts the envelope (json.dumps, ensure_ascii
// False) with Accept and Content-Type application/taxii+json;version=2.1 to
// {collection}/objects/, builds the status URL with
// urljoin(collection URL, "../../status/{id}") (no trailing slash), and
// Status.wait_until_final polls it until status is complete; _validate_status
// checks the counts. as_pages then reads the objects back with limit and next.
func TestTaxii2ClientRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{DefaultPageSize: 3, MaxPageSize: 3})
		collectionURL := b.root + "/collections/" + feedAllID + "/"
		var objs []string
		for i := range 7 {
			objs = append(objs, indicator(i+1, mod1))
		}
		r := b.send(t, http.MethodPost, "writer", collectionURL+"objects/", envelopeOf(objs...),
			withHeader("Accept", "application/taxii+json;version=2.1"),
			withHeader("Content-Type", "application/taxii+json;version=2.1"))
		s := r.accepted(t)
		base, _ := url.Parse(collectionURL)
		rel, _ := url.Parse("../../status/" + s.ID)
		statusURL := base.ResolveReference(rel).String()
		if statusURL != b.root+"/status/"+s.ID {
			t.Fatalf("status URL %s", statusURL)
		}
		for polls := 0; s.Status != "complete"; polls++ {
			if polls > 10 {
				t.Fatal("status never complete")
			}
			s = b.get(t, "writer", statusURL, withHeader("Accept", "application/taxii+json;version=2.1")).ok(t).statusResource(t)
		}
		if *s.SuccessCount != 7 {
			t.Fatalf("status %+v", s)
		}

		// as_pages(get_objects, per_request=3)
		var got []string
		next := ""
		for page := 0; ; page++ {
			q := url.Values{"limit": {"3"}}
			if next != "" {
				q.Set("next", next)
			}
			e := b.get(t, "reader", collectionURL+"objects/?"+q.Encode()).ok(t).envelope(t)
			for _, o := range e.Objects {
				got = append(got, string(o))
			}
			if !e.More {
				break
			}
			next = e.Next
			if page > 5 {
				t.Fatal("paging does not end")
			}
		}
		if strings.Join(got, "\n") != strings.Join(objs, "\n") {
			t.Fatalf("read back\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(objs, "\n"))
		}
	})
}

// writeStatus writes, entry by entry, exactly what encoding/json writes for
// the whole status resource as a struct (spec order, empty lists omitted, no
// HTML escaping), whatever lists are empty and whatever the strings hold.
func TestStatusWriterMatchesEncodingJSON(t *testing.T) {
	type details struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		Message string `json:"message,omitempty"`
	}
	type resource struct {
		ID               string    `json:"id"`
		Status           string    `json:"status"`
		RequestTimestamp string    `json:"request_timestamp,omitempty"`
		TotalCount       int       `json:"total_count"`
		SuccessCount     int       `json:"success_count"`
		Successes        []details `json:"successes,omitempty"`
		FailureCount     int       `json:"failure_count"`
		Failures         []details `json:"failures,omitempty"`
		PendingCount     int       `json:"pending_count"`
		Pendings         []details `json:"pendings,omitempty"`
	}
	list := func(in []store.StatusObject) []details {
		var out []details
		for _, o := range in {
			out = append(out, details(o))
		}
		return out
	}
	odd := store.StatusObject{ID: "x--\"<a>&\u2028\u2029\n\t\x01\xff", Version: "caf\u00e9", Message: "line\r\n\"q\" </script>"}
	plain := store.StatusObject{ID: "indicator--1", Version: "2026-01-01T00:00:00.000Z"}
	ts := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	for name, st := range map[string]store.Status{
		"empty":               {ID: "a", Status: "complete", RequestTimestamp: ts},
		"no timestamp":        {ID: "a", Status: "complete", TotalCount: 1, SuccessCount: 1, Successes: []store.StatusObject{plain}},
		"failures only":       {ID: "a", Status: "complete", RequestTimestamp: ts, TotalCount: 2, FailureCount: 2, Failures: []store.StatusObject{odd, plain}},
		"pendings only":       {ID: "a", Status: "pending", RequestTimestamp: ts, TotalCount: 1, PendingCount: 1, Pendings: []store.StatusObject{plain}},
		"all three":           {ID: "a", Status: "pending", RequestTimestamp: ts, TotalCount: 4, SuccessCount: 2, Successes: []store.StatusObject{plain, odd}, FailureCount: 1, Failures: []store.StatusObject{odd}, PendingCount: 1, Pendings: []store.StatusObject{plain}},
		"successes, pendings": {ID: "a", Status: "pending", RequestTimestamp: ts, TotalCount: 2, SuccessCount: 1, Successes: []store.StatusObject{odd}, PendingCount: 1, Pendings: []store.StatusObject{odd}},
	} {
		t.Run(name, func(t *testing.T) {
			r := resource{ID: st.ID, Status: st.Status, TotalCount: st.TotalCount, SuccessCount: st.SuccessCount, Successes: list(st.Successes),
				FailureCount: st.FailureCount, Failures: list(st.Failures), PendingCount: st.PendingCount, Pendings: list(st.Pendings)}
			if !st.RequestTimestamp.IsZero() {
				r.RequestTimestamp = st.RequestTimestamp.Format(store.DateAddedLayout)
			}
			want, err := encodeJSON(r)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeStatus(&got, st); err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("writeStatus: %v\n%s\nwant\n%s", err, got.Bytes(), want)
			}
		})
	}
	// Entries out of list order are a store's error, not a malformed answer.
	w := newStatusWriter(&bytes.Buffer{})
	_ = w.begin(store.Status{ID: "a"})
	if err := w.entry(store.StatusFailures, plain); err != nil {
		t.Fatal(err)
	}
	if err := w.entry(store.StatusSuccesses, plain); err == nil {
		t.Fatal("a success after a failure was written")
	}
}
