package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

func TestAddObjects(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		ind, mal := indicator(1, mod1), malware(2, mod1)
		body := []byte("{\n  \"objects\": [\n    " + ind + ",\n    " + mal + "\n  ]\n}\n")
		r := b.post(t, "writer", "all", body)
		s := r.accepted(t)
		if *s.TotalCount != 2 || *s.SuccessCount != 2 || *s.FailureCount != 0 || s.Failures != nil || s.Pendings != nil {
			t.Fatalf("status %s", r.body)
		}
		want := []string{stixID("indicator", 1) + "@" + mod1, stixID("malware", 2) + "@" + mod1}
		if got := s.successIDs(); !slices.Equal(got, want) {
			t.Fatalf("successes %v, want %v", got, want)
		}
		if ts, _ := time.Parse(time.RFC3339Nano, s.RequestTimestamp); time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Fatalf("request_timestamp %s is not now", s.RequestTimestamp)
		}

		// The objects are served back byte for byte.
		e := b.get(t, "reader", b.objectsURL("all")).ok(t).envelope(t)
		if len(e.Objects) != 2 || string(e.Objects[0]) != ind || string(e.Objects[1]) != mal {
			t.Fatalf("objects read back: %s", e.Objects)
		}
		// The status is stored: Get Status returns the same resource.
		got := b.get(t, "reader", b.statusURL(s.ID)+"/").ok(t)
		if !bytes.Equal(got.body, r.body) {
			t.Fatalf("Get Status\n%s\nPOST answered\n%s", got.body, r.body)
		}

		// Posting the same envelope again is a success for each object and changes nothing.
		before := stored(t, st)
		s2 := b.post(t, "writer", "all", body).accepted(t)
		if s2.ID == s.ID || *s2.SuccessCount != 2 || !slices.Equal(s2.successIDs(), want) {
			t.Fatalf("re-post status %+v", s2)
		}
		unchanged(t, b, before)

		// Through the alias, and without the trailing slash, as admin.
		b.send(t, http.MethodPost, "admin", b.root+"/collections/all-intel/objects", envelopeOf(indicator(3, mod1))).accepted(t)
		if n := len(stored(t, st)); n != 3 {
			t.Fatalf("%d versions stored, want 3", n)
		}
	})
}

func TestAddObjectsPerObjectFailures(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{ObjectLimits: stixLimits(4096, 10, 50)})
		deep := `{"type":"indicator","spec_version":"2.1","id":"` + stixID("indicator", 7) + `","x_deep":` +
			strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`
		big := `{"type":"indicator","spec_version":"2.1","id":"` + stixID("indicator", 8) + `","x_pad":"` + strings.Repeat("a", 5000) + `"}`
		wide := `{"type":"indicator","id":"` + stixID("indicator", 9) + `"`
		for i := range 60 {
			wide += fmt.Sprintf(`,"x_%d":1`, i)
		}
		wide += "}"
		body := envelopeOf(
			indicator(1, mod1), // stored
			`42`,               // not an object
			`{"type":"indicator","spec_version":"2.1","id":"`+stixID("indicator", 3)+`","created":"2026-01-01T00:00:00.000Z","modified":"`+mod1+`"}`,                           // no pattern
			`{"type":"indicator","id":"`+stixID("indicator", 4)+`","created":"2016-01-01T00:00:00Z","modified":"2016-01-01T00:00:00Z","pattern":"[a:b = 'c']","labels":["x"]}`, // STIX 2.0
			malware(5, mod1), // outside the collection's filter
			`[1,2]`,          // not an object either
			deep,
			big,
			wide,
			indicator(10, mod2), // stored
		)
		r := b.post(t, "writer", "windicators", body)
		s := r.accepted(t)
		if *s.TotalCount != 10 || *s.SuccessCount != 2 || *s.FailureCount != 8 {
			t.Fatalf("counts: %s", r.body)
		}
		if got, want := s.successIDs(), []string{stixID("indicator", 1) + "@" + mod1, stixID("indicator", 10) + "@" + mod2}; !slices.Equal(got, want) {
			t.Fatalf("successes %v, want %v", got, want)
		}
		for _, c := range []struct{ id, version, msg string }{
			{stixID("indicator", 3), mod1, "pattern"},
			{stixID("indicator", 4), "2016-01-01T00:00:00Z", "STIX 2.0"},
			{stixID("malware", 5), mod1, "type malware is not accepted by this collection"},
		} {
			f := s.failure(t, c.id)
			if f.Version != c.version || !strings.Contains(f.Message, c.msg) {
				t.Errorf("failure %+v, want version %q and a message with %q", f, c.version, c.msg)
			}
		}
		// Elements the decoder refused have no readable id: "" with the position.
		var anonymous []string
		for _, f := range s.Failures {
			if f.ID == "" {
				anonymous = append(anonymous, f.Message)
			}
		}
		wantMsgs := []string{"objects[1]", "not a JSON object", "objects[5]", "not a JSON object", "objects[6]", "nested deeper than 10",
			"objects[7]", "larger than 4096 bytes", "objects[8]", "more than 50 properties"}
		joined := strings.Join(anonymous, " | ")
		for _, m := range wantMsgs {
			if !strings.Contains(joined, m) {
				t.Errorf("anonymous failures %q lack %q", joined, m)
			}
		}
		if len(anonymous) != 5 {
			t.Errorf("%d failures without id, want 5: %q", len(anonymous), joined)
		}
		if got := storedRefs(stored(t, st)); !slices.Equal(got, []string{stixID("indicator", 1) + "@" + mod1, stixID("indicator", 10) + "@" + mod2}) {
			t.Fatalf("stored %v", got)
		}
	})
}

// Every bad body gets a clear answer, stores nothing, and leaves the server
// and what it held as they were.
func TestAddObjectsBadInput(t *testing.T) {
	deepArray := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	cases := []struct {
		name   string
		body   string
		opts   []reqOpt
		status int
		want   string // in the error description, or in the one failure's message for 202
	}{
		{"not JSON", "hello", nil, 422, "not JSON"},
		{"empty body", "", nil, 422, "empty"},
		{"truncated", `{"objects":[` + indicator(20, mod1) + `,{"type":"indicator","id":"ind`, nil, 422, "truncated"},
		{"truncated after an object", `{"objects":[` + indicator(20, mod1), nil, 422, "truncated"},
		{"objects not an array", `{"objects":{"type":"indicator"}}`, nil, 422, "not an array"},
		{"objects null", `{"objects":null}`, nil, 422, "not an array"},
		{"a JSON array", `[` + indicator(20, mod1) + `]`, nil, 422, "JSON array"},
		{"a single object", indicator(20, mod1), nil, 422, "expected a TAXII envelope"},
		{"a bundle", `{"type":"bundle","id":"bundle--6f1e4f4a-1111-4a4a-8a8a-123456789abc","objects":[` + indicator(20, mod1) + `]}`, nil, 422, "jq '{objects: .objects}'"},
		{"a bundle, objects first", `{"objects":[` + indicator(20, mod1) + `],"type":"bundle","id":"bundle--6f1e4f4a-1111-4a4a-8a8a-123456789abc"}`, nil, 422, "bundle"},
		{"two envelopes", string(envelopeOf(indicator(20, mod1))) + string(envelopeOf(indicator(21, mod1))), nil, 422, "after the envelope"},
		{"invalid UTF-8 in an object", `{"objects":[` + indicator(20, mod1) + `,{"type":"indicator","name":"caf` + "\xe9" + `"}]}`, nil, 422, "UTF-8"},
		{"invalid UTF-8 in the envelope", `{"obj` + "\xff" + `ects":[]}`, nil, 422, "UTF-8"},
		{"deep nesting in the envelope", `{"objects":[],"x":` + deepArray + `}`, nil, 422, "nested deeper"},
		{"wrong Content-Type", string(envelopeOf(indicator(20, mod1))), []reqOpt{withHeader("Content-Type", "application/json")}, 415, "Content-Type"},
		{"STIX Content-Type", string(envelopeOf(indicator(20, mod1))), []reqOpt{withHeader("Content-Type", MediaTypeSTIX)}, 415, "Content-Type"},
		{"TAXII 2.0 Content-Type", string(envelopeOf(indicator(20, mod1))), []reqOpt{withHeader("Content-Type", "application/taxii+json;version=2.0")}, 415, "Content-Type"},
		{"garbled Content-Type", string(envelopeOf(indicator(20, mod1))), []reqOpt{withHeader("Content-Type", "application/taxii+json;;;=")}, 415, "Content-Type"},
		{"no Content-Type", string(envelopeOf(indicator(20, mod1))), []reqOpt{withoutHeader("Content-Type")}, 415, "Content-Type"},
		{"wrong Accept", string(envelopeOf(indicator(20, mod1))), []reqOpt{withHeader("Accept", "application/json")}, 406, "Accept"},
		{"TAXII 2.0 Accept", string(envelopeOf(indicator(20, mod1))), []reqOpt{withHeader("Accept", "application/taxii+json;version=2.0")}, 406, "Accept"},
		// Per-object failures: the request is accepted, the object is not stored.
		{"deeply nested element", `{"objects":[` + deepArray + `]}`, nil, 202, "objects[0]"},
		{"deeply nested object", `{"objects":[{"type":"indicator","x":` + deepArray + `}]}`, nil, 202, "nested deeper"},
		{"a string element", `{"objects":["indicator--1"]}`, nil, 202, "not a JSON object"},
		{"null element", `{"objects":[null]}`, nil, 202, "not a JSON object"},
		{"an empty object", `{"objects":[{}]}`, nil, 202, "type"},
	}
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		before := seed(t, b)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, transfer := range []struct {
					name string
					opts []reqOpt
				}{{"length", nil}, {"chunked", []reqOpt{chunked()}}} {
					r := b.post(t, "writer", "all", []byte(c.body), append(slices.Clone(c.opts), transfer.opts...)...)
					if c.status == 202 {
						s := r.accepted(t)
						if *s.FailureCount != 1 || !strings.Contains(s.Failures[0].Message, c.want) {
							t.Fatalf("%s: status %s, want one failure with %q", transfer.name, r.body, c.want)
						}
					} else {
						r.taxiiError(t, c.status, c.want)
					}
					unchanged(t, b, before)
				}
			})
		}
	})
}

// Every property of an envelope is optional (spec 3.7), objects included: {}
// is the empty envelope this server answers for an empty page, and adds nothing.
func TestAddObjectsEmptyEnvelope(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		before := seed(t, b)
		for _, body := range []string{`{"objects":[]}`, ` { "more" : false, "objects" : [ ] } `, `{}`, `{"more":false}`} {
			s := b.post(t, "writer", "all", []byte(body)).accepted(t)
			if *s.TotalCount != 0 || s.Successes != nil || s.Failures != nil {
				t.Fatalf("%s: status %+v", body, s)
			}
		}
		unchanged(t, b, before)
	})
}

func TestAddObjectsDuplicatesInOneRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		id := stixID("indicator", 1)
		// The same version, written differently: other content (stix.Digest), so a
		// conflict that fails alone; the same content again is a success.
		sameInstant := strings.Replace(indicator(1, mod1), mod1, "2026-02-01T00:00:00.000000Z", 1)
		s := b.post(t, "writer", "all", envelopeOf(
			indicator(1, mod1), indicator(1, mod2), indicator(1, mod1), sameInstant, indicator(1, mod3))).accepted(t)
		if *s.SuccessCount != 4 || *s.FailureCount != 1 || !strings.Contains(s.Failures[0].Message, "already stored with other content") {
			t.Fatalf("status %+v, want 4 successes and the conflict", s)
		}
		rows := stored(t, st)
		if got, want := storedRefs(rows), []string{id + "@" + mod1, id + "@" + mod2, id + "@" + mod3}; !slices.Equal(got, want) {
			t.Fatalf("stored %v, want %v", got, want)
		}
		if rows[0].Raw != indicator(1, mod1) {
			t.Fatalf("the first copy received is the one kept, got %s", rows[0].Raw)
		}
		// The latest version is served by default.
		e := b.get(t, "reader", b.objectsURL("all")+id+"/").ok(t).envelope(t)
		if len(e.Objects) != 1 || string(e.Objects[0]) != indicator(1, mod3) {
			t.Fatalf("latest: %s", e.Objects)
		}
	})
}

// max_content_length in the API root is the limit enforced: a body of exactly
// that size is taken, one byte more is 413, whether the size is announced or not.
func TestAddObjectsMaxContentLength(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		const limit = 4096
		b := setupWrite(t, st, Options{MaxContentLength: limit})
		var root apiRootResource
		mustJSON(t, b.get(t, "reader", b.root+"/").ok(t).body, &root)
		if root.MaxContentLength != limit {
			t.Fatalf("max_content_length %d, want %d", root.MaxContentLength, limit)
		}
		before := stored(t, st)
		pad := func(n int) []byte { // an envelope of exactly n bytes
			e := envelopeOf(indicator(1, mod1))
			return append(e[:len(e)-1], append(bytes.Repeat([]byte(" "), n-len(e)), '}')...)
		}
		for _, transfer := range []struct {
			name string
			opts []reqOpt
		}{{"length", nil}, {"chunked", []reqOpt{chunked()}}} {
			t.Run(transfer.name, func(t *testing.T) {
				b.post(t, "writer", "all", pad(limit+1), transfer.opts...).taxiiError(t, 413, "max_content_length")
				b.post(t, "writer", "all", pad(limit*50), transfer.opts...).taxiiError(t, 413, "max_content_length")
				unchanged(t, b, before)
			})
		}
		b.post(t, "writer", "all", pad(limit)).accepted(t)
		b.post(t, "writer", "all", pad(limit), chunked()).accepted(t)
		if n := len(stored(t, st)); n != 1 {
			t.Fatalf("%d versions stored, want 1", n)
		}
	})
}

func TestAddObjectsMaxObjectsPerAdd(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{MaxObjectsPerAdd: 5})
		before := seed(t, b)
		elems := func(n int) []byte {
			var out []string
			for i := range n {
				out = append(out, indicator(100+i, mod1))
			}
			return envelopeOf(out...)
		}
		b.post(t, "writer", "all", elems(6)).taxiiError(t, 422, "more than 5 objects")
		// Elements that are not objects count too: they are in the request.
		b.post(t, "writer", "all", envelopeOf(indicator(100, mod1), "1", "2", "3", "4", "5")).taxiiError(t, 422, "more than 5 objects")
		unchanged(t, b, before)
		s := b.post(t, "writer", "all", elems(5)).accepted(t)
		if *s.SuccessCount != 5 || len(stored(t, st)) != len(before)+5 {
			t.Fatalf("5 objects: status %+v", s)
		}
	})
}

// tenMB is a valid indicator of about 10 MB (under the default 10 MiB object size).
func tenMB(n int) string {
	o := indicator(n, mod1)
	return o[:len(o)-1] + `,"description":"` + strings.Repeat("0123456789", 1_000_000) + `"}`
}

func TestAddObjectsTenMegabyteObject(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		big := tenMB(1)
		s := b.post(t, "writer", "all", envelopeOf(big)).accepted(t)
		if *s.SuccessCount != 1 {
			t.Fatalf("status %+v", s)
		}
		e := b.get(t, "reader", b.objectsURL("all")).ok(t).envelope(t)
		if len(e.Objects) != 1 || string(e.Objects[0]) != big {
			t.Fatalf("the 10 MB object did not come back intact (%d objects)", len(e.Objects))
		}
	})
}

func TestAddObjectsOverTheObjectSize(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{ObjectLimits: stixLimits(1<<20, 0, 0)})
		before := seed(t, b)
		s := b.post(t, "writer", "all", envelopeOf(indicator(5, mod1), tenMB(6), indicator(7, mod1))).accepted(t)
		if *s.SuccessCount != 2 || *s.FailureCount != 1 || !strings.Contains(s.Failures[0].Message, "objects[1]") ||
			!strings.Contains(s.Failures[0].Message, "larger than 1048576 bytes") {
			t.Fatalf("status %+v", s)
		}
		if got := len(stored(t, st)); got != len(before)+2 {
			t.Fatalf("%d versions stored, want %d", got, len(before)+2)
		}
	})
}

// One real post of 100,000 tiny objects, the default MaxObjectsPerAdd. Under the
// race detector it takes minutes (the embedded store's SQLite is Go code and
// instrumented too), so there it is left to the plain test run; the boundary
// itself is TestAddObjectsMaxObjectsPerAdd.
func TestAddObjects100000(t *testing.T) {
	if raceEnabled {
		t.Skip("minutes under -race; run go test -run TestAddObjects100000 ./internal/taxii/")
	}
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		const n = 100_000
		var buf bytes.Buffer
		buf.WriteString(`{"objects":[`)
		for i := range n {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-%012d","value":"10.%d.%d.%d"}`,
				i, i>>16, i>>8&255, i&255)
		}
		buf.WriteString(`]}`)
		start := time.Now()
		s := b.post(t, "writer", "all", buf.Bytes()).accepted(t)
		t.Logf("%d objects, %d bytes, in %s", n, buf.Len(), time.Since(start))
		if *s.SuccessCount != n || len(stored(t, st)) != n {
			t.Fatalf("%d successes, %d failures", *s.SuccessCount, *s.FailureCount)
		}
		// One more is refused whole.
		buf.Truncate(buf.Len() - 2)
		buf.WriteString(`,{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--10000000-0000-4000-8000-000000000000","value":"10.255.255.255"}]}`)
		b.post(t, "writer", "all", buf.Bytes()).taxiiError(t, 422, "more than 100000 objects")
		if got := len(stored(t, st)); got != n {
			t.Fatalf("%d versions stored after the refused post, want %d", got, n)
		}
	})
}

func TestAddObjectsStrictValidation(t *testing.T) {
	custom := func(n int) string {
		o := indicator(n, mod1)
		return o[:len(o)-1] + `,"confidence_note":"custom, without x_"}`
	}
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprint("strict=", strict), func(t *testing.T) {
			b := setupWrite(t, storeOf(t), Options{StrictValidation: strict})
			s := b.post(t, "writer", "all", envelopeOf(custom(1))).accepted(t)
			if got := *s.FailureCount == 1; got != strict {
				t.Fatalf("strict %v: status %+v", strict, s)
			}
		})
	}
}

// The status resource and the objects it names agree with what the read side serves.
func TestAddObjectsVersionOfObjectsWithoutTimestamps(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		sco := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","value":"10.0.0.1"}`
		s := b.post(t, "writer", "all", envelopeOf(sco)).accepted(t)
		_, _, m := b.get(t, "reader", b.root+"/collections/"+feedAllID+"/manifest/").ok(t).manifest(t)
		if len(m) != 1 || s.Successes[0].Version != m[0].Version || s.Successes[0].Version != m[0].DateAdded {
			t.Fatalf("status version %q, manifest %+v: want the date_added, as the manifest shows", s.Successes[0].Version, m)
		}
		// Posting it again names the same version.
		if again := b.post(t, "writer", "all", envelopeOf(sco)).accepted(t); again.Successes[0].Version != s.Successes[0].Version {
			t.Fatalf("re-post version %q, want %q", again.Successes[0].Version, s.Successes[0].Version)
		}
	})
}

func TestAddObjectsStatusJSONShape(t *testing.T) {
	b := setupWrite(t, storeOf(t), Options{})
	r := b.post(t, "writer", "all", envelopeOf(indicator(1, mod1), "7"))
	r.accepted(t)
	m := decodeJSON(t, r.body)
	for _, k := range []string{"id", "status", "request_timestamp", "total_count", "success_count", "successes", "failure_count", "failures", "pending_count"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status resource lacks %s: %s", k, r.body)
		}
	}
	if _, ok := m["pendings"]; ok {
		t.Errorf("empty pendings present: %s", r.body)
	}
	var failures []map[string]any
	_ = json.Unmarshal(mustMarshal(t, m["failures"]), &failures)
	if len(failures) != 1 || failures[0]["id"] != "" || failures[0]["version"] != "" {
		t.Fatalf("the failure of a non-object keeps the required id and version, empty: %s", r.body)
	}
}

// What a status repeats of an invalid object is storable in every store (Postgres
// refuses NUL in JSON) and bounded, whatever the client sent.
func TestAddObjectsStatusOfGarbage(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		for _, elem := range []string{
			`{"type":"indicator","id":"a\u0000b"}`,
			`{"type":"indicator","spec_version":"2.1\u0000","id":"indicator--00000000-0000-4000-8000-000000000001"}`,
			`{"type":"x-a\u0000","spec_version":"2.1","id":"x-a\u0000--00000000-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`,
			`{"type":"indicator","id":"` + strings.Repeat("x", 100_000) + `","modified":"` + strings.Repeat("é", 100_000) + `"}`,
			`{"type":"indicator","spec_version":"` + strings.Repeat("2", 100_000) + `"}`,
		} {
			// The non-object beside it keeps a bad spec_version from making the request a 422.
			r := b.post(t, "writer", "all", envelopeOf(elem, "7"))
			s := r.accepted(t)
			f := s.Failures[0]
			if strings.ContainsRune(f.ID+f.Version+f.Message, 0) || len(f.ID) > 300 || len(f.Version) > 300 || len(f.Message) > 1000 {
				t.Fatalf("failure entry %.400q", f)
			}
			if got := b.get(t, "reader", b.statusURL(s.ID)).ok(t); !bytes.Equal(got.body, r.body) {
				t.Fatalf("stored status differs:\n%.300s\n%.300s", got.body, r.body)
			}
		}
		if rows := stored(t, st); len(rows) != 0 {
			t.Fatalf("stored %v", storedRefs(rows))
		}
	})
}

// writeFailingStore fails AddObjects or CreateStatus on demand.
type writeFailingStore struct {
	store.Store
	addErr, statusErr error
}

func (s *writeFailingStore) AddObjects(ctx context.Context, objs []store.Object) ([]store.AddOutcome, error) {
	if s.addErr != nil {
		return nil, s.addErr
	}
	return s.Store.AddObjects(ctx, objs)
}

func (s *writeFailingStore) AddObjectBatches(ctx context.Context, next func() ([]store.Object, error)) ([]store.AddOutcome, error) {
	if s.addErr != nil {
		return nil, s.addErr
	}
	return s.Store.AddObjectBatches(ctx, next)
}

func (s *writeFailingStore) CreateStatus(ctx context.Context, st store.Status) error {
	if s.statusErr != nil {
		return s.statusErr
	}
	return s.Store.CreateStatus(ctx, st)
}

// A store failure is a generic 500 and no 202: when the objects could not be
// stored, nothing is; when the status could not be, a retry succeeds.
func TestAddObjectsStoreFailures(t *testing.T) {
	fs := &writeFailingStore{Store: storeOf(t)}
	b := setupWrite(t, fs, Options{})
	body := envelopeOf(indicator(1, mod1), indicator(2, mod1))

	fs.addErr = errors.New("disk full")
	b.post(t, "writer", "all", body).taxiiError(t, 500, "error_id")
	if rows := stored(t, fs); len(rows) != 0 {
		t.Fatalf("stored %v after a failed AddObjects", storedRefs(rows))
	}

	fs.addErr, fs.statusErr = nil, errors.New("statuses table locked")
	b.post(t, "writer", "all", body).taxiiError(t, 500, "error_id")
	if rows := stored(t, fs); len(rows) != 2 {
		t.Fatalf("stored %v", storedRefs(rows))
	}

	fs.statusErr = nil
	s := b.post(t, "writer", "all", body).accepted(t)
	if *s.SuccessCount != 2 || len(stored(t, fs)) != 2 {
		t.Fatalf("retry: %+v", s)
	}
}

// Spec 5.5: content in a STIX version the server does not support is a 422 when
// nothing else is in the request; beside supported objects it is a per-object failure.
func TestAddObjectsUnsupportedVersion(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		v20 := `{"type":"indicator","id":"indicator--00000000-0000-4000-8000-000000000020","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","valid_from":"2026-01-01T00:00:00Z","labels":["malicious-activity"]}`
		v20b := strings.Replace(v20, `"type":"indicator",`, `"type":"indicator","spec_version":"2.0",`, 1)
		r := b.post(t, "writer", "all", envelopeOf(v20, v20b))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "STIX 2.0") {
			t.Fatalf("only STIX 2.0: %d %s", r.status, r.body)
		}
		if rows := stored(t, st); len(rows) != 0 {
			t.Fatalf("stored %v", storedRefs(rows))
		}
		s := b.post(t, "writer", "all", envelopeOf(v20, indicator(1, mod1))).accepted(t)
		if *s.SuccessCount != 1 || *s.FailureCount != 1 || !strings.Contains(s.Failures[0].Message, "2.0") {
			t.Fatalf("mixed request: %+v", s)
		}
	})
}
