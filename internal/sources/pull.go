package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Sink takes what a pull brings: it ingests objs (already converted to STIX
// 2.1) under the source's provenance and commits watermark in the same
// transaction, so that a crash never leaves the watermark ahead of the objects
// it covers. Storing a version twice is harmless (it is "unchanged"), so a
// page re-pulled after a crash stores nothing twice.
type Sink interface {
	Commit(ctx context.Context, objs [][]byte, watermark string) (Counts, error)
}

// Counts is what a Sink did with one page.
type Counts struct {
	Stored, Unchanged, Conflicting, Rejected int
	// Samples are a few rejection reasons, "id: reason", for the source's record.
	Samples []string
}

// Retry bounds the retries of one request.
type Retry struct {
	Attempts int           // tries per request, the first included; 0: 5
	Base     time.Duration // first backoff of a 5xx or network failure; 0: 1s
	Max      time.Duration // cap of one wait, Retry-After included; 0: 5m
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Minute
	}
	return r
}

// backoff is the wait before try n+1 (n from 1): 429 waits what Retry-After
// says (or Base), everything else exponential from Base with full jitter so
// that replicas and sources that failed together do not retry together.
func (r Retry) backoff(n int, err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
		d := se.RetryAfter
		if d <= 0 {
			d = r.Base
		}
		return min(d, r.Max)
	}
	ceiling := r.Base << min(n-1, 20)
	if ceiling <= 0 || ceiling > r.Max {
		ceiling = r.Max
	}
	return ceiling/2 + rand.N(ceiling/2+1)
}

// Stats is what one run did.
type Stats struct {
	Pages       int
	Pulled      int // objects received
	Converted   int // STIX 2.0 objects rewritten as 2.1
	Stored      int
	Unchanged   int
	Conflicting int // same version, other content: the first stored stays
	Rejected    int
	Retries     int
	Conversions map[Conversion]int
	Samples     []string
	Watermark   string // the last committed watermark
	// Notes are the upstream's oddities the run worked around (a refused next,
	// missing headers), for the source's record.
	Notes []string
}

// Puller runs pulls of one upstream into one sink.
type Puller struct {
	Client *Client
	Sink   Sink
	Retry  Retry
	// MaxPages bounds one run; the next run goes on from the watermark. 0: 10000.
	MaxPages int
	// Sleep waits d or until ctx ends; nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

const maxSamples = 10

// Run pulls everything added upstream after watermark ("" for all) and
// returns what it did. It follows next while more is true, then re-polls with
// added_after set to the last X-TAXII-Date-Added-Last. An upstream that
// ignores next, refuses its own next, or sends no X-TAXII headers is still
// pulled completely: the fallback watermark is the newest date_added of the
// page's objects in the upstream's manifest, then their newest modified or
// created. Stats.Watermark is the last watermark committed, also on error.
func (p *Puller) Run(ctx context.Context, watermark string) (Stats, error) {
	st := Stats{Watermark: watermark, Conversions: map[Conversion]int{}}
	maxPages := p.MaxPages
	if maxPages <= 0 {
		maxPages = 10000
	}
	start := watermark // added_after of the request a next belongs to
	next := ""
	useNext := true // false once the upstream showed it ignores or refuses next
	for st.Pages < maxPages {
		page, err := p.fetch(ctx, &st, start, next)
		var se *StatusError
		if err != nil && next != "" && errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusTooManyRequests {
			st.note(fmt.Sprintf("upstream refused its own next (%d); re-polled with added_after", se.Status))
			next, start, useNext = "", st.Watermark, false
			continue
		}
		if err != nil {
			return st, err
		}
		st.Pages++
		if len(page.Objects) == 0 {
			return st, nil
		}
		objs := make([][]byte, 0, len(page.Objects))
		for _, raw := range page.Objects {
			st.Pulled++
			out, conv, err := Convert20(raw)
			if err != nil {
				// Kept as received: validation gives the reason.
				objs = append(objs, raw)
				continue
			}
			if len(conv) > 0 {
				st.Converted++
				for _, c := range conv {
					st.Conversions[c]++
				}
			}
			objs = append(objs, out)
		}
		wm, err := p.watermark(ctx, &st, page, objs)
		if err != nil {
			return st, err
		}
		progress := wm != "" && after(wm, st.Watermark)
		if !progress {
			wm = st.Watermark
		}
		c, err := p.Sink.Commit(ctx, objs, wm)
		if err != nil {
			return st, fmt.Errorf("store: %w", err)
		}
		st.Watermark = wm
		st.Stored += c.Stored
		st.Unchanged += c.Unchanged
		st.Conflicting += c.Conflicting
		st.Rejected += c.Rejected
		for _, s := range c.Samples {
			if len(st.Samples) < maxSamples {
				st.Samples = append(st.Samples, s)
			}
		}
		switch {
		case !page.More:
			return st, nil
		case !progress && next == "":
			// Re-polling from the same watermark would give the same page.
			st.note("upstream says more but its page does not advance the watermark; stopped")
			return st, nil
		case !progress:
			st.note("upstream's next gave no newer objects; re-polled with added_after")
			next, start, useNext = "", st.Watermark, false
		case page.Next != "" && useNext:
			next = page.Next
		default:
			next, start = "", st.Watermark
		}
	}
	return st, nil
}

func (s *Stats) note(n string) {
	for _, have := range s.Notes {
		if have == n {
			return
		}
	}
	s.Notes = append(s.Notes, n)
}

// fetch gets one page, retrying 429, 5xx and network failures.
func (p *Puller) fetch(ctx context.Context, st *Stats, addedAfter, next string) (*Page, error) {
	r := p.Retry.withDefaults()
	for n := 1; ; n++ {
		page, err := p.Client.Objects(ctx, addedAfter, next)
		if err == nil {
			return page, nil
		}
		if ctx.Err() != nil || n >= r.Attempts || !retryable(err) {
			return nil, err
		}
		st.Retries++
		if err := p.sleep(ctx, r.backoff(n, err)); err != nil {
			return nil, err
		}
	}
}

func (p *Puller) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// watermark is the position a page reaches: its X-TAXII-Date-Added-Last, else
// the newest date_added of its objects in the manifest, else their newest
// modified or created (a last resort: an upstream that adds an object with an
// older modified later may then be missed, which the note records).
func (p *Puller) watermark(ctx context.Context, st *Stats, page *Page, objs [][]byte) (string, error) {
	if page.Last != "" {
		return page.Last, nil
	}
	st.note("upstream sends no X-TAXII-Date-Added-Last; watermark from its manifest")
	ids := make(map[string]bool, len(objs))
	var newest string
	list := make([]string, 0, len(objs))
	for _, raw := range objs {
		var o struct{ ID, Created, Modified string }
		if json.Unmarshal(raw, &o) != nil || o.ID == "" {
			continue
		}
		if !ids[o.ID] {
			ids[o.ID] = true
			list = append(list, o.ID)
		}
		v := o.Modified
		if v == "" {
			v = o.Created
		}
		if v != "" && after(v, newest) {
			newest = v
		}
	}
	r := p.Retry.withDefaults()
	var entries []ManifestEntry
	var err error
	for n := 1; ; n++ {
		entries, err = p.Client.Manifest(ctx, st.Watermark, list)
		if err == nil || ctx.Err() != nil || n >= r.Attempts || !retryable(err) {
			break
		}
		st.Retries++
		if err := p.sleep(ctx, r.backoff(n, err)); err != nil {
			return "", err
		}
	}
	var best string
	if err == nil {
		for _, e := range entries {
			if ids[e.ID] && e.DateAdded != "" && after(e.DateAdded, best) {
				best = e.DateAdded
			}
		}
	}
	if best != "" {
		return best, nil
	}
	st.note("upstream's manifest gives no date_added; watermark from the objects' modified (objects added later with an older modified can be missed)")
	return newest, nil
}

// after reports whether timestamp a is later than b ("" is before everything).
// Timestamps that do not parse compare as strings.
func after(a, b string) bool {
	if b == "" {
		return a != ""
	}
	ta, ea := time.Parse(time.RFC3339Nano, a)
	tb, eb := time.Parse(time.RFC3339Nano, b)
	if ea != nil || eb != nil {
		return a > b
	}
	return ta.After(tb)
}
