package taxii

import (
	"net/http"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// observed serves the API the way the server middleware does: each request gets
// an obs.Info, kept for the test to read once the response is written.
type observed struct {
	mu    sync.Mutex
	last  *obs.Info
	req   obs.Request
	inner http.Handler
}

func (o *observed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := obs.New(o.req)
	o.mu.Lock()
	o.last = info
	o.mu.Unlock()
	o.inner.ServeHTTP(w, r.WithContext(obs.NewContext(r.Context(), info)))
}

// snapshot is the last request's record, its key id checked and then left
// out, so that tests can compare whole records.
func (o *observed) snapshot(t *testing.T) obs.Snapshot {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.last.Snapshot()
	if (s.KeyName == "") != (s.KeyID == "") {
		t.Fatalf("recorded key name %q with key id %q", s.KeyName, s.KeyID)
	}
	s.KeyID = ""
	return s
}

// setupObserved is setupWrite with the API behind an observing middleware.
func setupObserved(t *testing.T, st store.Store, req obs.Request) (*bundle, *observed) {
	t.Helper()
	b := setupWrite(t, st, Options{})
	h, err := NewHandler(withConfigDefaults(Options{}), st, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	o := &observed{req: req, inner: h}
	ob := *b
	ob.srv = newServer(t, o)
	ob.root = ob.srv.URL + rootPathDefault
	return &ob, o
}

func TestObservationRecord(t *testing.T) {
	b, o := setupObserved(t, storeOf(t), obs.Request{ID: "req-42", Scheme: "https", Host: "taxii.example.com:8443"})

	b.post(t, "writer", "all", envelopeOf(indicator(1, mod1), indicator(2, mod1), malware(3, mod1), "0")).accepted(t)
	if got, want := o.snapshot(t), (obs.Snapshot{KeyName: "writer", FeedID: feedAllID, Imported: 3, Rejected: 1}); got != want {
		t.Fatalf("add objects recorded %+v, want %+v", got, want)
	}

	b.get(t, "reader", b.objectsURL("all")+"?limit=2").ok(t)
	if got, want := o.snapshot(t), (obs.Snapshot{KeyName: "reader", FeedID: feedAllID, Poll: true, Served: 2}); got != want {
		t.Fatalf("objects page recorded %+v, want %+v", got, want)
	}
	b.get(t, "reader", b.root+"/collections/indicators/manifest/?added_after=2020-01-01T00:00:00.000001Z").ok(t)
	if got, want := o.snapshot(t), (obs.Snapshot{KeyName: "reader", FeedID: feedIndID, Poll: true, AddedAfter: 1_577_836_800_000_001, Served: 2}); got != want {
		t.Fatalf("manifest page recorded %+v, want %+v", got, want)
	}
	b.get(t, "reader", b.objectsURL("all")+stixID("indicator", 1)+"/versions/").ok(t)
	if got := o.snapshot(t); got.Served != 1 || got.Poll {
		t.Fatalf("versions page recorded %+v, want 1 served and no poll", got)
	}

	s := b.post(t, "writer", "all", envelopeOf(indicator(4, mod1))).accepted(t)
	b.get(t, "admin", b.statusURL(s.ID)).ok(t)
	if got, want := o.snapshot(t), (obs.Snapshot{KeyName: "admin", FeedID: feedAllID}); got != want {
		t.Fatalf("get status recorded %+v, want %+v", got, want)
	}

	// Errors carry the request id, next to error_id.
	e := b.get(t, "reader", b.root+"/collections/nope/").taxiiError(t, 404, "nope")
	if e.Details["request_id"] != "req-42" {
		t.Fatalf("error details %v, want request_id req-42", e.Details)
	}
	e = b.get(t, "", b.root+"/").taxiiError(t, 401, "API key")
	if e.Details["request_id"] != "req-42" {
		t.Fatalf("401 details %v", e.Details)
	}

	// Discovery builds its URLs from what the client used (obs.BaseURL).
	var d discoveryResource
	mustJSON(t, b.get(t, "reader", b.srv.URL+"/taxii2/").ok(t).body, &d)
	if want := "https://taxii.example.com:8443" + rootPathDefault + "/"; d.Default != want || len(d.APIRoots) != 1 || d.APIRoots[0] != want {
		t.Fatalf("discovery %+v, want %s", d, want)
	}
}

// Without the middleware (no request id) errors have no details at all.
func TestErrorsWithoutRequestID(t *testing.T) {
	b := setup(t, storeOf(t), Options{})
	r := b.get(t, "reader", b.root+"/collections/nope/")
	r.taxiiError(t, 404, "nope")
	if m := decodeJSON(t, r.body); m["details"] != nil {
		t.Fatalf("details without a request id: %s", r.body)
	}
}
