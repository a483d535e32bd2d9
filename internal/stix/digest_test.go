package stix

import (
	"bytes"
	"testing"
)

func TestDigest(t *testing.T) {
	const base = `{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":true,"d":null}],"s":"A"}`
	same := []string{
		base,
		"{\n  \"s\": \"A\",\n  \"n\": [1, \"b\", {\"d\": null, \"c\": true}],\n  \"id\": \"x-a--1\", \"type\": \"x-a\"\n}",
		`{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":true,"d":null}],"s":"\u0041"}`,
	}
	other := []string{
		`{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":true,"d":null}],"s":"B"}`,   // a value
		`{"type":"x-a","id":"x-a--1","n":["b",1,{"c":true,"d":null}],"s":"A"}`,   // array order
		`{"type":"x-a","id":"x-a--1","n":[1.0,"b",{"c":true,"d":null}],"s":"A"}`, // a number as written
		`{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":true}],"s":"A"}`,            // a member less
		`{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":true,"d":null}],"s":["A"]}`, // a type
		`{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":"true","d":null}],"s":"A"}`, // true and "true"
		`{"type":"x-a","id":"x-a--1","n":[1,"b",{"c":true,"d":null,"e":""}],"s":"A"}`,
	}
	want, err := Digest([]byte(base))
	if err != nil || len(want) != DigestSize {
		t.Fatalf("Digest: %x, %v", want, err)
	}
	for _, s := range same {
		if got, _ := Digest([]byte(s)); !bytes.Equal(got, want) {
			t.Errorf("%s: other digest than %s", s, base)
		}
	}
	for _, s := range other {
		if got, _ := Digest([]byte(s)); bytes.Equal(got, want) {
			t.Errorf("%s: same digest as %s", s, base)
		}
	}
	if _, err := Digest([]byte(`{"a":`)); err == nil {
		t.Error("Digest of broken JSON: no error")
	}
}

// ValidateAll hands the digest of a valid object to the stores, the same as Digest's.
func TestValidateDigest(t *testing.T) {
	v, _ := validators(t)
	raw := []byte(`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","value":"10.0.0.1"}`)
	res := v.ValidateAll([][]byte{raw, []byte(`{"type":"ipv4-addr"}`)})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	want, _ := Digest(raw)
	if !bytes.Equal(res[0].Digest, want) {
		t.Fatalf("Result.Digest %x, Digest %x", res[0].Digest, want)
	}
	if res[1].Err == nil || res[1].Digest != nil {
		t.Errorf("an invalid object: %+v", res[1])
	}
}

// BenchmarkDigestIndicator is the share of BenchmarkValidateIndicator (which
// includes it) that the content digest takes: the walk of the parsed tree and
// SHA-256, without the parse.
func BenchmarkDigestIndicator(b *testing.B) {
	v := benchValidator(b)
	docs := make([]any, 256)
	for i := range docs {
		raw := realisticIndicator(i)
		doc, jerr := parseJSONNames(raw, v.lim, v.schemas.names)
		if jerr != nil {
			b.Fatal(jerr.msg)
		}
		docs[i] = doc
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	i := 0
	for b.Loop() {
		digestOf(docs[i%len(docs)])
		i++
	}
	reportRates(b, b.N, cpu0)
}
