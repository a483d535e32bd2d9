package stix

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reportRates reports objects per wall-clock second and, where the platform
// tells CPU time, per CPU-second: the machines benchmarks run on are shared
// and wall time is noisy.
func reportRates(b *testing.B, objects int, cpu0 time.Duration) {
	b.ReportMetric(float64(objects)/b.Elapsed().Seconds(), "indicators/s")
	if cpu := cpuTime(b) - cpu0; cpu > 0 {
		b.ReportMetric(float64(objects)/cpu.Seconds(), "indicators/cpu-s")
	}
}

// realisticIndicator is shaped like feed indicators (abuse.ch, MISP exports):
// a file hash or network pattern, markings, external references, kill chain.
func realisticIndicator(i int) []byte {
	patterns := []string{
		`[file:hashes.'SHA-256' = '%064x']`,
		`[ipv4-addr:value = '198.51.%d.%d'] AND [network-traffic:dst_port = 443]`,
		`[url:value = 'http://bad-%d.example.com/gate.php?id=%d']`,
		`[domain-name:value = 'c2-%d-%d.example.net' OR domain-name:value = 'cdn-%[1]d.example.org'] WITHIN 600 SECONDS`,
	}
	var pattern string
	switch k := i % len(patterns); k {
	case 0:
		pattern = fmt.Sprintf(patterns[k], i*7919+1)
	default:
		pattern = fmt.Sprintf(patterns[k], i%250, (i/250)%250)
	}
	return fmt.Appendf(nil, `{
  "type": "indicator",
  "spec_version": "2.1",
  "id": "indicator--%08x-7b20-41ef-9b59-6344fd872a8f",
  "created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
  "created": "2024-03-%02dT10:%02d:12.000Z",
  "modified": "2024-03-%02dT11:%02d:12.000Z",
  "name": "Malicious infrastructure %d",
  "description": "Observed in a phishing campaign delivering a loader; seen by several sensors.",
  "indicator_types": ["malicious-activity"],
  "pattern": %q,
  "pattern_type": "stix",
  "pattern_version": "2.1",
  "valid_from": "2024-03-01T00:00:00Z",
  "valid_until": "2025-03-01T00:00:00Z",
  "confidence": 80,
  "labels": ["c2", "loader"],
  "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
  "external_references": [{"source_name": "abuse.ch", "url": "https://feodotracker.abuse.ch/browse/", "external_id": "FT-%d"}],
  "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]
}`, i, i%28+1, i%60, i%28+1, i%60, i, pattern, i)
}

func benchValidator(b *testing.B) *Validator {
	b.Helper()
	v, err := NewValidator(Options{})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkValidateIndicator(b *testing.B) {
	v := benchValidator(b)
	raws := make([][]byte, 256)
	for i := range raws {
		raws[i] = realisticIndicator(i)
		if _, err := v.Validate(raws[i]); err != nil {
			b.Fatalf("fixture %d invalid: %v", i, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	i := 0
	for b.Loop() {
		if _, err := v.Validate(raws[i%len(raws)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRates(b, b.N, cpu0)
}

// BenchmarkValidateLayers keeps the claims of the package documentation
// ("Speed") checkable: the shipped validator beside the library-only path
// and beside the shipped one with each hand-written layer taken out.
// Compare the indicators/cpu-s of the sub-benchmarks.
func BenchmarkValidateLayers(b *testing.B) {
	compile := func(published, stdRegexp, fast bool) *Validator {
		cs, err := compileSchemasWith(published, stdRegexp)
		if err != nil {
			b.Fatal(err)
		}
		if !fast {
			for _, ts := range append(slices.Collect(maps.Values(cs.types)), cs.sdoCore, cs.scoCore) {
				ts.fast = &fastNode{unsupported: true} // always "unknown": the library decides
			}
		}
		return &Validator{lim: Limits{}.normalized(), schemas: cs}
	}
	stdJSON := func(v *Validator) func([]byte) error {
		return func(raw []byte) error {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				return err
			}
			_, err = v.validateDoc(doc)
			return err
		}
	}
	own := func(v *Validator) func([]byte) error {
		return func(raw []byte) error { _, err := v.Validate(raw); return err }
	}
	variants := []struct {
		name     string
		validate func([]byte) error
	}{
		{"shipped", own(compile(false, false, true))},
		{"library-only", stdJSON(compile(true, true, false))},
		{"without-fastschema", own(compile(false, false, false))},
		{"standard-regexp", own(compile(false, true, true))},
		{"encoding-json", stdJSON(compile(false, false, true))},
	}
	raws := make([][]byte, 256)
	for i := range raws {
		raws[i] = realisticIndicator(i)
	}
	for _, vr := range variants {
		b.Run(vr.name, func(b *testing.B) {
			for i, raw := range raws {
				if err := vr.validate(raw); err != nil {
					b.Fatalf("fixture %d invalid: %v", i, err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			i := 0
			for b.Loop() {
				if err := vr.validate(raws[i%len(raws)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportRates(b, b.N, cpu0)
		})
	}
}

func BenchmarkValidateAll(b *testing.B) {
	v := benchValidator(b)
	raws := make([][]byte, 10_000)
	for i := range raws {
		raws[i] = realisticIndicator(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		for _, r := range v.ValidateAll(raws) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	reportRates(b, b.N*len(raws), cpu0)
}

func BenchmarkParsePattern(b *testing.B) {
	patterns := []string{
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
		`[ipv4-addr:value = '198.51.100.3'] AND [network-traffic:dst_port = 443]`,
		`([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
		`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ParsePattern(patterns[i%len(patterns)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDecoder(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [`)
	for i := range 10_000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(realisticIndicator(i))
	}
	buf.WriteString("]}")
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(data), Limits{})
		n := 0
		for {
			_, _, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 10_000 {
			b.Fatalf("decoded %d objects", n)
		}
	}
}
