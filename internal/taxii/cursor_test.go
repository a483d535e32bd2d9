package taxii

import (
	"errors"
	"testing"
)

func testCodec(t testing.TB) cursorCodec {
	t.Helper()
	c, err := newCursorCodec([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCursorRoundTrip(t *testing.T) {
	c := testCodec(t)
	b1 := newBinder().str("feed").str("objects").list([]string{"a"}).sum()
	b2 := newBinder().str("feed").str("objects").list([]string{"a", ""}).sum()
	if b1 == b2 {
		t.Fatal("different field lists bind alike")
	}
	if newBinder().str("ab").str("c").sum() == newBinder().str("a").str("bc").sum() {
		t.Fatal("field boundaries are not part of the binding")
	}
	tok := c.encode(1_767_225_600_123_456, b1)
	if len(tok) != 76 {
		t.Fatalf("cursor is %d characters", len(tok))
	}
	pos, err := c.decode(tok, b1)
	if err != nil || pos != 1_767_225_600_123_456 {
		t.Fatalf("decode: %d, %v", pos, err)
	}
	if _, err := c.decode(tok, b2); !errors.Is(err, errCursorForeign) {
		t.Fatalf("other binding: %v", err)
	}
	if _, err := newCursorCodec([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}

func FuzzCursorDecode(f *testing.F) {
	c := testCodec(f)
	b := newBinder().str("x").sum()
	f.Add(c.encode(42, b))
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, tok string) {
		pos, err := c.decode(tok, b)
		if err == nil && (pos <= 0 || c.encode(pos, b) != tok) {
			t.Fatalf("accepted %q as position %d", tok, pos)
		}
	})
}

func FuzzAcceptsTAXII(f *testing.F) {
	for _, s := range []string{"", "*/*", MediaTypeTAXII, "application/taxii+json;q=0", "text/html;;;=", `a/b;c="`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		_ = acceptable([]string{accept}, taxii21, stix21)
	})
}

func FuzzParseVersions(f *testing.F) {
	for _, s := range []string{"last", "all,first", "2026-01-01T00:00:00Z", "first,2026-01-01T00:00:00.123456789Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		vals, err := matchList(map[string][]string{"match[version]": {v}}, "version", 100)
		if err != nil {
			t.Fatal(err)
		}
		m, keys, err := parseVersions(vals)
		if err == nil && !m.All && !m.First && !m.Last && len(m.Times) == 0 {
			t.Fatalf("%q selects nothing: %+v %v", v, m, keys)
		}
	})
}

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:           `"plain"`,
		`q"b\`:            `"q\"b\\"`,
		"tab\tnl\n\x01":   `"tab\u0009nl\u000a\u0001"`,
		"café ☕":          `"café ☕"`,
		"bad\xffutf8":     `"bad\ufffdutf8"`,
		"\u2028 is valid": "\"\u2028 is valid\"",
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}
