package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScanEnvelope(t *testing.T) {
	g := NewGenerator(3)
	page := string(g.AppendEnvelope(nil, 0, 3))
	page = page[:len(page)-1] + `,"more":true,"next":"c2VjcmV0\/x"}`
	for _, c := range []struct {
		name, in string
		more     bool
		next     string
		n        int
	}{
		{"page", page, true, "c2VjcmV0/x", 3},
		{"empty", `{}`, false, "", 0},
		{"last page", " {\"objects\": [ {\"id\":\"a--1\"} ] ,\n\"more\" : false}\n", false, "", 1},
		{"other members", `{"x":[1,-2.5e+3,null,{"a":[true]}],"objects":[],"more":false,"next":""}`, false, "", 0},
		{"escaped names", `{"mor\u0065":true,"\u006eext":"x"}`, true, "x", 0},
		{"unicode", `{"objects":[{"id":"a--\u00e9","name":"caf\u00e9 \"x\" é"}]}`, false, "", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var objs []string
			more, next, n, err := scanEnvelope([]byte(c.in), func(o []byte) error {
				objs = append(objs, string(o))
				return nil
			})
			if err != nil || more != c.more || next != c.next || n != c.n || len(objs) != c.n {
				t.Fatalf("got more=%v next=%q n=%d (%d objects) err=%v", more, next, n, len(objs), err)
			}
			// Each element is exactly what encoding/json sees.
			var env envelope
			if err := json.Unmarshal([]byte(c.in), &env); err != nil {
				t.Fatal(err)
			}
			for i, o := range env.Objects {
				if string(o) != objs[i] {
					t.Errorf("object %d: %s, want %s", i, objs[i], o)
				}
			}
		})
	}
}

func TestScanEnvelopeRejectsBadJSON(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{`, `{"objects":[}`, `{"objects":[{"a":1},]}`, `{"more":tru}`, `{"more":true,}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}",
		`{"a":"x}`, `{} {}`, `{"a" 1}`, `{"a":1 "b":2}`, `{a:1}`, "{\"a\":\"\xff\"}", `{"objects":[1 2]}`,
		`{"a":[1,2}`, `{"a":{"b":1]}`, `{"next":5}x`,
	} {
		if _, _, _, err := scanEnvelope([]byte(in), func([]byte) error { return nil }); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

// FuzzScanEnvelope: what the decoder accepts is a valid UTF-8 JSON object, and
// it finds the objects, more and next that encoding/json finds. (It refuses
// some valid JSON too: a "type" member, elements that are not objects.)
func FuzzScanEnvelope(f *testing.F) {
	f.Add(string(NewGenerator(1).AppendEnvelope(nil, 0, 2)))
	f.Add(`{"objects":[{"a":[1,{"b":null}]}],"more":true,"next":"n\u0041"}`)
	f.Add(`{"more":false}`)
	f.Fuzz(func(t *testing.T, in string) {
		n := 0
		more, next, count, err := scanEnvelope([]byte(in), func([]byte) error { n++; return nil })
		if err != nil {
			return
		}
		if !json.Valid([]byte(in)) || !utf8.ValidString(in) || !strings.HasPrefix(strings.TrimLeft(in, " \t\r\n"), "{") {
			t.Fatalf("%q: accepted, but it is not a JSON object", in)
		}
		if n < count {
			t.Fatalf("%q: %d callbacks, %d counted", in, n, count)
		}
		var env map[string]any // exact member names, the last of duplicates wins, as in the scanner
		if err := json.Unmarshal([]byte(in), &env); err != nil {
			t.Fatal(err)
		}
		if m, ok := env["more"].(bool); ok && m != more {
			t.Fatalf("%q: more=%v, want %v", in, more, m)
		}
		if s, ok := env["next"].(string); ok && s != next {
			t.Fatalf("%q: next=%q, want %q", in, next, s)
		}
		if objs, ok := env["objects"].([]any); ok && count != len(objs) {
			t.Fatalf("%q: %d objects, want %d", in, count, len(objs))
		}
	})
}
