package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
)

var (
	validatorsOnce sync.Once
	defaultV       *Validator
	strictV        *Validator
	validatorsErr  error
)

// validators compiles the two validators once for the whole test binary.
func validators(t testing.TB) (def, strict *Validator) {
	t.Helper()
	validatorsOnce.Do(func() {
		defaultV, validatorsErr = NewValidator(Options{})
		if validatorsErr == nil {
			strictV, validatorsErr = NewValidator(Options{Strict: true})
		}
	})
	if validatorsErr != nil {
		t.Fatal(validatorsErr)
	}
	return defaultV, strictV
}

func baseIndicator() map[string]any {
	return map[string]any{
		"type":            "indicator",
		"spec_version":    "2.1",
		"id":              "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"created":         "2016-04-06T20:03:48.000Z",
		"modified":        "2016-04-06T20:03:48.000Z",
		"name":            "Poison Ivy Malware",
		"pattern":         "[file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877']",
		"pattern_type":    "stix",
		"valid_from":      "2016-01-01T00:00:00Z",
		"indicator_types": []any{"malicious-activity"},
	}
}

func with(base map[string]any, kv ...any) []byte {
	m := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
			continue
		}
		m[k] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func obj(s string) []byte { return []byte(s) }

const (
	campaign = `{"type":"campaign","spec_version":"2.1","id":"campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","name":"Green Group Attacks","first_seen":%q,"last_seen":%q}`
	relation = `{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","start_time":%q,"stop_time":%q}`
	observed = `{"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":%q,"last_observed":%q,"number_observed":50,"object_refs":["ipv4-addr--efcd5e80-570d-4131-b213-62cb18eaa6a8"]}`
	tlpGreen = `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:GREEN","definition":{"tlp":"green"}}`
)

func TestValidateRules(t *testing.T) {
	def, strict := validators(t)
	ind := baseIndicator()
	tests := []struct {
		name   string
		raw    []byte
		strict bool
		path   string // "" with reason "" means valid
		reason string
	}{
		{name: "valid indicator", raw: with(ind)},

		// JSON level
		{name: "not JSON", raw: obj(`{"type": "indicator",}`), reason: "invalid JSON"},
		{name: "not an object", raw: obj(`["indicator"]`), reason: "not a JSON object"},
		{name: "duplicate key", raw: obj(`{"type":"indicator","name":"a","name":"b"}`), path: "/name", reason: `duplicate property "name"`},
		{name: "invalid UTF-8", raw: obj("{\"type\":\"indicator\",\"name\":\"\xff\"}"), path: "/name", reason: "invalid UTF-8"},
		{name: "lone surrogate", raw: obj(`{"type":"indicator","name":"\ud800"}`), path: "/name", reason: "surrogate"},

		// type and container
		{name: "type missing", raw: with(ind, "type", nil), path: "/type", reason: "type is missing"},
		{name: "type not a string", raw: with(ind, "type", 5), path: "/type", reason: "must be a string"},
		{name: "bundle is a container", raw: obj(`{"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","objects":[]}`), path: "/type", reason: "container"},

		// spec_version
		{name: "spec_version 2.0", raw: with(ind, "spec_version", "2.0"), path: "/spec_version", reason: "STIX 2.0 content is not accepted; this server stores STIX 2.1"},
		{name: "spec_version missing on an SDO", raw: with(ind, "spec_version", nil), path: "/spec_version", reason: "STIX 2.0"},
		{name: "spec_version missing on a marking", raw: obj(strings.Replace(tlpGreen, `"spec_version":"2.1",`, "", 1)), path: "/spec_version", reason: "STIX 2.0"},
		{name: "spec_version 2.2", raw: with(ind, "spec_version", "2.2"), path: "/spec_version", reason: `must be "2.1"`},
		{name: "SCO without spec_version", raw: obj(`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`)},
		{name: "SCO with spec_version 2.0", raw: obj(`{"type":"ipv4-addr","spec_version":"2.0","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`), path: "/spec_version", reason: "STIX 2.0"},

		// identifiers
		{name: "id of another type", raw: with(ind, "id", "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), path: "/id", reason: `must start with "indicator--"`},
		{name: "id without UUID", raw: with(ind, "id", "indicator--1234"), path: "/id", reason: "is not a UUID"},
		{name: "id without separator", raw: with(ind, "id", "indicator-8e2e2d2b"), path: "/id", reason: "not a STIX identifier"},
		{name: "id with a version 0 UUID", raw: with(ind, "id", "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f"), path: "/id", reason: "the UUID's version digit (the first of its third group) is 0; STIX identifiers use UUID versions 1 to 5"},
		{name: "upper-case UUID", raw: with(ind, "id", "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F")},
		{name: "bad created_by_ref", raw: with(ind, "created_by_ref", "identity"), path: "/created_by_ref", reason: "not a STIX identifier"},

		// timestamps
		{name: "created not a real date", raw: with(ind, "created", "2021-02-30T00:00:00.000Z", "modified", "2021-03-01T00:00:00.000Z"), path: "/created", reason: "2021-02-30T00:00:00.000Z is not a real date"},
		{name: "valid_from not a real date", raw: with(ind, "valid_from", "2023-02-29T00:00:00Z"), path: "/valid_from", reason: "is not a real date"},
		{name: "leap day", raw: with(ind, "created", "2016-02-29T00:00:00.000Z", "modified", "2016-02-29T00:00:00.000Z")},
		{name: "real leap second", raw: with(ind, "created", "2016-12-31T23:59:60.000Z", "modified", "2016-12-31T23:59:60.000Z")},
		{name: "invented leap second", raw: with(ind, "created", "2017-06-30T23:59:60.000Z", "modified", "2017-07-01T00:00:00.000Z"), path: "/created", reason: "not a real time"},
		{name: "timestamp with offset", raw: with(ind, "valid_from", "2016-01-01T00:00:00+01:00"), path: "/valid_from", reason: "is not a STIX timestamp"},
		{name: "created without milliseconds", raw: with(ind, "created", "2016-04-06T20:03:48Z"), path: "/created", reason: "millisecond"},
		{name: "nested timestamp", raw: obj(`{"type":"file","id":"file--fe7d2d7b-ab05-5a2b-86b6-37eb7b1b0b53","name":"a.exe","ctime":"2019-02-31T00:00:00Z"}`), path: "/ctime", reason: "not a real date"},
		{name: "modified before created", raw: with(ind, "modified", "2016-04-06T20:03:47.999Z"), path: "/modified", reason: "modified is earlier than created"},
		{name: "modified before created by a nanosecond", raw: with(ind, "created", "2016-04-06T20:03:48.000000001Z", "modified", "2016-04-06T20:03:48.000Z"), path: "/modified", reason: "earlier than created"},
		{name: "more than nine fractional digits", raw: with(ind, "created", "2016-04-06T20:03:48.0000000001Z"), path: "/created", reason: "has 10 fractional digits; timestamps are kept to the nanosecond, so at most 9"},
		{name: "leap second after created", raw: with(ind, "created", "2016-12-31T23:59:60.000Z", "modified", "2016-12-31T23:59:59.999Z"), path: "/modified", reason: "earlier than created"},
		{name: "valid_until equal to valid_from", raw: with(ind, "valid_until", "2016-01-01T00:00:00.000Z"), path: "/valid_until", reason: "must be later than valid_from"},
		{name: "valid_until before valid_from", raw: with(ind, "valid_until", "2015-12-31T23:59:59Z"), path: "/valid_until", reason: "earlier than valid_from"},
		{name: "valid_until after valid_from", raw: with(ind, "valid_until", "2016-01-01T00:00:00.001Z")},
		{name: "last_seen before first_seen", raw: fmt.Appendf(nil, campaign, "2016-05-01T00:00:00Z", "2016-04-01T00:00:00Z"), path: "/last_seen", reason: "earlier than first_seen"},
		{name: "last_seen equal to first_seen", raw: fmt.Appendf(nil, campaign, "2016-05-01T00:00:00Z", "2016-05-01T00:00:00Z")},
		{name: "stop_time equal to start_time", raw: fmt.Appendf(nil, relation, "2016-05-01T00:00:00Z", "2016-05-01T00:00:00Z"), path: "/stop_time", reason: "must be later than start_time"},
		{name: "last_observed before first_observed", raw: fmt.Appendf(nil, observed, "2016-05-01T00:00:00Z", "2015-05-01T00:00:00Z"), path: "/last_observed", reason: "earlier than first_observed"},

		// patterns
		{name: "pattern syntax", raw: with(ind, "pattern", "[file:name = 'x'"), path: "/pattern", reason: "expected ']' but the pattern ended at offset 16"},
		{name: "pattern hash length", raw: with(ind, "pattern", "[file:hashes.MD5 = 'abc']"), path: "/pattern", reason: "'abc' is not a valid MD5 hash"},
		{name: "pattern duplicate qualifier", raw: with(ind, "pattern", "[a:b = 1] WITHIN 1 SECONDS WITHIN 2 SECONDS"), path: "/pattern", reason: "duplicate WITHIN"},
		{name: "sigma pattern is text", raw: with(ind, "pattern_type", "sigma", "pattern", "title: x\ndetection: {}")},
		{name: "yara pattern is text", raw: with(ind, "pattern_type", "yara", "pattern", "rule x { condition: true }")},
		{name: "pattern missing", raw: with(ind, "pattern", nil), path: "/pattern", reason: "required property pattern is missing"},

		// schema details
		{name: "confidence out of range", raw: with(ind, "confidence", 101), path: "/confidence", reason: "maximum"},
		{name: "reserved property", raw: with(ind, "severity", "high"), path: "/severity", reason: "reserved"},
		{name: "bad custom property name", raw: with(ind, "Foo", "bar"), path: "/Foo", reason: "property name"},
		{name: "empty labels", raw: with(ind, "labels", []any{}), path: "/labels", reason: "minItems"},
		{name: "file hash of wrong length", raw: obj(`{"type":"file","id":"file--fe7d2d7b-ab05-5a2b-86b6-37eb7b1b0b53","hashes":{"MD5":"abc"}}`), path: "/hashes/MD5", reason: "not a valid MD5 hash"},
		{name: "TLP marking", raw: obj(tlpGreen)},

		// IPv6 schema defect and formats
		{name: "IPv4-mapped IPv6", raw: obj(`{"type":"ipv6-addr","id":"ipv6-addr--1e61d36c-a16c-53b7-a80f-2a00161c96b1","value":"::ffff:192.0.2.1"}`)},
		{name: "IPv6 CIDR", raw: obj(`{"type":"ipv6-addr","id":"ipv6-addr--1e61d36c-a16c-53b7-a80f-2a00161c96b1","value":"2001:db8::/32"}`)},
		{name: "IPv4 in ipv6-addr", raw: obj(`{"type":"ipv6-addr","id":"ipv6-addr--1e61d36c-a16c-53b7-a80f-2a00161c96b1","value":"192.0.2.1"}`), path: "/value", reason: "not an IPv6 address"},
		{name: "IDN domain", raw: obj(`{"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"bücher.example"}`)},
		{name: "domain with underscore", raw: obj(`{"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"_dmarc.example.com"}`)},
		{name: "domain with empty label", raw: obj(`{"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"a..example"}`), path: "/value", reason: "empty label"},
		{name: "domain with space", raw: obj(`{"type":"domain-name","id":"domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5","value":"a b.example"}`), path: "/value", reason: "not allowed"},
		{name: "bad email", raw: obj(`{"type":"email-addr","id":"email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3","value":"not an email"}`), path: "/value", reason: "email"},

		// custom content
		{name: "custom property (default)", raw: with(ind, "foo", "bar")},
		{name: "custom property (strict)", raw: with(ind, "foo", "bar"), strict: true, path: "/foo", reason: "x_ prefix"},
		{name: "x_ property (strict)", raw: with(ind, "x_foo", "bar"), strict: true},
		{name: "toplevel-property-extension (strict)", strict: true, raw: with(ind, "rank", 5, "extensions", map[string]any{
			"extension-definition--a932fcc6-e032-476c-826f-cb970a5a1ade": map[string]any{"extension_type": "toplevel-property-extension"}})},
		{name: "custom SDO type", raw: obj(`{"type":"x-foo","spec_version":"2.1","id":"x-foo--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","anything":1}`)},
		{name: "custom SDO type without spec_version", raw: obj(`{"type":"x-foo","id":"x-foo--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z"}`), path: "/spec_version", reason: "STIX 2.0"},
		{name: "custom SDO type with a bad date", raw: obj(`{"type":"x-foo","spec_version":"2.1","id":"x-foo--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-31T20:03:48.000Z","modified":"2016-05-06T20:03:48.000Z"}`), path: "/created", reason: "not a real date"},
		{name: "custom SCO type", raw: obj(`{"type":"x-usb-device","id":"x-usb-device--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","serial_number":"575833314133343231313937"}`)},
		{name: "custom SCO type without id", raw: obj(`{"type":"x-usb-device","serial_number":"1"}`), path: "/id", reason: "required property id is missing"},
		{name: "unprefixed custom type (default)", raw: obj(`{"type":"usb-device","id":"usb-device--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`)},
		{name: "unprefixed custom type (strict)", strict: true, raw: obj(`{"type":"usb-device","id":"usb-device--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`), path: "/type", reason: "unknown object type"},
		{name: "declared custom type (strict)", strict: true, raw: obj(`{"type":"usb-device","id":"usb-device--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","extensions":{"extension-definition--a932fcc6-e032-476c-826f-cb970a5a1ade":{"extension_type":"new-sco"}}}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := def
			if tc.strict {
				v = strict
			}
			meta, err := v.Validate(tc.raw)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if meta.SpecVersion != "2.1" || meta.ID == "" || meta.Type == "" {
					t.Fatalf("incomplete meta %+v", meta)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("want *Error (%s: %s), got %v", tc.path, tc.reason, err)
			}
			if ve.Path != tc.path || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("got path %q reason %q\nwant path %q reason containing %q", ve.Path, ve.Reason, tc.path, tc.reason)
			}
		})
	}
}

func TestValidateMeta(t *testing.T) {
	def, _ := validators(t)
	tests := []struct {
		raw  []byte
		want Meta
	}{
		{with(baseIndicator(), "id", "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F", "modified", "2017-01-01T00:00:00.123456789Z"),
			Meta{ID: "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F", Type: "indicator", SpecVersion: "2.1", Created: "2016-04-06T20:03:48.000Z", Modified: "2017-01-01T00:00:00.123456789Z"}},
		{obj(tlpGreen), Meta{ID: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Type: "marking-definition", SpecVersion: "2.1", Created: "2017-01-20T00:00:00.000Z"}},
		{obj(`{"type":"url","id":"url--c1477287-23ac-5971-a010-5c287877fa60","value":"https://example.com/"}`), Meta{ID: "url--c1477287-23ac-5971-a010-5c287877fa60", Type: "url", SpecVersion: "2.1"}},
	}
	for _, tc := range tests {
		got, err := def.Validate(tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if got != tc.want {
			t.Errorf("got %+v, want %+v", got, tc.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{ID: "indicator--1", Path: "/created", Reason: "2021-02-30T00:00:00Z is not a real date"}
	if got, want := e.Error(), "indicator--1: /created: 2021-02-30T00:00:00Z is not a real date"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (&Error{Reason: "not a JSON object"}).Error(); got != "not a JSON object" {
		t.Errorf("got %q", got)
	}
}

func TestValidateLimits(t *testing.T) {
	v, err := NewValidator(Options{Limits: Limits{MaxDepth: 3, MaxProperties: 12}})
	if err != nil {
		t.Fatal(err)
	}
	deep := with(baseIndicator(), "x_deep", map[string]any{"a": map[string]any{"b": map[string]any{"c": 1}}})
	if _, err := v.Validate(deep); err == nil || !strings.Contains(err.Error(), "deeper than 3") {
		t.Errorf("deep object: got %v", err)
	}
	wide := with(baseIndicator(), "x_a", 1, "x_b", 2, "x_c", 3)
	if _, err := v.Validate(wide); err == nil || !strings.Contains(err.Error(), "more than 12 properties") {
		t.Errorf("wide object: got %v", err)
	}
}

func TestValidateAllKeepsOrder(t *testing.T) {
	def, _ := validators(t)
	raws := make([][]byte, 1000)
	for i := range raws {
		if i%7 == 3 {
			raws[i] = with(baseIndicator(), "id", fmt.Sprintf("indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f", i), "modified", "2000-01-01T00:00:00.000Z")
			continue
		}
		raws[i] = with(baseIndicator(), "id", fmt.Sprintf("indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f", i))
	}
	res := def.ValidateAll(raws)
	if len(res) != len(raws) {
		t.Fatalf("%d results for %d objects", len(res), len(raws))
	}
	for i, r := range res {
		wantID := fmt.Sprintf("indicator--%08d-17d4-4cbf-938f-98ee46b3cd3f", i)
		if i%7 == 3 {
			var ve *Error
			if !errors.As(r.Err, &ve) || ve.ID != wantID || ve.Path != "/modified" {
				t.Fatalf("result %d: %v", i, r.Err)
			}
			continue
		}
		if r.Err != nil || r.Meta.ID != wantID {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if got := def.ValidateAll(nil); len(got) != 0 {
		t.Errorf("ValidateAll(nil) = %v", got)
	}
}
