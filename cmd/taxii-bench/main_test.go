package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/cmd/taxii-bench/internal/bench"
)

// TestQuickRun runs the whole benchmark on both stores with a tiny data set: it
// proves every figure is produced and the pulls are complete. It asserts no speed.
func TestQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := bench.BuildServer(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := []string{"-quick", "-n", "2000", "-pollers", "5", "-poll-time", "1s", "-store", store,
				"-server-bin", bin, "-json", jsonPath}
			if u := os.Getenv("TAXII_TEST_DATABASE_URL"); u != "" {
				args = append(args, "-pg", u)
			}
			var stdout, stderr bytes.Buffer
			if err := run(ctx, args, &stdout, &stderr); err != nil {
				t.Fatalf("taxii-bench: %v\n%s", err, stderr.String())
			}
			t.Logf("\n%s\n%s", stderr.String(), stdout.String())

			var rep bench.Report
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("-json wrote no report: %v", err)
			}
			if rep.Machine.Objects != n || rep.Machine.Store != store || rep.Machine.Cores < 1 || rep.Machine.GoVersion == "" {
				t.Errorf("machine: %+v", rep.Machine)
			}
			if store == "postgres" && rep.Machine.Postgres == "" {
				t.Error("no Postgres version")
			}

			want := []string{
				"import.command", "import.post",
				"pull.next.1000.rate", "pull.next.1000.mbps", "pull.next.10000.rate", "pull.next.10000.mbps",
				"pull.added_after.1000.rate", "pull.added_after.1000.mbps", "pull.added_after.10000.rate", "pull.added_after.10000.mbps",
				"deep_page.first", "deep_page.last", "deep_page.ratio",
				"pollers.5.p50", "pollers.5.p99", "pollers.5.rate", "pollers.5.import",
				"pollers.5.paced.p50", "pollers.5.paced.p99",
				"rss.pull", "rss.pollers.5",
				"baseline.rate", "baseline.mbps", "baseline.ratio.1000", "baseline.ratio.10000",
			}
			for _, key := range want {
				f, ok := rep.Figure(key)
				switch {
				case !ok:
					t.Errorf("figure %s is missing", key)
				case f.Missing != "":
					// Only the write API may be absent (it is being built).
					if key != "import.post" || f.Missing != "endpoint missing" {
						t.Errorf("figure %s: n/a (%s)", key, f.Missing)
					}
				case f.Value <= 0:
					t.Errorf("figure %s = %v %s, want > 0", key, f.Value, f.Unit)
				case f.Unit == "":
					t.Errorf("figure %s has no unit", key)
				}
				if ok && !strings.Contains(stdout.String(), f.Name) {
					t.Errorf("the table does not show %q", f.Name)
				}
			}

			if len(rep.Pulls) != 4 {
				t.Errorf("%d full pulls, want 4 (next and added_after, two limits, one run)", len(rep.Pulls))
			}
			for _, p := range rep.Pulls {
				if p.Objects != n || p.Duplicates != 0 {
					t.Errorf("pull %s returned %d objects, %d duplicates; want %d, none", p.Name, p.Objects, p.Duplicates, n)
				}
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "10"},
		{"-store", "mysql"},
		{"-pollers", "5,x"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
