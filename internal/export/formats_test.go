package export_test

import (
	"encoding/csv"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

const tlpGreen = `,"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]`

// formatsFixture stores: a two-value STIX indicator, a STIX indicator naming no value we
// export, a sigma and a yara indicator, and a malware.
func formatsFixture(t *testing.T, st store.Store) (*fixture, string) {
	f := setup(t, st, nil)
	f.post(t,
		indicator(1, "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'Evil.Example']", "stix",
			tlpGreen+`,"confidence":85,"valid_until":"2099-01-01T00:00:00Z","labels":["c2","botnet"],"created_by_ref":"identity--357447d7-9229-4ce1-b7fa-f1b83587048e"`),
		indicator(2, "[process:name = 'evil.exe']", "stix", ""),
		indicator(3, "title: x\ndetection: {}", "sigma", ""),
		indicator(4, "rule x { condition: true }", "yara", ""),
		malware(5),
	)
	return f, f.api + "/collections/" + feedAll + "/objects"
}

func TestFormatText(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f, all := formatsFixture(t, st)
		r := f.get(t, "reader", all+"?format=text&limit=3").ok(t)
		if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if got := string(r.body); got != "198.51.100.1 evil.example\nind 2\n" {
			t.Errorf("text page:\n%s", got)
		}
		cursor := r.header.Get("Cursor")
		if cursor == "" {
			t.Fatal("no Cursor header")
		}
		r = f.get(t, "reader", all+"?format=text&cursor="+url.QueryEscape(cursor)).ok(t)
		if len(r.body) != 0 { // yara and malware: skipped
			t.Errorf("second page: %q", r.body)
		}
		if r.header.Get("Cursor") == cursor {
			t.Error("the cursor did not move past the skipped objects")
		}
		if v, ok := metricValue(t, f.reg, "taxii_export_responses_total", map[string]string{"format": "text", "result": "ok"}); !ok || v != 2 {
			t.Errorf("text responses counted: %v %v", v, ok)
		}
	})
}

func TestFormatCSV(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f, all := formatsFixture(t, st)
		r := f.get(t, "reader", all+"?format=csv").ok(t)
		if r.header.Get("Cursor") == "" || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Errorf("headers %v", r.header)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"id", "type", "name", "observable type", "value", "tlp", "confidence", "valid_from", "valid_until", "revoked", "created_by_ref", "labels"},
			{indicatorID(1), "indicator", "ind 1", "ipv4-addr", "198.51.100.1", "green", "85", "2024-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "false", "identity--357447d7-9229-4ce1-b7fa-f1b83587048e", "c2,botnet"},
			{indicatorID(1), "indicator", "ind 1", "domain-name", "evil.example", "green", "85", "2024-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "false", "identity--357447d7-9229-4ce1-b7fa-f1b83587048e", "c2,botnet"},
			{indicatorID(2), "indicator", "ind 2", "", "", "", "", "2024-01-01T00:00:00Z", "", "false", "", ""},
			{indicatorID(3), "indicator", "ind 3", "", "", "", "", "2024-01-01T00:00:00Z", "", "false", "", ""},
			{indicatorID(4), "indicator", "ind 4", "", "", "", "", "2024-01-01T00:00:00Z", "", "false", "", ""},
			{"malware--00000000-0000-4000-8000-000000000005", "malware", "mal 5", "", "", "", "", "", "", "false", "", ""},
		}
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Errorf("csv:\n got %q\nwant %q", rows, want)
		}
	})
}

func TestFormatCustom(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f, all := formatsFixture(t, st)
		tmpl := url.QueryEscape("$id|$name|$type|$tlp|$confidence|$valid_until|$observables")
		r := f.get(t, "reader", all+"?format=custom&template="+tmpl).ok(t)
		want := indicatorID(1) + "|ind 1|indicator|green|85|2099-01-01T00:00:00Z|198.51.100.1,evil.example\n" +
			indicatorID(2) + "|ind 2|indicator||||\n"
		if string(r.body) != want {
			t.Errorf("custom:\n got %q\nwant %q", r.body, want)
		}
		if r.header.Get("Cursor") == "" {
			t.Error("no Cursor header")
		}
	})
}

// TestFormatCSVFormulas: cells that a spreadsheet would run as formulas (OWASP CSV
// injection) start with an apostrophe in CSV; the same names stay as they are in custom.
func TestFormatCSVFormulas(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		f.post(t,
			`{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z",`+
				`"modified":"2024-01-01T00:00:00.000Z","name":"=HYPERLINK(\"http://x.example\")","is_family":false,"labels":["@SUM(1)","x"]}`,
			`{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000002","created":"2024-01-01T00:00:00.000Z",`+
				`"modified":"2024-01-01T00:00:00.000Z","name":"+1","is_family":false,"labels":["-2"]}`,
			`{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000003","created":"2024-01-01T00:00:00.000Z",`+
				`"modified":"2024-01-01T00:00:00.000Z","name":"\tcmd","is_family":false,"labels":["\rx"]}`,
			strings.Replace(indicator(4, "[domain-name:value = 'evil.example']", "stix", ""), `"ind 4"`, `"=1+2"`, 1),
		)
		all := f.api + "/collections/" + feedAll + "/objects"
		rows, err := csv.NewReader(strings.NewReader(string(f.get(t, "reader", all+"?format=csv").ok(t).body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]string
		for _, r := range rows[1:] {
			got = append(got, [2]string{r[2], r[11]})
		}
		want := [][2]string{{`'=HYPERLINK("http://x.example")`, "'@SUM(1),x"}, {"'+1", "'-2"}, {"'\tcmd", "'\rx"}, {"'=1+2", ""}}
		if !slices.Equal(got, want) {
			t.Errorf("csv names and labels:\n got %q\nwant %q", got, want)
		}
		if r := f.get(t, "reader", all+"?format=custom&template="+url.QueryEscape("$name $observables")).ok(t); string(r.body) != "=1+2 evil.example\n" {
			t.Errorf("custom: %q", r.body)
		}
	})
}

// TestFeedDefaultFormat: a feed's stored format answers requests that name none; a
// request's format, or template, wins over it.
func TestFeedDefaultFormat(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f, _ := formatsFixture(t, st)
		const feedCSV, feedCustom = "7c1f0d2e-3a4b-4c5d-8e6f-70a1b2c3d4e1", "7c1f0d2e-3a4b-4c5d-8e6f-70a1b2c3d4e2"
		for _, fd := range []store.Feed{
			{ID: feedCSV, Title: "CSV", ExportFormat: "csv"},
			{ID: feedCustom, Title: "Custom", ExportFormat: "custom", ExportTemplate: "$name=$observables"},
		} {
			if err := st.CreateFeed(t.Context(), fd); err != nil {
				t.Fatal(err)
			}
		}
		objects := func(feed string) string { return f.api + "/collections/" + feed + "/objects?limit=2" }
		if r := f.get(t, "reader", objects(feedCSV)).ok(t); r.header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(string(r.body), "id,type,name,") {
			t.Errorf("csv feed without format: %s %q", r.header.Get("Content-Type"), r.body)
		}
		if r := f.get(t, "reader", objects(feedCSV)+"&format=json").ok(t); len(r.items(t).Items) != 2 {
			t.Errorf("csv feed with format=json: %q", r.body)
		}
		if r := f.get(t, "reader", objects(feedCustom)).ok(t); string(r.body) != "ind 1=198.51.100.1,evil.example\nind 2=\n" {
			t.Errorf("custom feed without format: %q", r.body)
		}
		if r := f.get(t, "reader", objects(feedCustom)+"&template="+url.QueryEscape("$id")).ok(t); string(r.body) != indicatorID(1)+"\n"+indicatorID(2)+"\n" {
			t.Errorf("custom feed with its own template: %q", r.body)
		}
		if r := f.get(t, "reader", objects(feedAll)+"&format=custom"); r.status != 400 {
			t.Errorf("format=custom without a template on a json feed: %d", r.status)
		}
	})
}
