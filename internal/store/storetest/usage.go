package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

func exerciseUsage(t *testing.T, setup setupFunc) {
	const (
		keyA  = "11111111-2222-4333-8444-55555555a001"
		keyB  = "11111111-2222-4333-8444-55555555b002"
		feed1 = "6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001"
		feed2 = "6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d002"
	)
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	hour := func(d, h int) time.Time { return day.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
	poll := func(d, h, min int) time.Time {
		return hour(d, h).Add(time.Duration(min)*time.Minute + 123456*time.Microsecond)
	}
	add := func(t *testing.T, s store.Store, rows ...store.UsageRow) {
		t.Helper()
		if err := s.AddUsage(t.Context(), rows); err != nil {
			t.Fatalf("AddUsage: %v", err)
		}
	}
	totals := func(t *testing.T, s store.Store, since time.Time, by store.UsageGroup) []store.UsageTotal {
		t.Helper()
		got, err := s.UsageTotals(t.Context(), since, by)
		if err != nil {
			t.Fatalf("UsageTotals: %v", err)
		}
		return got
	}
	same := func(t *testing.T, got, want []store.UsageTotal) {
		t.Helper()
		if !slices.EqualFunc(got, want, func(a, b store.UsageTotal) bool {
			return a.KeyID == b.KeyID && a.FeedID == b.FeedID && a.Requests == b.Requests && a.Polls == b.Polls &&
				a.Objects == b.Objects && a.Bytes == b.Bytes && a.LastPoll.Equal(b.LastPoll) && a.LastAddedAfter == b.LastAddedAfter
		}) {
			t.Fatalf("totals\n got %+v\nwant %+v", got, want)
		}
	}

	t.Run("AddsToTheHourAndKeepsTheLaterPoll", func(t *testing.T) {
		s, _ := setup(t)
		// The later poll is flushed first, as a slower replica would: its added_after stays.
		add(t, s, store.UsageRow{Hour: hour(0, 5), KeyID: keyA, FeedID: feed1, Requests: 2, Polls: 2, Objects: 30, Bytes: 3000,
			LastPoll: poll(0, 5, 40), LastAddedAfter: 777})
		add(t, s, store.UsageRow{Hour: poll(0, 5, 10), KeyID: keyA, FeedID: feed1, Requests: 1, Polls: 1, Objects: 5, Bytes: 500,
			LastPoll: poll(0, 5, 10), LastAddedAfter: 111})
		// A request about no feed, and one without a poll: neither moves the last poll.
		add(t, s, store.UsageRow{Hour: hour(0, 5), KeyID: keyA, Requests: 4, Bytes: 40},
			store.UsageRow{Hour: hour(0, 5), KeyID: keyA, FeedID: feed1, Requests: 1, Bytes: 10})
		same(t, totals(t, s, hour(0, 0), store.UsageByKeyFeed), []store.UsageTotal{
			{KeyID: keyA, Requests: 4, Bytes: 40},
			{KeyID: keyA, FeedID: feed1, Requests: 4, Polls: 3, Objects: 35, Bytes: 3510, LastPoll: poll(0, 5, 40), LastAddedAfter: 777},
		})
	})

	t.Run("DuplicateRowsInOneBatchAreAdded", func(t *testing.T) {
		s, _ := setup(t)
		r := store.UsageRow{Hour: hour(0, 1), KeyID: keyB, FeedID: feed2, Requests: 1, Polls: 1, Objects: 2, Bytes: 3, LastPoll: poll(0, 1, 1), LastAddedAfter: 9}
		add(t, s, r, r, r)
		same(t, totals(t, s, hour(0, 0), store.UsageByKey), []store.UsageTotal{
			{KeyID: keyB, Requests: 3, Polls: 3, Objects: 6, Bytes: 9, LastPoll: poll(0, 1, 1), LastAddedAfter: 9},
		})
	})

	t.Run("TotalsByKeyFeedAndWindow", func(t *testing.T) {
		s, _ := setup(t)
		add(t, s,
			store.UsageRow{Hour: hour(-40, 3), KeyID: keyA, FeedID: feed1, Requests: 100, Polls: 100, Objects: 100, Bytes: 100, LastPoll: poll(-40, 3, 0), LastAddedAfter: 1},
			store.UsageRow{Hour: hour(0, 1), KeyID: keyA, FeedID: feed1, Requests: 1, Polls: 1, Objects: 10, Bytes: 1000, LastPoll: poll(0, 1, 30), LastAddedAfter: 5},
			store.UsageRow{Hour: hour(0, 2), KeyID: keyA, FeedID: feed2, Requests: 2, Polls: 2, Objects: 20, Bytes: 2000, LastPoll: poll(0, 2, 30), LastAddedAfter: 6},
			store.UsageRow{Hour: hour(0, 3), KeyID: keyA, Requests: 3, Bytes: 30},
			store.UsageRow{Hour: hour(0, 1), KeyID: keyB, FeedID: feed1, Requests: 4, Polls: 4, Objects: 40, Bytes: 4000, LastPoll: poll(0, 1, 50), LastAddedAfter: 7},
		)
		since := hour(-1, 0)
		same(t, totals(t, s, since, store.UsageByKey), []store.UsageTotal{
			{KeyID: keyA, Requests: 6, Polls: 3, Objects: 30, Bytes: 3030, LastPoll: poll(0, 2, 30), LastAddedAfter: 6},
			{KeyID: keyB, Requests: 4, Polls: 4, Objects: 40, Bytes: 4000, LastPoll: poll(0, 1, 50), LastAddedAfter: 7},
		})
		same(t, totals(t, s, since, store.UsageByFeed), []store.UsageTotal{
			{FeedID: feed1, Requests: 5, Polls: 5, Objects: 50, Bytes: 5000, LastPoll: poll(0, 1, 50), LastAddedAfter: 7},
			{FeedID: feed2, Requests: 2, Polls: 2, Objects: 20, Bytes: 2000, LastPoll: poll(0, 2, 30), LastAddedAfter: 6},
		})
		// The window starts at an hour: the row of that hour is in it.
		same(t, totals(t, s, hour(0, 2), store.UsageByKey), []store.UsageTotal{
			{KeyID: keyA, Requests: 5, Polls: 2, Objects: 20, Bytes: 2030, LastPoll: poll(0, 2, 30), LastAddedAfter: 6},
		})
		same(t, totals(t, s, hour(-41, 0), store.UsageByKeyFeed)[:1], []store.UsageTotal{
			{KeyID: keyA, Requests: 3, Bytes: 30},
		})
		if got := totals(t, s, hour(1, 0), store.UsageByKey); len(got) != 0 {
			t.Fatalf("totals after the last row: %+v, want none", got)
		}
	})

	t.Run("DailySeries", func(t *testing.T) {
		s, _ := setup(t)
		add(t, s,
			store.UsageRow{Hour: hour(-3, 23), KeyID: keyA, FeedID: feed1, Requests: 9, Polls: 9},
			store.UsageRow{Hour: hour(-2, 0), KeyID: keyA, FeedID: feed1, Requests: 1, Polls: 1, Objects: 1, Bytes: 1, LastPoll: poll(-2, 0, 1)},
			store.UsageRow{Hour: hour(-2, 23), KeyID: keyA, FeedID: feed2, Requests: 2, Polls: 2, Objects: 2, Bytes: 2, LastPoll: poll(-2, 23, 1)},
			store.UsageRow{Hour: hour(-2, 12), KeyID: keyA, Requests: 3, Bytes: 3},
			store.UsageRow{Hour: hour(0, 4), KeyID: keyA, FeedID: feed1, Requests: 5, Polls: 5, Objects: 50, Bytes: 500, LastPoll: poll(0, 4, 1)},
			store.UsageRow{Hour: hour(0, 4), KeyID: keyB, FeedID: feed1, Requests: 7, Polls: 7, Objects: 70, Bytes: 700, LastPoll: poll(0, 4, 1)},
		)
		// A key id in upper case names the same key.
		got, err := s.UsageDaily(t.Context(), "11111111-2222-4333-8444-55555555A001", hour(-2, 0))
		if err != nil {
			t.Fatalf("UsageDaily: %v", err)
		}
		want := []store.UsageDay{
			{Day: hour(-2, 0), Requests: 6, Polls: 3, Objects: 3, Bytes: 6},
			{Day: hour(0, 0), Requests: 5, Polls: 5, Objects: 50, Bytes: 500},
		}
		if !slices.EqualFunc(got, want, func(a, b store.UsageDay) bool {
			return a.Day.Equal(b.Day) && a.Requests == b.Requests && a.Polls == b.Polls && a.Objects == b.Objects && a.Bytes == b.Bytes
		}) {
			t.Fatalf("UsageDaily\n got %+v\nwant %+v", got, want)
		}
		if got, err := s.UsageDaily(t.Context(), "11111111-2222-4333-8444-55555555c003", hour(-30, 0)); err != nil || len(got) != 0 {
			t.Fatalf("UsageDaily of a key without usage = %+v, %v; want none", got, err)
		}
	})

	t.Run("DeleteBefore", func(t *testing.T) {
		s, _ := setup(t)
		add(t, s,
			store.UsageRow{Hour: hour(-31, 0), KeyID: keyA, FeedID: feed1, Requests: 1},
			store.UsageRow{Hour: hour(-31, 23), KeyID: keyB, FeedID: feed1, Requests: 1},
			store.UsageRow{Hour: hour(-30, 0), KeyID: keyA, FeedID: feed1, Requests: 2},
		)
		n, err := s.DeleteUsageBefore(t.Context(), hour(-30, 0))
		if err != nil || n != 2 {
			t.Fatalf("DeleteUsageBefore = %d, %v; want 2 rows", n, err)
		}
		same(t, totals(t, s, hour(-60, 0), store.UsageByKey), []store.UsageTotal{{KeyID: keyA, Requests: 2}})
		if n, err := s.DeleteUsageBefore(t.Context(), hour(-30, 0)); err != nil || n != 0 {
			t.Fatalf("second DeleteUsageBefore = %d, %v; want 0", n, err)
		}
	})

	// Replicas flush the same rows at once: every addition counts.
	t.Run("ConcurrentAddsSum", func(t *testing.T) {
		s, _ := setup(t)
		const writers, rounds = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds)
		for w := range writers {
			wg.Go(func() {
				for i := range rounds {
					errs <- s.AddUsage(t.Context(), []store.UsageRow{
						{Hour: hour(0, 1), KeyID: keyA, FeedID: feed1, Requests: 1, Polls: 1, Objects: 10, Bytes: 100, LastPoll: poll(0, 1, w*rounds+i), LastAddedAfter: int64(w*rounds + i)},
						{Hour: hour(0, 1), KeyID: keyB, FeedID: feed2, Requests: 1},
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent AddUsage: %v", err)
			}
		}
		same(t, totals(t, s, hour(0, 0), store.UsageByKeyFeed), []store.UsageTotal{
			{KeyID: keyA, FeedID: feed1, Requests: writers * rounds, Polls: writers * rounds, Objects: 10 * writers * rounds, Bytes: 100 * writers * rounds,
				LastPoll: poll(0, 1, writers*rounds-1), LastAddedAfter: writers*rounds - 1},
			{KeyID: keyB, FeedID: feed2, Requests: writers * rounds},
		})
	})
}
