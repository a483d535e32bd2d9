package observables

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func sharedPatterns(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "..", "shared", "testdata", "patterns", "pattern_cases.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("shared pattern vectors: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func ob(typ, value, list, entry string) store.Observable {
	return store.Observable{Type: typ, Value: value, List: list, Entry: entry}
}

// TestFromPatternVectors runs every accepted pattern of the reference validator's vectors:
// the ones naming values give exactly these, all others none; rejected patterns give none.
func TestFromPatternVectors(t *testing.T) {
	const sha = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
	want := map[string][]store.Observable{
		"[file:hashes.'SHA-256' = '" + sha + "']":                                          {ob("file:sha256", sha, ListSHA256, sha)},
		"[file:hashes.'SHA-256' = '" + sha + "' AND file:mime_type = 'application/x-pdf']": {ob("file:sha256", sha, ListSHA256, sha)},
		"[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = '" + sha + "']": {
			ob("file:sha256", "bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c", ListSHA256, "bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c"),
			ob("file:md5", "cead3f77f6cda6ec00f57d76c9a6879f", ListMD5, "cead3f77f6cda6ec00f57d76c9a6879f"),
			ob("file:sha256", sha, ListSHA256, sha),
		},
		"([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar']) WITHIN 300 SECONDS": {
			ob("file:md5", "79054025255fb1a26e4bc422aef54eb4", ListMD5, "79054025255fb1a26e4bc422aef54eb4")},
		"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']": {
			ob("ipv4-addr", "203.0.113.33", ListIPv4, "203.0.113.33")},
		"[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS": {
			ob("domain-name", "example.com", ListDomain, "example.com")},
		"[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']": {
			ob("domain-name", "www.5z8.info", ListDomain, "www.5z8.info"), ob("ipv4-addr", "198.51.100.1", ListIPv4, "198.51.100.1")},
		"[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']": {
			ob("url", "http://example.com/foo", ListURL, "example.com/foo"), ob("url", "http://example.com/bar", ListURL, "example.com/bar")},
		"[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']": {
			ob("email-addr", "jdoe@example.com", "", "")},
		"[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']": {
			ob("ipv6-addr", "2001:db8:dead:beef::/64", ListCIDR, "2001:db8:dead:beef::/64")},
		"[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a69faa']": {
			ob("file:md5", "cead3f77f6cda6ec00f57d76c9a69faa", ListMD5, "cead3f77f6cda6ec00f57d76c9a69faa")},
		"[network-traffic:src_port = 37020 AND user-account:user_id = 'root'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' OR [ipv4-addr:value = '192.168.122.83'] START t'2016-06-01T03:55:00.123Z' STOP t'2016-06-01T04:30:24.743Z'": {
			ob("ipv4-addr", "192.168.122.83", ListIPv4, "192.168.122.83")},
		"[ipv4addr:value ISSUBSET '192.168.0.1/24']": nil, // not a STIX type: ipv4addr
	}
	cases := sharedPatterns(t)
	seen := map[string]bool{}
	for _, group := range []string{"PASS_CASES", "SPEC_CASES", "TIMESTAMP_PASS_CASES"} {
		var patterns []string
		if err := json.Unmarshal(cases[group], &patterns); err != nil || len(patterns) == 0 {
			t.Fatalf("%s: %v", group, err)
		}
		for _, p := range patterns {
			got := FromPattern(p)
			if !reflect.DeepEqual(got, want[p]) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", group, p, got, want[p])
			}
			seen[p] = true
		}
	}
	for p, w := range want {
		if !seen[p] && w != nil {
			t.Errorf("expected case not among the shared vectors: %s", p)
		}
	}
	for _, group := range []string{"FAIL_CASES", "TIMESTAMP_FAIL_CASES"} {
		var fails [][2]string
		if err := json.Unmarshal(cases[group], &fails); err != nil || len(fails) == 0 {
			t.Fatalf("%s: %v", group, err)
		}
		for _, f := range fails {
			if got := FromPattern(f[0]); got != nil {
				t.Errorf("%s %s: rejected pattern named %+v", group, f[0], got)
			}
		}
	}
}

func TestFromPatternForms(t *testing.T) {
	for name, tc := range map[string]struct {
		pattern string
		want    []store.Observable
	}{
		"IPv4 CIDR":            {"[ipv4-addr:value = '10.1.2.3/8']", []store.Observable{ob("ipv4-addr", "10.0.0.0/8", ListCIDR, "10.0.0.0/8")}},
		"IPv6 spelled long":    {"[ipv6-addr:value = '2001:DB8:0:0:0:0:0:1']", []store.Observable{ob("ipv6-addr", "2001:db8::1", ListIPv6, "2001:db8::1")}},
		"IPv4 in an IPv6 path": {"[ipv6-addr:value = '10.0.0.1']", nil},
		"domain case and dot":  {"[domain-name:value = 'EVIL.Example.']", []store.Observable{ob("domain-name", "evil.example", ListDomain, "evil.example")}},
		"URL without scheme in list": {"[url:value = 'https://Evil.Example:8443/a/b?x=1#frag']",
			[]store.Observable{ob("url", "https://Evil.Example:8443/a/b?x=1#frag", ListURL, "evil.example:8443/a/b?x=1")}},
		"IN set":              {"[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]", []store.Observable{ob("ipv4-addr", "198.51.100.1", ListIPv4, "198.51.100.1"), ob("ipv4-addr", "198.51.100.2", ListIPv4, "198.51.100.2")}},
		"negated and unequal": {"[ipv4-addr:value != '198.51.100.1' AND NOT ipv4-addr:value = '198.51.100.2']", nil},
		"MATCHES names none":  {"[domain-name:value MATCHES '^evil']", nil},
		"x509 hash":           {"[x509-certificate:hashes.'SHA-1' = 'AABBCCDDEEFF00112233445566778899AABBCCDD']", []store.Observable{ob("x509-certificate:sha1", "aabbccddeeff00112233445566778899aabbccdd", "", "")}},
		"file SHA-1 upper":    {"[file:hashes.'SHA-1' = 'AABBCCDDEEFF00112233445566778899AABBCCDD']", []store.Observable{ob("file:sha1", "aabbccddeeff00112233445566778899aabbccdd", ListSHA1, "aabbccddeeff00112233445566778899aabbccdd")}},
		"repeated value once": {"[ipv4-addr:value = '198.51.100.1'] OR [ipv4-addr:value = '198.51.100.1']", []store.Observable{ob("ipv4-addr", "198.51.100.1", ListIPv4, "198.51.100.1")}},
		"e-mail":              {"[email-addr:value = 'Bad@Example.com']", []store.Observable{ob("email-addr", "bad@example.com", "", "")}},
		"not a pattern":       {"alert tcp any any -> any any", nil},
	} {
		t.Run(name, func(t *testing.T) {
			if got := FromPattern(tc.pattern); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOf(t *testing.T) {
	ind := `{"type":"indicator","pattern_type":"stix","pattern":"[ipv4-addr:value = '198.51.100.7']","revoked":true,"valid_until":"2030-01-02T03:04:05Z"}`
	got := Of([]byte(ind))
	if len(got) != 1 || !got[0].Revoked || got[0].ValidUntil != 1893553445000000 || got[0].Value != "198.51.100.7" {
		t.Errorf("Of(indicator) = %+v", got)
	}
	for name, raw := range map[string]string{
		"sigma":    `{"type":"indicator","pattern_type":"sigma","pattern":"title: x"}`,
		"yara":     `{"type":"indicator","pattern_type":"yara","pattern":"rule x { condition: true }"}`,
		"malware":  `{"type":"malware","name":"x","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix"}`,
		"not JSON": `{`,
		"bad STIX": `{"type":"indicator","pattern_type":"stix","pattern":"[ipv4-addr:value = ]"}`,
	} {
		if got := Of([]byte(raw)); got != nil {
			t.Errorf("%s: %+v", name, got)
		}
	}
}
