package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/stix"
)

// TestGeneratedIndicatorsAreValid proves the data set is what the server accepts:
// valid STIX 2.1 under the same validator as import, sized as real feed indicators.
func TestGeneratedIndicatorsAreValid(t *testing.T) {
	v, err := stix.NewValidator(stix.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGenerator(42)
	const n = 3000
	raws := make([][]byte, n)
	ids := make(map[string]bool, n)
	kinds := map[string]int{}
	withRefs, withKillChain := 0, 0
	for i := range raws {
		raws[i] = g.Append(nil, i*331) // spread over a million-object set
		if l := len(raws[i]); l < MinObjectSize || l > MaxObjectSize {
			t.Errorf("indicator %d is %d bytes, want %d-%d: %s", i, l, MinObjectSize, MaxObjectSize, raws[i])
		}
		var obj map[string]any
		if err := json.Unmarshal(raws[i], &obj); err != nil {
			t.Fatalf("indicator %d is not JSON: %v\n%s", i, err, raws[i])
		}
		ids[obj["id"].(string)] = true
		p := obj["pattern"].(string)
		kinds[p[1:strings.IndexByte(p, ':')]]++
		if _, ok := obj["external_references"]; ok {
			withRefs++
		}
		if _, ok := obj["kill_chain_phases"]; ok {
			withKillChain++
		}
		for _, key := range []string{"name", "description", "labels", "confidence", "created_by_ref", "valid_from"} {
			if _, ok := obj[key]; !ok {
				t.Errorf("indicator %d has no %s", i, key)
			}
		}
	}
	for i, r := range v.ValidateAll(raws) {
		if r.Err != nil {
			t.Errorf("indicator %d is invalid: %v\n%s", i, r.Err, raws[i])
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct ids among %d indicators", len(ids), n)
	}
	for _, k := range []string{"ipv4-addr", "domain-name", "url", "file"} {
		if kinds[k] < n/20 {
			t.Errorf("only %d %s patterns among %d: %v", kinds[k], k, n, kinds)
		}
	}
	if withRefs < n/10 || withRefs > n/2 {
		t.Errorf("%d of %d have external_references, want some but not all", withRefs, n)
	}
	if withKillChain < n/2 {
		t.Errorf("%d of %d have kill_chain_phases, want most", withKillChain, n)
	}
	t.Logf("pattern kinds: %v; with external_references: %d, with kill_chain_phases: %d", kinds, withRefs, withKillChain)
}

func TestGeneratorIsDeterministicAndIndexAddressable(t *testing.T) {
	a, b := NewGenerator(7), NewGenerator(7)
	// b produces the same indices in another order.
	want := make([][]byte, 100)
	for i := range want {
		want[i] = a.Append(nil, i)
	}
	for i := len(want) - 1; i >= 0; i-- {
		if got := b.Append(nil, i); !bytes.Equal(got, want[i]) {
			t.Fatalf("indicator %d differs between runs:\n%s\n%s", i, got, want[i])
		}
	}
	if other := NewGenerator(8).Append(nil, 0); bytes.Equal(other, want[0]) {
		t.Error("another seed gives the same indicator")
	}
}

func TestWriteLinesStreams(t *testing.T) {
	g := NewGenerator(1)
	var buf bytes.Buffer
	n, err := g.WriteLines(&buf, 10, 500)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteLines reported %d bytes, wrote %d", n, buf.Len())
	}
	sc := bufio.NewScanner(&buf)
	lines := 0
	for sc.Scan() {
		if !bytes.Equal(sc.Bytes(), NewGenerator(1).Append(nil, 10+lines)) {
			t.Fatalf("line %d is not indicator %d", lines, 10+lines)
		}
		lines++
	}
	if lines != 500 {
		t.Errorf("%d lines, want 500", lines)
	}

	env := g.AppendEnvelope(nil, 0, 3)
	var e struct{ Objects []json.RawMessage }
	if err := json.Unmarshal(env, &e); err != nil || len(e.Objects) != 3 {
		t.Fatalf("envelope: %v, %d objects", err, len(e.Objects))
	}

	// The decoder import uses reads the lines back.
	buf.Reset()
	if _, err := g.WriteLines(&buf, 0, 50); err != nil {
		t.Fatal(err)
	}
	dec := stix.NewDecoder(&buf, stix.Limits{})
	count := 0
	for {
		_, _, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 50 {
		t.Errorf("decoder read %d objects, want 50", count)
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := NewGenerator(1)
	var buf []byte
	i := 0
	for b.Loop() {
		buf = g.Append(buf[:0], i)
		i++
	}
	b.SetBytes(int64(len(buf)))
}
