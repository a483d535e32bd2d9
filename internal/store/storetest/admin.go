package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// at is a fixed instant with microseconds, the precision every store keeps.
func at(minute int) time.Time {
	return time.Date(2024, 5, 6, 7, minute, 9, 123456000, time.UTC)
}

func exerciseSchema(t *testing.T, setup setupFunc) {
	t.Run("MigrateTwiceThenCheckSchema", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Fatalf("CheckSchema: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("ConcurrentMigrate", func(t *testing.T) {
		s, ctx := setup(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- s.Migrate(ctx) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Migrate: %v", err)
			}
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Fatalf("CheckSchema: %v", err)
		}
	})
}

func exerciseFeeds(t *testing.T, setup setupFunc) {
	feed := func(id, alias string, minute int) store.Feed {
		return store.Feed{
			ID: id, Title: "Feed " + id[:4], Description: "Indicators, mostly", Alias: alias,
			Filter: store.FeedFilter{Types: []string{"indicator", "malware"}}, Writable: minute%2 == 0, CreatedAt: at(minute),
		}
	}
	const (
		id1 = "6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001"
		id2 = "0b0c4c1e-9c3d-4f8e-a7b2-1b9a8c6d5002"
		id3 = "a7e6f5d4-c3b2-4a19-8f7e-6d5c4b3a2003"
	)
	sameFeed := func(t *testing.T, got, want store.Feed) {
		t.Helper()
		if got.ID != want.ID || got.Title != want.Title || got.Description != want.Description || got.Alias != want.Alias ||
			!slices.Equal(got.Filter.Types, want.Filter.Types) || got.Writable != want.Writable || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("feed = %+v\nwant   %+v", got, want)
		}
	}

	t.Run("ZeroCreatedAtMeansNow", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateFeed(ctx, store.Feed{ID: id1, Title: "now"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, store.APIKey{ID: id2, Name: "now", Role: store.RoleReadOnly, Hash: make([]byte, 32)}); err != nil {
			t.Fatal(err)
		}
		f, err := s.GetFeed(ctx, id1)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.GetKey(ctx, id2)
		if err != nil {
			t.Fatal(err)
		}
		for what, got := range map[string]time.Time{"feed": f.CreatedAt, "key": k.CreatedAt} {
			if d := time.Since(got); d < -time.Minute || d > time.Minute {
				t.Errorf("%s created_at = %v, want about now", what, got)
			}
		}
	})

	t.Run("CreateGetListDelete", func(t *testing.T) {
		s, ctx := setup(t)
		// Creation order differs from id order; f1 and f3 tie on time, so id decides.
		f1, f2, f3 := feed(id1, "", 3), feed(id2, "intel", 5), feed(id3, "", 3)
		f3.Filter.Types = nil
		for _, f := range []store.Feed{f1, f2, f3} {
			if err := s.CreateFeed(ctx, f); err != nil {
				t.Fatalf("CreateFeed: %v", err)
			}
		}
		got, err := s.GetFeed(ctx, id1)
		if err != nil {
			t.Fatal(err)
		}
		sameFeed(t, got, f1)
		if got, err = s.GetFeed(ctx, "intel"); err != nil {
			t.Fatalf("GetFeed by alias: %v", err)
		}
		sameFeed(t, got, f2)
		if got, err = s.GetFeed(ctx, id3); err != nil || len(got.Filter.Types) != 0 {
			t.Fatalf("feed with every type = %+v, %v", got, err)
		}

		list, err := s.ListFeeds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// By creation time, then id.
		if len(list) != 3 {
			t.Fatalf("ListFeeds returned %d feeds, want 3", len(list))
		}
		for i, want := range []store.Feed{f1, f3, f2} {
			sameFeed(t, list[i], want)
		}

		if err := s.DeleteFeed(ctx, id1); err != nil {
			t.Fatalf("DeleteFeed: %v", err)
		}
		if _, err := s.GetFeed(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetFeed after delete: %v, want ErrNotFound", err)
		}
		if err := s.DeleteFeed(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second DeleteFeed: %v, want ErrNotFound", err)
		}
		if list, _ = s.ListFeeds(ctx); len(list) != 2 {
			t.Fatalf("%d feeds left, want 2", len(list))
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s, ctx := setup(t)
		if _, err := s.GetFeed(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetFeed(unknown id): %v, want ErrNotFound", err)
		}
		if _, err := s.GetFeed(ctx, "no-such-alias"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetFeed(unknown alias): %v, want ErrNotFound", err)
		}
		if err := s.DeleteFeed(ctx, id1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteFeed(unknown): %v, want ErrNotFound", err)
		}
		if list, err := s.ListFeeds(ctx); err != nil || len(list) != 0 {
			t.Fatalf("ListFeeds on an empty store = %v, %v", list, err)
		}
	})

	t.Run("Conflicts", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateFeed(ctx, feed(id1, "intel", 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFeed(ctx, feed(id1, "other", 2)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same id: %v, want ErrConflict", err)
		}
		if err := s.CreateFeed(ctx, feed(id2, "intel", 2)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same alias: %v, want ErrConflict", err)
		}
		// No alias is not an alias: any number of feeds may have none.
		if err := s.CreateFeed(ctx, feed(id2, "", 2)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFeed(ctx, feed(id3, "", 2)); err != nil {
			t.Fatalf("second feed without alias: %v", err)
		}
	})

	// Ids are UUIDs: stored and shown in lower case, found in either case.
	t.Run("IDsIgnoreCase", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateFeed(ctx, feed(strings.ToUpper(id1), "", 1)); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetFeed(ctx, id1)
		if err != nil || got.ID != id1 {
			t.Fatalf("GetFeed(lower case) = %q, %v; want the feed, id in lower case", got.ID, err)
		}
		if got, err := s.GetFeed(ctx, strings.ToUpper(id1)); err != nil || got.ID != id1 {
			t.Fatalf("GetFeed(upper case) = %q, %v; want the feed", got.ID, err)
		}
		if err := s.CreateFeed(ctx, feed(id1, "", 2)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same id in the other case: %v, want ErrConflict", err)
		}
		if err := s.DeleteFeed(ctx, strings.ToUpper(id1)); err != nil {
			t.Fatalf("DeleteFeed(upper case): %v", err)
		}
	})

	// A malformed id is simply not found (it may still be an alias); a feed cannot be created with one.
	t.Run("MalformedIDs", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateFeed(ctx, feed(id1, "not-a-uuid", 1)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"", id1 + "0", id1[:35], "{" + id1 + "}", "urn:uuid:" + id1, strings.ReplaceAll(id1, "-", "")} {
			if _, err := s.GetFeed(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetFeed(%q): %v, want ErrNotFound", id, err)
			}
			if err := s.DeleteFeed(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteFeed(%q): %v, want ErrNotFound", id, err)
			}
		}
		if got, err := s.GetFeed(ctx, "not-a-uuid"); err != nil || got.ID != id1 {
			t.Fatalf("GetFeed(alias) = %q, %v; want the feed", got.ID, err)
		}
		err := s.CreateFeed(ctx, feed("not-a-uuid-at-all", "", 2))
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateFeed(malformed id): %v, want a plain error", err)
		}
	})

	t.Run("DeletingAFeedKeepsItsObjects", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateFeed(ctx, feed(id1, "", 1)); err != nil {
			t.Fatal(err)
		}
		add(t, ctx, s, version(objectID("indicator", 1), "2021-01-01T00:00:00Z"))
		if err := s.DeleteFeed(ctx, id1); err != nil {
			t.Fatal(err)
		}
		if _, rows := scan(t, ctx, s, store.Query{Limit: 10}); len(rows) != 1 {
			t.Fatalf("%d objects after deleting the feed, want 1", len(rows))
		}
	})
}

func exerciseKeys(t *testing.T, setup setupFunc) {
	key := func(id string, minute int, feeds ...string) store.APIKey {
		return store.APIKey{
			ID: id, Name: "key " + id[:4], Role: store.RoleReadWrite, Feeds: feeds,
			Hash: bytes.Repeat([]byte{byte(minute), 0xff, 0}, 11)[:32], CreatedAt: at(minute),
		}
	}
	const (
		k1 = "11111111-2222-4333-8444-555555555001"
		k2 = "11111111-2222-4333-8444-555555555002"
		k3 = "11111111-2222-4333-8444-555555555003"
	)
	sameKey := func(t *testing.T, got, want store.APIKey) {
		t.Helper()
		if got.ID != want.ID || got.Name != want.Name || got.Role != want.Role || !slices.Equal(got.Feeds, want.Feeds) ||
			!bytes.Equal(got.Hash, want.Hash) || !got.CreatedAt.Equal(want.CreatedAt) ||
			!got.LastUsedAt.Equal(want.LastUsedAt) || !got.RevokedAt.Equal(want.RevokedAt) {
			t.Fatalf("key = %+v\nwant  %+v", got, want)
		}
	}

	t.Run("CreateGetList", func(t *testing.T) {
		s, ctx := setup(t)
		// Creation order differs from id order; a and c tie on time.
		a, b, c := key(k1, 5, "feed-a", "feed-b"), key(k2, 2), key(k3, 5)
		a.Role, c.Role = store.RoleAdmin, store.RoleReadOnly
		for _, k := range []store.APIKey{a, b, c} {
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
		}
		got, err := s.GetKey(ctx, k1)
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, a)
		if !got.LastUsedAt.IsZero() || !got.RevokedAt.IsZero() {
			t.Fatalf("new key has LastUsedAt %v, RevokedAt %v; want zero", got.LastUsedAt, got.RevokedAt)
		}
		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 3 {
			t.Fatalf("ListKeys = %d keys, %v; want 3", len(list), err)
		}
		for i, want := range []store.APIKey{b, a, c} {
			sameKey(t, list[i], want)
		}
	})

	t.Run("NotFoundAndConflict", func(t *testing.T) {
		s, ctx := setup(t)
		if _, err := s.GetKey(ctx, k1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetKey(unknown): %v, want ErrNotFound", err)
		}
		if err := s.RevokeKey(ctx, k1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RevokeKey(unknown): %v, want ErrNotFound", err)
		}
		if err := s.CreateKey(ctx, key(k1, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, key(k1, 2)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateKey(same id): %v, want ErrConflict", err)
		}
	})

	t.Run("RevokeOnce", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateKey(ctx, key(k1, 1)); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		if err := s.RevokeKey(ctx, k1); err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
		got, err := s.GetKey(ctx, k1)
		if err != nil {
			t.Fatalf("GetKey of a revoked key: %v", err)
		}
		if got.RevokedAt.Before(before.Add(-time.Minute)) || got.RevokedAt.After(time.Now().Add(time.Minute)) {
			t.Fatalf("RevokedAt = %v, want about now", got.RevokedAt)
		}
		if err := s.RevokeKey(ctx, k1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second RevokeKey: %v, want ErrNotFound", err)
		}
		if again, _ := s.GetKey(ctx, k1); !again.RevokedAt.Equal(got.RevokedAt) {
			t.Fatalf("second RevokeKey moved RevokedAt from %v to %v", got.RevokedAt, again.RevokedAt)
		}
		if list, _ := s.ListKeys(ctx); len(list) != 1 {
			t.Fatalf("ListKeys has %d keys, want the revoked one", len(list))
		}
	})

	t.Run("Touch", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateKey(ctx, key(k1, 1)); err != nil {
			t.Fatal(err)
		}
		for _, minute := range []int{30, 31} {
			if err := s.TouchKey(ctx, k1, at(minute)); err != nil {
				t.Fatalf("TouchKey: %v", err)
			}
			if got, _ := s.GetKey(ctx, k1); !got.LastUsedAt.Equal(at(minute)) {
				t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, at(minute))
			}
		}
	})

	t.Run("IDsIgnoreCase", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateKey(ctx, key(strings.ToUpper(k1), 1)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetKey(ctx, k1); err != nil || got.ID != k1 {
			t.Fatalf("GetKey(lower case) = %q, %v; want the key, id in lower case", got.ID, err)
		}
		if err := s.TouchKey(ctx, strings.ToUpper(k1), at(9)); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, strings.ToUpper(k1)); err != nil {
			t.Fatalf("RevokeKey(upper case): %v", err)
		}
		if got, _ := s.GetKey(ctx, strings.ToUpper(k1)); !got.LastUsedAt.Equal(at(9)) || got.RevokedAt.IsZero() {
			t.Fatalf("key after touch and revoke in upper case = %+v", got)
		}
	})

	// A malformed id is simply not found; a key cannot be created with one.
	t.Run("MalformedIDs", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateKey(ctx, key(k1, 1)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"", "not-a-uuid", k1 + "0", k1[:35], "{" + k1 + "}", strings.ReplaceAll(k1, "-", "")} {
			if _, err := s.GetKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetKey(%q): %v, want ErrNotFound", id, err)
			}
			if err := s.RevokeKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RevokeKey(%q): %v, want ErrNotFound", id, err)
			}
			if err := s.TouchKey(ctx, id, at(9)); err != nil {
				t.Errorf("TouchKey(%q): %v, want nil", id, err)
			}
		}
		if got, err := s.GetKey(ctx, k1); err != nil || !got.RevokedAt.IsZero() || !got.LastUsedAt.IsZero() {
			t.Fatalf("the key changed: %+v, %v", got, err)
		}
		for _, create := range []func() error{
			func() error { return s.CreateKey(ctx, key("not-a-uuid", 2)) },
			func() error { _, err := s.CreateFirstKey(ctx, key("not-a-uuid", 2)); return err },
		} {
			if err := create(); err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
				t.Fatalf("create with a malformed id: %v, want a plain error", err)
			}
		}
	})

	t.Run("CreateFirstKeyOnlyOnAnEmptyStore", func(t *testing.T) {
		s, ctx := setup(t)
		ok, err := s.CreateFirstKey(ctx, key(k1, 1))
		if err != nil || !ok {
			t.Fatalf("first CreateFirstKey = %v, %v; want true", ok, err)
		}
		ok, err = s.CreateFirstKey(ctx, key(k2, 2))
		if err != nil || ok {
			t.Fatalf("second CreateFirstKey = %v, %v; want false", ok, err)
		}
		if _, err := s.GetKey(ctx, k2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the second first key was stored: %v", err)
		}
		got, err := s.GetKey(ctx, k1)
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, key(k1, 1))
	})

	t.Run("CreateFirstKeyAfterCreateKey", func(t *testing.T) {
		s, ctx := setup(t)
		if err := s.CreateKey(ctx, key(k1, 1)); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.CreateFirstKey(ctx, key(k2, 2)); err != nil || ok {
			t.Fatalf("CreateFirstKey with a key present = %v, %v; want false", ok, err)
		}
	})

	t.Run("CreateFirstKeyConcurrently", func(t *testing.T) {
		s, ctx := setup(t)
		ids := []string{k1, k2, k3, "11111111-2222-4333-8444-555555555004", "11111111-2222-4333-8444-555555555005"}
		var wg sync.WaitGroup
		results := make([]bool, len(ids))
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Go(func() { results[i], errs[i] = s.CreateFirstKey(ctx, key(id, i)) })
		}
		wg.Wait()
		stored := 0
		for i := range ids {
			if errs[i] != nil {
				t.Errorf("CreateFirstKey %d: %v", i, errs[i])
			}
			if results[i] {
				stored++
			}
		}
		list, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stored != 1 || len(list) != 1 {
			t.Fatalf("%d calls reported storing, %d keys stored; want 1 and 1", stored, len(list))
		}
	})
}

// GetStatus collects what ScanStatus reads into one Status, for tests: the
// server itself never holds a whole status.
func GetStatus(ctx context.Context, s store.Statuses, id string, now time.Time) (store.Status, error) {
	var st store.Status
	err := s.ScanStatus(ctx, id, now, func(head store.Status) error {
		st = head
		return nil
	}, func(l store.StatusList, o store.StatusObject) error {
		switch l {
		case store.StatusSuccesses:
			st.Successes = append(st.Successes, o)
		case store.StatusFailures:
			st.Failures = append(st.Failures, o)
		case store.StatusPendings:
			st.Pendings = append(st.Pendings, o)
		default:
			return fmt.Errorf("entry of unknown list %d", l)
		}
		return nil
	})
	return st, err
}

func exerciseStatuses(t *testing.T, setup setupFunc) {
	const (
		feedID = "6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001"
		keyID  = "11111111-2222-4333-8444-555555555001"
		st1    = "2d8f4e6a-1b3c-4d5e-8f70-000000000001"
		st2    = "2d8f4e6a-1b3c-4d5e-8f70-000000000002"
	)
	status := func(id string, expires time.Time) store.Status {
		return store.Status{
			ID: id, FeedID: feedID, KeyID: keyID, Status: "pending", RequestTimestamp: at(1),
			TotalCount: 4, SuccessCount: 1, FailureCount: 1, PendingCount: 2,
			Successes: []store.StatusObject{{ID: objectID("indicator", 1), Version: "2021-01-01T00:00:00.000Z"}},
			Failures:  []store.StatusObject{{ID: objectID("indicator", 2), Version: "2021-01-01T00:00:00Z", Message: "bad \"pattern\""}},
			Pendings: []store.StatusObject{
				{ID: objectID("malware", 3), Version: "2021-01-01T00:00:00Z"},
				{ID: objectID("ipv4-addr", 4)},
			},
			ExpiresAt: expires,
		}
	}
	sameStatus := func(t *testing.T, got, want store.Status) {
		t.Helper()
		if got.ID != want.ID || got.FeedID != want.FeedID || got.KeyID != want.KeyID || got.Status != want.Status ||
			!got.RequestTimestamp.Equal(want.RequestTimestamp) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
			got.TotalCount != want.TotalCount || got.SuccessCount != want.SuccessCount ||
			got.FailureCount != want.FailureCount || got.PendingCount != want.PendingCount ||
			!slices.Equal(got.Successes, want.Successes) || !slices.Equal(got.Failures, want.Failures) ||
			!slices.Equal(got.Pendings, want.Pendings) {
			t.Fatalf("status = %+v\nwant     %+v", got, want)
		}
	}
	// Statuses belong to a feed; create it in case the store enforces that.
	setupFeed := func(t *testing.T) store.Store {
		s, ctx := setup(t)
		if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "Feed", CreatedAt: at(0)}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	expires := at(40)
	live := at(30)

	t.Run("CreateGetUpdate", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		want := status(st1, expires)
		if err := s.CreateStatus(ctx, want); err != nil {
			t.Fatalf("CreateStatus: %v", err)
		}
		got, err := GetStatus(ctx, s, st1, live)
		if err != nil {
			t.Fatal(err)
		}
		sameStatus(t, got, want)

		want.Status, want.SuccessCount, want.PendingCount = "complete", 3, 0
		want.Successes = append(want.Successes, want.Pendings...)
		want.Pendings = nil
		want.ExpiresAt = at(50)
		if err := s.UpdateStatus(ctx, want); err != nil {
			t.Fatalf("UpdateStatus: %v", err)
		}
		if got, err = GetStatus(ctx, s, st1, live); err != nil {
			t.Fatal(err)
		}
		sameStatus(t, got, want)
	})

	t.Run("NotFoundAndConflict", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		if _, err := GetStatus(ctx, s, st1, live); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetStatus(unknown): %v, want ErrNotFound", err)
		}
		if err := s.UpdateStatus(ctx, status(st1, expires)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UpdateStatus(unknown): %v, want ErrNotFound", err)
		}
		if err := s.CreateStatus(ctx, status(st1, expires)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateStatus(ctx, status(st1, expires)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateStatus(same id): %v, want ErrConflict", err)
		}
	})

	t.Run("IDsIgnoreCase", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		if err := s.CreateStatus(ctx, status(strings.ToUpper(st1), expires)); err != nil {
			t.Fatal(err)
		}
		got, err := GetStatus(ctx, s, st1, live)
		if err != nil || got.ID != st1 {
			t.Fatalf("GetStatus(lower case) = %q, %v; want the status, id in lower case", got.ID, err)
		}
		if err := s.UpdateStatus(ctx, status(strings.ToUpper(st1), expires)); err != nil {
			t.Fatalf("UpdateStatus(upper case): %v", err)
		}
		if got, err := GetStatus(ctx, s, strings.ToUpper(st1), live); err != nil || got.ID != st1 {
			t.Fatalf("GetStatus(upper case) = %q, %v; want the status", got.ID, err)
		}
	})

	// A malformed id is simply not found: never a database error, never a match.
	t.Run("MalformedIDsAreNotFound", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		if err := s.CreateStatus(ctx, status(st1, expires)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"", "not-a-uuid", st1 + "0", st1[:35], "{" + st1 + "}", "urn:uuid:" + st1, strings.ReplaceAll(st1, "-", "")} {
			if _, err := GetStatus(ctx, s, id, live); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetStatus(%q): %v, want ErrNotFound", id, err)
			}
			if err := s.UpdateStatus(ctx, status(id, expires)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UpdateStatus(%q): %v, want ErrNotFound", id, err)
			}
		}
		err := s.CreateStatus(ctx, status("not-a-uuid", expires))
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateStatus(malformed id): %v, want a plain error", err)
		}
	})

	// Each purge run deletes at most its limit, the longest expired first, and never a live status.
	t.Run("PurgeIsBounded", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		ids := make([]string, 5)
		for i := range ids {
			ids[i] = fmt.Sprintf("2d8f4e6a-1b3c-4d5e-8f70-1000000000%02d", i)
			if err := s.CreateStatus(ctx, status(ids[i], at(40+i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateStatus(ctx, status(st2, at(100))); err != nil {
			t.Fatal(err)
		}
		now := at(50)
		for i, want := range []int{2, 2, 1, 0} {
			if n, err := s.DeleteExpiredStatuses(ctx, now, 2); err != nil || n != want {
				t.Fatalf("run %d: DeleteExpiredStatuses = %d, %v; want %d", i, n, err, want)
			}
			if i == 0 {
				// The two that expired first went; the third is still there.
				for j, id := range ids[:3] {
					err := s.UpdateStatus(ctx, status(id, at(40+j)))
					if gone := errors.Is(err, store.ErrNotFound); gone != (j < 2) {
						t.Fatalf("after the first run, status %d: %v", j, err)
					}
				}
			}
		}
		if _, err := GetStatus(ctx, s, st2, now); err != nil {
			t.Fatalf("the live status went: %v", err)
		}
	})

	// ScanStatus hands over the head first, with no lists, then every entry list
	// by list in stored order; enough entries that a store sorting them, or
	// reading them in pieces, would show it.
	t.Run("ScanStatusStreamsInOrder", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		want := status(st1, expires)
		want.Successes, want.Failures, want.Pendings = nil, nil, nil
		for i := range 3000 {
			o := store.StatusObject{ID: objectID("indicator", 3000-i), Version: fmt.Sprintf("2021-01-01T00:00:%02d.000Z", i%60)}
			switch {
			case i%10 == 3:
				o.Message = fmt.Sprintf("bad \"pattern\" %d \u00e9\n<x>", i)
				want.Failures = append(want.Failures, o)
			case i%10 == 7:
				want.Pendings = append(want.Pendings, o)
			default:
				want.Successes = append(want.Successes, o)
			}
		}
		want.SuccessCount, want.FailureCount, want.PendingCount = len(want.Successes), len(want.Failures), len(want.Pendings)
		want.TotalCount = 3000
		if err := s.CreateStatus(ctx, want); err != nil {
			t.Fatal(err)
		}
		var got store.Status
		began, entries := false, 0
		err := s.ScanStatus(ctx, st1, live, func(head store.Status) error {
			if began || entries > 0 || head.Successes != nil || head.Failures != nil || head.Pendings != nil {
				t.Fatalf("begin: called again or after entries, or with lists: %+v", head)
			}
			began, got = true, head
			return nil
		}, func(l store.StatusList, o store.StatusObject) error {
			if !began {
				t.Fatal("an entry before begin")
			}
			entries++
			switch l {
			case store.StatusSuccesses:
				got.Successes = append(got.Successes, o)
			case store.StatusFailures:
				got.Failures = append(got.Failures, o)
			case store.StatusPendings:
				got.Pendings = append(got.Pendings, o)
			}
			// A later list never comes back to an earlier one.
			if l == store.StatusSuccesses && (len(got.Failures) > 0 || len(got.Pendings) > 0) || l == store.StatusFailures && len(got.Pendings) > 0 {
				t.Fatalf("entry %d of list %d after a later list", entries, l)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sameStatus(t, got, want)
	})

	// An error of begin or each ends the scan and comes back as is; a status
	// not found is ErrNotFound before begin.
	t.Run("ScanStatusStops", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		if err := s.CreateStatus(ctx, status(st1, expires)); err != nil {
			t.Fatal(err)
		}
		stop := errors.New("stop")
		entries := 0
		count := func(store.StatusList, store.StatusObject) error { entries++; return nil }
		if err := s.ScanStatus(ctx, st1, live, func(store.Status) error { return stop }, count); err != stop || entries != 0 {
			t.Fatalf("begin's error: %v after %d entries, want it as is and no entry", err, entries)
		}
		err := s.ScanStatus(ctx, st1, live, func(store.Status) error { return nil }, func(store.StatusList, store.StatusObject) error {
			entries++
			return stop
		})
		if err != stop || entries != 1 {
			t.Fatalf("each's error: %v after %d entries, want it as is after 1", err, entries)
		}
		for _, c := range []struct {
			id  string
			now time.Time
		}{{st2, live}, {st1, expires}, {"not-a-uuid", live}} {
			err := s.ScanStatus(ctx, c.id, c.now, func(store.Status) error {
				t.Fatalf("begin called for %s at %v", c.id, c.now)
				return nil
			}, count)
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("ScanStatus(%s at %v): %v, want ErrNotFound", c.id, c.now, err)
			}
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		s := setupFeed(t)
		ctx := t.Context()
		if err := s.CreateStatus(ctx, status(st1, expires)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateStatus(ctx, status(st2, at(45))); err != nil {
			t.Fatal(err)
		}
		if _, err := GetStatus(ctx, s, st1, expires.Add(-time.Microsecond)); err != nil {
			t.Fatalf("GetStatus just before expiry: %v", err)
		}
		// A status expires at ExpiresAt: from then on it is gone.
		for _, now := range []time.Time{expires, expires.Add(time.Hour)} {
			if _, err := GetStatus(ctx, s, st1, now); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("GetStatus at %v, expired at %v: %v, want ErrNotFound", now, expires, err)
			}
		}
		n, err := s.DeleteExpiredStatuses(ctx, at(42), 100)
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpiredStatuses = %d, %v; want 1", n, err)
		}
		if _, err := GetStatus(ctx, s, st2, at(42)); err != nil {
			t.Fatalf("the live status went with the expired one: %v", err)
		}
		// Deleted, not just hidden: updating it finds nothing.
		if err := s.UpdateStatus(ctx, status(st1, at(59))); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UpdateStatus of a deleted status: %v, want ErrNotFound", err)
		}
		if n, err := s.DeleteExpiredStatuses(ctx, at(42), 100); err != nil || n != 0 {
			t.Fatalf("second DeleteExpiredStatuses = %d, %v; want 0", n, err)
		}
	})
}

func exerciseSettings(t *testing.T, setup setupFunc) {
	t.Run("CursorSecretIsCreatedOnceAndRandom", func(t *testing.T) {
		s, ctx := setup(t)
		var wg sync.WaitGroup
		secrets := make([][]byte, 4)
		errs := make([]error, 4)
		for i := range secrets {
			wg.Go(func() { secrets[i], errs[i] = s.CursorSecret(ctx) })
		}
		wg.Wait()
		for i := range secrets {
			if errs[i] != nil {
				t.Fatalf("CursorSecret: %v", errs[i])
			}
			if len(secrets[i]) != 32 || !bytes.Equal(secrets[i], secrets[0]) {
				t.Fatalf("secrets differ or are not 32 bytes: %x vs %x", secrets[i], secrets[0])
			}
		}
		if bytes.Equal(secrets[0], make([]byte, 32)) {
			t.Fatal("secret is all zeros")
		}
		again, err := s.CursorSecret(ctx)
		if err != nil || !bytes.Equal(again, secrets[0]) {
			t.Fatalf("later CursorSecret = %x, %v; want %x", again, err, secrets[0])
		}

		other, _ := setup(t)
		otherSecret, err := other.CursorSecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(otherSecret, secrets[0]) {
			t.Fatal("two stores have the same secret: it is not random")
		}
	})
}
