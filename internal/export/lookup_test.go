package export_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func TestObjectLookups(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		mal := "malware--00000000-0000-4000-8000-000000000002"
		f.post(t, indicator(1, "[ipv4-addr:value = '198.51.100.1']", "stix", ""), malware(2))
		// A newer version of the indicator: lookups answer with it.
		f.post(t, `{"type":"indicator","spec_version":"2.1","id":"`+indicatorID(1)+`","created":"2024-01-01T00:00:00.000Z",`+
			`"modified":"2024-02-01T00:00:00.000Z","name":"ind 1 v2","pattern":"[ipv4-addr:value = '198.51.100.9']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`)

		r := f.get(t, "reader", f.api+"/objects/"+indicatorID(1)).ok(t)
		if !bytes.Contains(r.body, []byte(`"name":"ind 1 v2"`)) {
			t.Errorf("object: %s", r.body)
		}
		// The limited key reads only the indicators feed: no malware there.
		f.get(t, "limited", f.api+"/objects/"+mal).apiError(t, http.StatusNotFound, "no object")
		f.get(t, "reader", f.api+"/objects/"+mal).ok(t)
		f.get(t, "reader", f.api+"/objects/indicator--00000000-0000-4000-8000-999999999999").apiError(t, http.StatusNotFound, "no object")
		f.get(t, "", f.api+"/objects/"+mal).apiError(t, http.StatusUnauthorized, "API key")

		p := f.get(t, "reader", f.api+"/objects?match[id]="+mal+","+indicatorID(1)+",indicator--00000000-0000-4000-8000-999999999999").ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{mal, indicatorID(1)}) {
			t.Errorf("match[id] as reader: %v", got)
		}
		p = f.get(t, "limited", f.api+"/objects?match[id]="+mal+","+indicatorID(1)).ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(1)}) {
			t.Errorf("match[id] as limited: %v", got)
		}
		f.get(t, "reader", f.api+"/objects").apiError(t, http.StatusBadRequest, "match[id]")
	})
}

func TestIndicatorContext(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		f.post(t,
			indicator(1, "[ipv4-addr:value = '198.51.100.7']", "stix", ""),
			indicator(2, "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]", "stix", ""),
			indicator(3, "[domain-name:value = 'evil.example']", "stix", ""),
			indicator(4, "[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F']", "stix", ""),
		)
		ctx := f.api + "/indicators/context"
		p := f.get(t, "reader", ctx+"?type=ipv4-addr&value=198.51.100.7").ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(1), indicatorID(2)}) {
			t.Errorf("ipv4: %v", got)
		}
		p = f.get(t, "limited", ctx+"?value=EVIL.example").ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(3)}) {
			t.Errorf("value alone, other case: %v", got)
		}
		p = f.get(t, "reader", ctx+"?type=file:sha256&value=aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f").ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(4)}) {
			t.Errorf("sha256: %v", got)
		}
		p = f.get(t, "reader", ctx+"?type=domain-name&value=198.51.100.7").ok(t).items(t)
		if len(p.Items) != 0 {
			t.Errorf("wrong type: %v", ids(p))
		}
		// A revision that drops the value takes the indicator out of the answer.
		f.post(t, `{"type":"indicator","spec_version":"2.1","id":"`+indicatorID(1)+`","created":"2024-01-01T00:00:00.000Z",`+
			`"modified":"2024-03-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`)
		p = f.get(t, "reader", ctx+"?value=198.51.100.7").ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(2)}) {
			t.Errorf("after the revision: %v", got)
		}
		f.get(t, "reader", ctx+"?type=ipv4-addr").apiError(t, http.StatusBadRequest, "value")
		f.get(t, "", ctx+"?value=x").apiError(t, http.StatusUnauthorized, "API key")
	})
}
