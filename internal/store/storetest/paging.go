package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func exercisePaging(t *testing.T, setup setupFunc) {
	t.Run("ManyObjectsAddedInOneCallPageWithoutLossOrRepeat", func(t *testing.T) {
		s, ctx := setup(t)
		const n = 3_000
		objs := make([]store.Object, n)
		for i := range objs {
			typ := "indicator"
			if i%3 == 0 {
				typ = "malware"
			}
			objs[i] = object(objectID(typ, i), "2021-01-01T00:00:00Z", "")
		}
		out := add(t, ctx, s, objs...)

		for _, limit := range []int{13, 100, n, n + 1} {
			for _, byAddedAfter := range []bool{false, true} {
				t.Run(fmt.Sprintf("Limit%d/ByAddedAfter=%v", limit, byAddedAfter), func(t *testing.T) {
					rows := pageAll(t, ctx, s, store.Query{Limit: limit}, byAddedAfter)
					if len(rows) != n {
						t.Fatalf("paged %d rows, want %d", len(rows), n)
					}
					for i, r := range rows {
						if r.ID != objs[i].ID || r.DateAdded != out[i].DateAdded {
							t.Fatalf("row %d = %s at %d, want %s at %d", i, r.ID, r.DateAdded, objs[i].ID, out[i].DateAdded)
						}
					}
				})
			}
		}

		t.Run("WithAFilter", func(t *testing.T) {
			rows := pageAll(t, ctx, s, store.Query{Types: []string{"malware"}, Limit: 9}, false)
			if len(rows) != n/3 {
				t.Fatalf("paged %d malware, want %d", len(rows), n/3)
			}
			for i, r := range rows {
				if r.ID != objs[3*i].ID {
					t.Fatalf("row %d = %s, want %s", i, r.ID, objs[3*i].ID)
				}
			}
		})
	})

	t.Run("ResumingFromAnyPageLastGivesTheRest", func(t *testing.T) {
		s, ctx := setup(t)
		for i := range 50 {
			add(t, ctx, s, object(objectID("indicator", i), "2021-01-01T00:00:00Z", ""))
		}
		full := pageAll(t, ctx, s, store.Query{Limit: 1000}, false)
		for _, byAddedAfter := range []bool{false, true} {
			if got := pageAll(t, ctx, s, store.Query{Limit: 1}, byAddedAfter); !slices.Equal(refs(got), refs(full)) {
				t.Fatalf("paging one by one (by AddedAfter: %v) gave %d rows, want the %d in order", byAddedAfter, len(got), len(full))
			}
		}
		for i := range full {
			_, rest := scan(t, ctx, s, store.Query{AddedAfter: full[i].DateAdded, Limit: 1000})
			if len(rest) != len(full)-i-1 {
				t.Fatalf("after row %d: %d rows, want %d", i, len(rest), len(full)-i-1)
			}
		}
	})
}

// exerciseConcurrency proves the date_added guarantee under load: writers commit
// concurrently while pollers page with After and re-poll with AddedAfter; every
// poller must see every object exactly once. A store whose date_added could
// commit out of order (a sequence, or the wall clock alone) loses objects here.
func exerciseConcurrency(t *testing.T, setup setupFunc) {
	s, ctx := setup(t)
	const (
		writers      = 4
		callsEach    = 30
		pollers      = 4
		pollersLimit = 7
	)
	var (
		wg      sync.WaitGroup
		total   atomic.Int64
		written = make(chan struct{})
		errs    = make(chan error, writers+pollers)
	)
	for w := range writers {
		wg.Go(func() {
			for c := range callsEach {
				batch := make([]store.Object, 1+(w+c)%9)
				for i := range batch {
					batch[i] = object(objectID("indicator", w*1_000_000+c*100+i), "2021-01-01T00:00:00Z", "")
				}
				if _, err := s.AddObjects(ctx, batch); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				total.Add(int64(len(batch)))
			}
		})
	}

	seen := make([]map[string]int, pollers)
	var pwg sync.WaitGroup
	for p := range pollers {
		seen[p] = map[string]int{}
		pwg.Go(func() {
			q := store.Query{Limit: pollersLimit}
			if p < 2 {
				q.Versions = all
			}
			byAddedAfter := p%2 == 1
			var last int64
			finished := false
			for {
				select {
				case <-written:
					finished = true
				default:
				}
				page, err := poll(ctx, s, q, seen[p], last)
				if err != nil {
					errs <- fmt.Errorf("poller %d: %w", p, err)
					return
				}
				if page.Count > 0 {
					last = page.Last
					if byAddedAfter {
						q.AddedAfter = last
					} else {
						q.After = last
					}
				}
				// After the writers are done, drain once more to the end.
				if finished && !page.More {
					return
				}
			}
		})
	}
	wg.Wait()
	close(written)
	pwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	want := int(total.Load())
	for p, ids := range seen {
		missed, repeated := 0, 0
		for w := range writers {
			for c := range callsEach {
				for i := range 1 + (w+c)%9 {
					switch ids[objectID("indicator", w*1_000_000+c*100+i)] {
					case 0:
						missed++
					case 1:
					default:
						repeated++
					}
				}
			}
		}
		if missed != 0 || repeated != 0 || len(ids) != want {
			t.Errorf("poller %d: saw %d distinct of %d objects, %d missed, %d repeated", p, len(ids), want, missed, repeated)
		}
	}
}

// poll reads one page into seen and checks that it starts after last: a row at
// or before a position already passed would mean date_added went backwards.
func poll(ctx context.Context, s store.Store, q store.Query, seen map[string]int, last int64) (store.Page, error) {
	var page store.Page
	prev := last
	err := s.ScanObjects(ctx, q,
		func(p store.Page) error { page = p; return nil },
		func(r store.Row) error {
			if r.DateAdded <= prev {
				return fmt.Errorf("row %s at %d after position %d", r.ID, r.DateAdded, prev)
			}
			prev = r.DateAdded
			seen[r.ID]++
			return nil
		})
	return page, err
}
