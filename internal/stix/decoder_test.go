package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// item is one result of Decoder.Next.
type item struct {
	raw   string
	index int
	err   error
}

// decodeAll runs a decoder to the end (or its fatal error) and returns every result.
func decodeAll(t *testing.T, d *Decoder) []item {
	t.Helper()
	var out []item
	for range 100_000 {
		raw, idx, err := d.Next()
		if err == io.EOF {
			return out
		}
		out = append(out, item{string(raw), idx, err})
		var ee *ElementError
		if err != nil && !errors.As(err, &ee) {
			// Fatal: it must stick.
			if _, _, again := d.Next(); again != err {
				t.Fatalf("fatal error not repeated: %v then %v", err, again)
			}
			return out
		}
	}
	t.Fatal("decoder does not end")
	return nil
}

// readers yields the same input through readers that cut it differently,
// so buffer boundaries fall everywhere.
func readers(s string) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(s) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":    func() io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"dataerr": func() io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
	}
}

const (
	objA = `{"type":"identity","id":"identity--1", "name" : "A \u00e9 \"q\"" }`
	objB = "{\n  \"type\": \"indicator\",\n  \"list\": [1, 2.5e3, -0, true, false, null, {}, []]\n}"
	objC = `{"type":"x-c","objects":{"0":{"type":"file"}}}`
)

func TestDecoderFormats(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"bundle", `{"type":"bundle","id":"bundle--1","objects":[` + objA + `,` + objB + `]}`, []string{objA, objB}},
		{"bundle with objects first", `{"objects":[` + objA + `],"type":"bundle","id":"bundle--1"}`, []string{objA}},
		{"envelope", `{"more":false,"objects":[ ` + objA + " ,\n" + objB + ` ],"next":"x"}`, []string{objA, objB}},
		{"array", "[\n" + objA + ",\n" + objB + "\n]", []string{objA, objB}},
		{"single object", "\n" + objB + "\n", []string{objB}},
		{"single object with an objects dictionary", objC, []string{objC}},
		{"ndjson", objA + "\n" + objC + "\r\n" + objA + "\n", []string{objA, objC, objA}},
		{"concatenated containers", `[` + objA + `] {"objects":[` + objC + `]} ` + objB, []string{objA, objC, objB}},
		{"empty bundle", `{"type":"bundle","id":"bundle--1"}`, nil},
		{"empty array", `[]`, nil},
		{"empty envelope", `{"objects":[]}`, nil},
		{"empty input", " \n\t", nil},
		{"byte order mark", "\xef\xbb\xbf" + objA, []string{objA}},
		{"non-ASCII", `[{"name":"Heizölrückstoßabdämpfung 🦀"}]`, []string{`{"name":"Heizölrückstoßabdämpfung 🦀"}`}},
	}
	for _, tc := range tests {
		for rname, mk := range readers(tc.in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				got := decodeAll(t, NewDecoder(mk(), Limits{}))
				if len(got) != len(tc.want) {
					t.Fatalf("got %d results %v, want %d", len(got), got, len(tc.want))
				}
				for i, it := range got {
					if it.err != nil || it.raw != tc.want[i] || it.index != i {
						t.Errorf("result %d = %q (index %d, err %v), want %q exactly", i, it.raw, it.index, it.err, tc.want[i])
					}
				}
			})
		}
	}
}

func TestDecoderElementErrors(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 200) + `"}`
	deep := `{"a":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`
	wide := `{"a":1,"b":2,"c":3,"d":4,"e":5}`
	lim := Limits{MaxObjectSize: 100, MaxDepth: 10, MaxProperties: 4}
	tests := []struct {
		name     string
		in       string
		kind     error // of the element error at index 1
		contains string
	}{
		{"not an object", `[` + objA + `, "text", ` + objA + `]`, ErrNotObject, "not a JSON object"},
		{"too large", `[` + objA + `,` + big + `,` + objA + `]`, ErrLimit, "larger than 100 bytes"},
		{"too deep", `[` + objA + `,` + deep + `,` + objA + `]`, ErrLimit, "deeper than 10"},
		{"too many properties", `[` + objA + `,` + wide + `,` + objA + `]`, ErrLimit, "more than 4 properties"},
		{"invalid UTF-8", "[" + objA + ",{\"a\":\"\xff\"}," + objA + "]", ErrInvalidUTF8, "invalid UTF-8"},
		{"bad NDJSON line", objA + "\n" + `{"type": nope}` + "\n" + objA + "\n", ErrNotJSON, "invalid JSON"},
		{"truncated NDJSON line", objA + "\n" + `{"type": "x", "name": "cut` + "\n" + objA + "\n", ErrNotJSON, "control character"},
		{"NDJSON line cut after a value", objA + "\n" + `{"type": "x"` + "\n" + objA + "\n", ErrNotJSON, "expected ',' or '}'"},
		{"large NDJSON line", objA + "\n" + big + "\n" + objA, ErrLimit, "larger than"},
	}
	for _, tc := range tests {
		for rname, mk := range readers(tc.in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				got := decodeAll(t, NewDecoder(mk(), lim))
				if len(got) != 3 {
					t.Fatalf("got %d results %v, want 3", len(got), got)
				}
				if got[0].raw != objA || got[2].raw != objA || got[2].index != 2 {
					t.Fatalf("neighbours of the bad element: %v", got)
				}
				var ee *ElementError
				if !errors.As(got[1].err, &ee) || !errors.Is(got[1].err, tc.kind) || ee.Index != 1 || got[1].index != 1 {
					t.Fatalf("element 1: %v, want an *ElementError of kind %v at index 1", got[1].err, tc.kind)
				}
				if !strings.Contains(ee.Reason, tc.contains) {
					t.Fatalf("reason %q lacks %q", ee.Reason, tc.contains)
				}
			})
		}
	}
}

func TestDecoderFatalErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		kind     error
		contains string
		before   int // objects returned before the error
	}{
		{"garbage", `<{}>`, ErrNotJSON, "not STIX JSON", 0},
		{"scalar", `"text"`, ErrNotJSON, "not STIX JSON", 0},
		{"syntax in an array", `[` + objA + `, {"a" 1}]`, ErrNotJSON, "expected ':'", 1},
		{"trailing comma", `[` + objA + `,]`, ErrNotJSON, "expected a JSON value", 1},
		{"missing comma", `[` + objA + ` ` + objA + `]`, ErrNotJSON, "expected ',' or ']'", 1},
		{"truncated bundle", `{"type":"bundle","objects":[` + objA + `,{"type":"x"`, ErrTruncated, "truncated", 1},
		{"truncated literal", `[` + objA + `,{"a":tr`, ErrTruncated, "truncated", 1},
		{"broken pretty object", "{\n  \"type\": \"x\",\n}\n", ErrNotJSON, "expected a property name", 0},
		{"objects in a non-bundle", `{"objects":[` + objA + `],"type":"report"}`, ErrNotEnvelope, `type "report"`, 1},
		{"bundle objects not an array", `{"type":"bundle","objects":{}}`, ErrObjectsNotArray, "not an array", 0},
		{"bundle objects not an array, type last", `{"objects":5,"type":"bundle"}`, ErrObjectsNotArray, "not an array", 0},
		{"duplicate objects", `{"objects":[],"objects":[]}`, ErrNotJSON, "duplicate objects", 0},
		{"invalid UTF-8 in a container key", "{\"\xff\":1,\"objects\":[]}", ErrInvalidUTF8, "invalid UTF-8", 0},
		{"bad escape", `[{"a":"\x"}]`, ErrNotJSON, `invalid escape`, 0},
		{"bad number", `[{"a":01}]`, ErrNotJSON, "expected ',' or '}'", 0},
	}
	for _, tc := range tests {
		for rname, mk := range readers(tc.in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				got := decodeAll(t, NewDecoder(mk(), Limits{}))
				if len(got) != tc.before+1 {
					t.Fatalf("got %v, want %d objects then an error", got, tc.before)
				}
				err := got[tc.before].err
				var de *DecodeError
				if !errors.As(err, &de) || !errors.Is(err, tc.kind) || !strings.Contains(de.Reason, tc.contains) {
					t.Fatalf("got %v, want a *DecodeError of kind %v containing %q", err, tc.kind, tc.contains)
				}
				if de.Line < 1 || de.Offset < 0 || de.Offset > int64(len(tc.in)) {
					t.Fatalf("position line %d offset %d", de.Line, de.Offset)
				}
			})
		}
	}
}

func TestDecoderErrorPosition(t *testing.T) {
	in := "[\n" + objA + ",\n  {\"a\" 1}\n]"
	got := decodeAll(t, NewDecoder(strings.NewReader(in), Limits{}))
	var de *DecodeError
	if len(got) != 2 || !errors.As(got[1].err, &de) {
		t.Fatalf("got %v", got)
	}
	if de.Line != 3 || de.Offset != int64(strings.Index(in, "1}")) {
		t.Errorf("error at line %d offset %d, want line 3 offset %d", de.Line, de.Offset, strings.Index(in, "1}"))
	}
	if !strings.HasPrefix(de.Error(), "line 3 (offset ") {
		t.Errorf("Error() = %q", de.Error())
	}
}

func TestDecoderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(`[`+objA+`,`), iotest.ErrReader(boom))
	got := decodeAll(t, NewDecoder(r, Limits{}))
	if len(got) != 2 || got[0].raw != objA || !errors.Is(got[1].err, boom) {
		t.Fatalf("got %v, want one object then the read error", got)
	}
}

func TestEnvelopeDecoder(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		kind     error
		contains string
		objects  int
	}{
		{"envelope", `{"objects":[` + objA + `,` + objB + `],"more":false}`, nil, "", 2},
		{"empty body", ``, ErrNotJSON, "empty", 0},
		{"not JSON", `hello`, ErrNotJSON, "not JSON", 0},
		{"truncated", `{"objects":[` + objA, ErrTruncated, "truncated", 1},
		{"no objects: an empty envelope", `{"more":false}`, nil, "", 0},
		{"empty envelope", `{}`, nil, "", 0},
		{"objects not an array", `{"objects":{"a":1}}`, ErrObjectsNotArray, "objects is not an array", 0},
		{"array body", `[` + objA + `]`, ErrNotEnvelope, "JSON array", 0},
		{"a bundle", `{"type":"bundle","objects":[` + objA + `]}`, ErrNotEnvelope, `"type": "bundle"`, 0},
		{"data after the envelope", `{"objects":[]} {"objects":[]}`, ErrNotJSON, "after the envelope", 0},
		{"invalid UTF-8 outside objects", "{\"\xff\":1,\"objects\":[]}", ErrInvalidUTF8, "invalid UTF-8", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAll(t, NewEnvelopeDecoder(strings.NewReader(tc.in), Limits{}))
			if tc.kind == nil {
				if len(got) != tc.objects {
					t.Fatalf("got %v", got)
				}
				return
			}
			if len(got) != tc.objects+1 {
				t.Fatalf("got %v, want %d objects then an error", got, tc.objects)
			}
			err := got[tc.objects].err
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("got %v, want a *DecodeError of kind %v containing %q", err, tc.kind, tc.contains)
			}
		})
	}

	// Element problems concern one element and name it as objects[i].
	in := "{\"objects\":[" + objA + ",7,{\"a\":\"\xff\"}," + objA + "]}"
	got := decodeAll(t, NewEnvelopeDecoder(strings.NewReader(in), Limits{}))
	if len(got) != 4 || got[0].err != nil || got[3].err != nil {
		t.Fatalf("got %v", got)
	}
	if !errors.Is(got[1].err, ErrNotObject) || !strings.HasPrefix(got[1].err.Error(), "objects[1] ") {
		t.Errorf("element 1: %v", got[1].err)
	}
	if !errors.Is(got[2].err, ErrInvalidUTF8) || !strings.HasPrefix(got[2].err.Error(), "objects[2] ") {
		t.Errorf("element 2: %v", got[2].err)
	}
}

func TestLimitsZeroMeansNone(t *testing.T) {
	got := Limits{MaxObjectSize: 0, MaxDepth: -1, MaxProperties: 7}.normalized()
	if got != (Limits{math.MaxInt, math.MaxInt, 7}) {
		t.Errorf("normalized = %+v", got)
	}
	// Without limits, a large, deep and wide object is read whole.
	in := `[{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `,"b":"` + strings.Repeat("x", 20<<20) + `"}]`
	if got := decodeAll(t, NewDecoder(strings.NewReader(in), Limits{})); len(got) != 1 || got[0].err != nil {
		t.Fatalf("decoded %d elements, first error %v", len(got), got[0].err)
	}
}

// bundleReader produces a bundle of n indicators on the fly, so a test can
// decode far more data than it ever holds.
type bundleReader struct {
	n, i int
	buf  bytes.Buffer
	done bool
}

func (b *bundleReader) Read(p []byte) (int, error) {
	for b.buf.Len() < len(p) && !b.done {
		switch {
		case b.i == 0:
			b.buf.WriteString(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[`)
		case b.i > b.n:
			b.buf.WriteString("]}")
			b.done = true
			continue
		default:
			if b.i > 1 {
				b.buf.WriteByte(',')
			}
			b.buf.Write(realisticIndicator(b.i))
		}
		b.i++
	}
	if b.buf.Len() == 0 {
		return 0, io.EOF
	}
	return b.buf.Read(p)
}

func TestDecoderStreamsInConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes ~95 MB")
	}
	n := 90_000 // about 95 MB of JSON
	if raceEnabled {
		n = 30_000
	}
	d := NewDecoder(&bundleReader{n: n}, Limits{})
	var ms runtime.MemStats
	var peak uint64
	var bytesSeen int
	for i := 0; ; i++ {
		raw, idx, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil || idx != i {
			t.Fatalf("object %d: index %d, %v", i, idx, err)
		}
		bytesSeen += len(raw)
		if i%5000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if bytesSeen < n*1000 {
		t.Fatalf("decoded only %d bytes", bytesSeen)
	}
	if peak > 16<<20 {
		t.Errorf("heap reached %d MiB while streaming %d MiB", peak>>20, bytesSeen>>20)
	}
	t.Logf("streamed %d MiB with a peak live heap of %.1f MiB", bytesSeen>>20, float64(peak)/(1<<20))
}

func ExampleDecoder() {
	in := `{"type":"bundle","id":"bundle--1","objects":[{"type":"identity"}, 42, {"type":"tool"}]}`
	d := NewDecoder(strings.NewReader(in), Limits{})
	for {
		raw, i, err := d.Next()
		if err == io.EOF {
			break
		}
		var ee *ElementError
		if errors.As(err, &ee) {
			fmt.Println(i, "skipped:", ee.Reason)
			continue
		}
		if err != nil {
			fmt.Println("fatal:", err)
			break
		}
		fmt.Println(i, string(raw))
	}
	// Output:
	// 0 {"type":"identity"}
	// 1 skipped: not a JSON object
	// 2 {"type":"tool"}
}

// TestEnvelopePage: the envelope decoder reports more and next wherever they
// stand, escaped names and values included; absent, they are false and "".
func TestEnvelopePage(t *testing.T) {
	const obj = `{"type":"x-a","id":"x-a--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`
	for _, c := range []struct {
		name, in string
		more     bool
		next     string
		n        int
	}{
		{"after the objects", `{"objects":[` + obj + `,` + obj + `],"more":true,"next":"c2VjcmV0\/x"}`, true, "c2VjcmV0/x", 2},
		{"before the objects", `{"more":true,"next":"abc","objects":[` + obj + `]}`, true, "abc", 1},
		{"last page", `{"objects":[` + obj + `],"more":false}`, false, "", 1},
		{"empty", `{}`, false, "", 0},
		{"escaped names", `{"mor\u0065":true,"\u006eext":"x\u0041"}`, true, "xA", 0},
		{"other types ignored", `{"more":"yes","next":5}`, false, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewEnvelopeDecoder(strings.NewReader(c.in), Limits{})
			n := 0
			for {
				_, _, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			more, next := d.Page()
			if more != c.more || next != c.next || n != c.n {
				t.Fatalf("more=%v next=%q n=%d, want %v %q %d", more, next, n, c.more, c.next, c.n)
			}
		})
	}
	for _, in := range []string{`{"objects":[],"more":tru}`, "{\"next\":\"\xff\"}", "{\"x_other\":\"\xff\"}"} {
		bad := NewEnvelopeDecoder(strings.NewReader(in), Limits{})
		if _, _, err := bad.Next(); err == nil || err == io.EOF {
			t.Errorf("%q: %v, want an error", in, err)
		}
	}
}
