package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
)

func indicator(n int, modified string) []byte {
	return fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":%q,"pattern":"[ipv4-addr:value = '10.0.0.%d']",`+
		`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, n, modified, n)
}

func newIngester(t *testing.T, st store.Store, opts ingest.Options) *ingest.Ingester {
	t.Helper()
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(st, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestIngestOutcomes: every item gets one outcome, in order, with its reason;
// what the decoder, the validator, the feed filter or the store refuses does
// not keep the rest from being stored.
func TestIngestOutcomes(t *testing.T) {
	st := sqlitetest.New(t)
	ctx := t.Context()
	const mod = "2026-02-01T00:00:00.000Z"
	if _, err := newIngester(t, st, ingest.Options{Source: "vendor"}).Ingest(ctx, []ingest.Item{{Raw: indicator(9, mod)}}); err != nil {
		t.Fatal(err)
	}

	in := newIngester(t, st, ingest.Options{Source: "feed-a", Confined: true, Filter: &store.FeedFilter{Types: []string{"indicator"}}})
	sco := []byte(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","value":"10.0.0.1"}`)
	old := []byte(`{"type":"indicator","spec_version":"2.0","id":"indicator--00000000-0000-4000-8000-000000000003","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`)
	items := []ingest.Item{
		{Raw: indicator(1, mod)},
		{Err: errors.New("objects[1]: not a JSON object")},
		{Raw: sco}, // valid, but the filter takes indicators only
		{Raw: old},
		{Raw: indicator(9, "2099-01-01T00:00:00.000Z")}, // vendor's object
		{Raw: indicator(1, mod)},                        // the first again
	}
	outs, err := in.Ingest(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(outs), len(items))
	}
	id := func(n int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n) }
	for i, want := range []struct {
		res    ingest.Result
		id     string
		reason string
	}{
		{ingest.Added, id(1), ""},
		{ingest.Rejected, "", "objects[1]: not a JSON object"},
		{ingest.Rejected, "ipv4-addr--00000000-0000-4000-8000-000000000001", "type ipv4-addr is not accepted by this collection (it takes indicator)"},
		{ingest.Rejected, id(3), "/spec_version"},
		{ingest.Rejected, id(9), "object " + id(9) + " belongs to another source"},
		{ingest.Unchanged, id(1), ""},
	} {
		o := outs[i]
		if o.Result != want.res || o.ID != want.id || !strings.HasPrefix(o.Reason, want.reason) || (want.reason == "") != (o.Reason == "") {
			t.Errorf("outcome %d = %+v; want result %d, id %q, reason %q", i, o, want.res, want.id, want.reason)
		}
	}
	if !outs[3].OldSTIX || outs[4].OldSTIX {
		t.Errorf("OldSTIX: %v, %v; want true only for spec_version 2.0", outs[3].OldSTIX, outs[4].OldSTIX)
	}
	if outs[0].DateAdded == 0 || outs[5].DateAdded != outs[0].DateAdded || outs[0].Version != mod {
		t.Errorf("stored outcomes %+v, %+v", outs[0], outs[5])
	}
	if got := ingest.Counts(outs); got != (ingest.Tally{Imported: 1, Unchanged: 1, Rejected: 4}) {
		t.Errorf("Counts = %+v; want 1 imported, 1 unchanged, 4 rejected", got)
	}
	sources, err := st.ListSources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sources) != "[{feed-a 1} {vendor 1}]" {
		t.Errorf("sources %v: each version records its ingester's source", sources)
	}

	// Unconfined, without a filter: an object without a version shows its date_added.
	outs, err = newIngester(t, st, ingest.Options{Source: "import"}).Ingest(ctx, []ingest.Item{{Raw: sco}, {Raw: indicator(9, "2099-01-01T00:00:00.000Z")}})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Result != ingest.Added || outs[0].Version != store.FormatDateAdded(outs[0].DateAdded) || outs[1].Result != ingest.Added {
		t.Errorf("unconfined outcomes %+v", outs)
	}
}

func TestNewRequiresASource(t *testing.T) {
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.New(sqlitetest.New(t), v, ingest.Options{}); err == nil {
		t.Fatal("New accepted an ingester without a source")
	}
}

// TestStoreWith: a writer's own add gets exactly the valid objects, with the
// provenance source, also when none is valid, and its outcomes become the
// items' outcomes.
func TestStoreWith(t *testing.T) {
	st := sqlitetest.New(t)
	in := newIngester(t, st, ingest.Options{Source: "upstream-a"})
	var calls [][]store.Object
	add := func(ctx context.Context, objs []store.Object) ([]store.AddOutcome, error) {
		calls = append(calls, objs)
		return st.AddObjects(ctx, objs)
	}
	b := in.Check([]ingest.Item{{Raw: indicator(1, "2026-02-01T00:00:00.000Z")}, {Raw: []byte(`{"type":"x"}`)}})
	outs, err := in.StoreWith(t.Context(), b, add)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || len(calls[0]) != 1 || calls[0][0].Source != "upstream-a" {
		t.Fatalf("add got %+v, want the one valid object with its source", calls)
	}
	if outs[0].Result != ingest.Added || outs[1].Result != ingest.Rejected || outs[1].Reason == "" {
		t.Fatalf("outcomes %+v", outs)
	}
	if _, err := in.StoreWith(t.Context(), in.Check([]ingest.Item{{Raw: []byte(`{}`)}}), add); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || len(calls[1]) != 0 {
		t.Fatalf("a batch with nothing valid: add called %d times (%+v), want once more with no object", len(calls), calls)
	}
}

// TestStagedSpool: a request staged in batches is stored whole, in order, with
// each item's outcome, whether its spool stayed in memory or went to a file;
// the memory it held stays within the shared budget and is given back on Close.
func TestStagedSpool(t *testing.T) {
	pad := strings.Repeat("x", 1000)
	object := func(n int) []byte {
		return fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","description":%q,"pattern":"[ipv4-addr:value = '10.0.%d.%d']",`+
			`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, n, pad, n/250, n%250)
	}
	for name, budget := range map[string]int64{"memory then file": 1 << 20, "file only": 0, "memory only": 1 << 30} {
		t.Run(name, func(t *testing.T) {
			st := sqlitetest.New(t)
			ctx := t.Context()
			mem := admit.NewBytes(budget)
			s := newIngester(t, st, ingest.Options{Source: "feed-a"}).Stage(mem)
			defer s.Close()
			const batches, per = 6, 300 // 6 batches of about 400 KB
			for b := range batches {
				items := []ingest.Item{{Err: errors.New("objects[x]: not a JSON object")}}
				for i := range per {
					items = append(items, ingest.Item{Raw: object(b*per + i)})
				}
				items = append(items, ingest.Item{Raw: object(0)}) // the first object again
				if err := s.Add(items); err != nil {
					t.Fatal(err)
				}
				if used := mem.Used(); used > budget || (b == 0 && budget > 0 && used == 0) {
					t.Fatalf("batch %d: the spool holds %d bytes of memory, budget %d: want what fits, and no more", b, used, budget)
				}
			}
			outs, err := s.Store(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := batches * (per + 2); len(outs) != want {
				t.Fatalf("%d outcomes, want %d", len(outs), want)
			}
			var last int64
			first := outs[1]
			for k, o := range outs {
				switch k % (per + 2) {
				case 0:
					if o.Result != ingest.Rejected || o.Reason == "" {
						t.Fatalf("outcome %d: %+v, want the decoder's failure", k, o)
					}
				case per + 1:
					if o.Result != ingest.Unchanged || o.DateAdded != first.DateAdded {
						t.Fatalf("outcome %d, a repeat of the first object: %+v, want unchanged with %d", k, o, first.DateAdded)
					}
				default:
					if o.Result != ingest.Added || o.DateAdded <= last {
						t.Fatalf("outcome %d: %+v, want added after %d", k, o, last)
					}
					last = o.DateAdded
				}
			}
			// The observables travelled through the spool with their objects.
			entries, err := st.ListEntries(ctx, store.FeedFilter{}, "ipv4", "", 0, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != batches*per {
				t.Fatalf("%d ipv4 blocklist entries, want %d", len(entries), batches*per)
			}
			s.Close()
			if used := mem.Used(); used != 0 {
				t.Fatalf("%d bytes of the budget still held after Close", used)
			}
		})
	}
}

// TestIngestConflicts: a version stored again with the same content (whatever
// its layout) is unchanged; with other content it conflicts, with its reason,
// the date_added of the first, and the first content kept.
func TestIngestConflicts(t *testing.T) {
	st := sqlitetest.New(t)
	ctx := t.Context()
	in := newIngester(t, st, ingest.Options{Source: "import"})
	const mod = "2026-02-01T00:00:00.000Z"
	first := indicator(1, mod)
	relaid := []byte(strings.ReplaceAll(string(first), `","`, `", "`)) // the same JSON, other whitespace
	other := []byte(strings.Replace(string(first), `10.0.0.1`, `10.0.0.99`, 1))
	outs, err := in.Ingest(ctx, []ingest.Item{{Raw: first}, {Raw: other}})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Result != ingest.Added || outs[1].Result != ingest.Conflicting || outs[1].DateAdded != outs[0].DateAdded {
		t.Fatalf("in one batch: %+v", outs)
	}
	outs, err = in.Ingest(ctx, []ingest.Item{{Raw: relaid}, {Raw: other}})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Result != ingest.Unchanged || outs[1].Result != ingest.Conflicting {
		t.Fatalf("in a later batch: %+v", outs)
	}
	want := "version " + mod + " is already stored with other content; the first version is kept"
	if outs[1].Reason != want || outs[1].ID != "indicator--00000000-0000-4000-8000-000000000001" {
		t.Errorf("conflict outcome %+v, want reason %q", outs[1], want)
	}
	if got := ingest.Counts(outs); got != (ingest.Tally{Unchanged: 1, Conflicting: 1}) {
		t.Errorf("Counts = %+v", got)
	}
	var raws []string
	err = st.ScanObjects(ctx, store.Query{Limit: 10, Versions: store.VersionMatch{All: true}}, func(store.Page) error { return nil },
		func(r store.Row) error { raws = append(raws, string(r.Raw)); return nil })
	if err != nil || len(raws) != 1 || raws[0] != string(first) {
		t.Fatalf("stored %q (%v), want the first version only", raws, err)
	}
}

// TestReport: the lines an import lists, bounded, and its closing lines.
func TestReport(t *testing.T) {
	r := ingest.Report{Input: "f.json", Max: 2}
	outs := []ingest.Outcome{
		{Result: ingest.Added, ID: "a"},
		{Result: ingest.Conflicting, ID: "b", Reason: "why b"},
		{Result: ingest.Rejected, OldSTIX: true, ID: "c", Reason: "2.0"},
		{Result: ingest.Rejected, Reason: "why -"},
		{Result: ingest.Rejected, ID: "e", Reason: "why e"},
		{Result: ingest.Unchanged, ID: "f"},
	}
	var lines []string
	for i, o := range outs {
		if l := r.Add(i, o); l != "" {
			lines = append(lines, l)
		}
	}
	want := []string{"conflicting f.json: object 2 b: why b", "rejected f.json: object 4 -: why -"}
	if fmt.Sprint(lines) != fmt.Sprint(want) || fmt.Sprint(r.Lines) != fmt.Sprint(want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if got := r.Tally.String(); got != "imported 1, unchanged 1, conflicting 1, rejected 3" {
		t.Errorf("summary %q", got)
	}
	closing := r.Closing()
	if len(closing) != 2 || !strings.HasPrefix(closing[0], "rejected f.json: 1 objects are STIX 2.0") ||
		closing[1] != "f.json: 1 more rejected or conflicting objects not listed" {
		t.Errorf("closing %q", closing)
	}
}
