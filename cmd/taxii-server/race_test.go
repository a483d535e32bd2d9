package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// indicator returns one valid indicator with an id derived from (writer, n).
func indicator(writer, n int) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-%04d-4000-8000-000000000000",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",`+
		`"pattern":"[domain-name:value = 'w%d-%d.example.com']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
		n, writer, writer, n)
}

func post(t *testing.T, url, key, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.SetBasicAuth("writer", key)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	var st struct {
		Status       string `json:"status"`
		SuccessCount int    `json:"success_count"`
		TotalCount   int    `json:"total_count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusAccepted || st.SuccessCount != st.TotalCount {
		t.Errorf("POST: %d %+v %v", resp.StatusCode, st, err)
	}
}

// poller is a Sentinel-like consumer: it follows next while more is true and,
// when the feed is drained, re-polls from the last X-TAXII-Date-Added-Last.
type poller struct {
	feedURL    string
	key        string
	limit      int
	useNext    bool
	addedAfter string
	next       string
	seen       map[string]int
}

// poll fetches one page and reports whether it held any object.
func (p *poller) poll(t *testing.T) bool {
	url := fmt.Sprintf("%s?limit=%d", p.feedURL, p.limit)
	if p.next != "" {
		url += "&next=" + p.next
	} else if p.addedAfter != "" {
		url += "&added_after=" + p.addedAfter
	}
	resp, body := get(t, url, p.key)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("poll %s: %d %s", url, resp.StatusCode, body)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("poll: %v: %s", err, body)
	}
	for _, id := range ids(t, env.Objects) {
		p.seen[id]++
	}
	if last := resp.Header.Get("X-TAXII-Date-Added-Last"); last != "" {
		p.addedAfter = last
	}
	p.next = ""
	if p.useNext && env.More {
		p.next = env.Next
	}
	return len(env.Objects) > 0
}

// TestPollersRacingWriters: while writers post and import concurrently, pollers using
// next and added_after each end up with every object exactly once.
func TestPollersRacingWriters(t *testing.T) {
	const writers, batches, perBatch = 3, 12, 40
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			base, _ := b.serve()
			feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "race", "--types", "indicator", "--writable"))
			wkey := strings.TrimSpace(b.must("", "key", "create", "--name", "producer", "--role", "read-write"))
			rkey := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel", "--role", "read-only"))
			feedURL := base + "/api/v2/inthreat/taxii-server/collections/" + feed + "/objects/"

			var wg sync.WaitGroup
			var writing atomic.Int32
			writing.Store(writers + 1)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					defer writing.Add(-1)
					for i := 0; i < batches; i++ {
						objs := make([]string, perBatch)
						for j := range objs {
							objs[j] = indicator(w, i*perBatch+j)
						}
						post(t, feedURL, wkey, `{"objects":[`+strings.Join(objs, ",")+`]}`)
					}
				}(w)
			}
			// One more writer through the import command, in its own store connection.
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer writing.Add(-1)
				dir := t.TempDir()
				for i := 0; i < batches; i++ {
					var lines []string
					for j := 0; j < perBatch; j++ {
						lines = append(lines, indicator(writers, i*perBatch+j))
					}
					file := filepath.Join(dir, fmt.Sprintf("%d.jsonl", i))
					if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
						t.Error(err)
						return
					}
					if _, stderr, err := b.run(context.Background(), "", "import", file); err != nil {
						t.Errorf("import: %v %s", err, stderr)
					}
				}
			}()

			var pollers []*poller
			for i, limit := range []int{7, 50, 13, 100} {
				pollers = append(pollers, &poller{feedURL: feedURL, key: rkey, limit: limit, useNext: i%2 == 0, seen: map[string]int{}})
			}
			var pw sync.WaitGroup
			for _, p := range pollers {
				pw.Add(1)
				go func(p *poller) {
					defer pw.Done()
					for writing.Load() > 0 {
						if !p.poll(t) {
							time.Sleep(5 * time.Millisecond)
						}
					}
					for p.poll(t) || p.next != "" { // drain what was committed last
					}
				}(p)
			}
			wg.Wait()
			pw.Wait()

			want := (writers + 1) * batches * perBatch
			for i, p := range pollers {
				missed, dup := 0, 0
				for w := 0; w <= writers; w++ {
					for n := 0; n < batches*perBatch; n++ {
						id := fmt.Sprintf("indicator--%08d-%04d-4000-8000-000000000000", n, w)
						switch p.seen[id] {
						case 0:
							missed++
						case 1:
						default:
							dup++
						}
					}
				}
				if missed != 0 || dup != 0 || len(p.seen) != want {
					t.Errorf("poller %d (limit %d, next %t): %d missed, %d duplicated, %d distinct of %d",
						i, p.limit, p.useNext, missed, dup, len(p.seen), want)
				}
			}
		})
	}
}
