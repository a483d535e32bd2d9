package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// InstrumentStore returns st with the latency of every operation observed in
// taxii_store_operation_duration_seconds and failures counted in taxii_store_errors_total.
// Methods added to store.Store later pass through uninstrumented until listed here.
func InstrumentStore(st store.Store, m *Metrics) store.Store {
	if m == nil {
		return st
	}
	return &instrumented{Store: st, m: m}
}

type instrumented struct {
	store.Store
	m *Metrics
}

// observe records one operation that started at start and ended with err.
func (s *instrumented) observe(op string, start time.Time, err error) {
	s.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) && !errors.Is(err, context.Canceled) {
		s.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (s *instrumented) AddObjects(ctx context.Context, objs []store.Object) (_ []store.AddOutcome, err error) {
	defer func(start time.Time) { s.observe("add_objects", start, err) }(time.Now())
	return s.Store.AddObjects(ctx, objs)
}

func (s *instrumented) AddObjectBatches(ctx context.Context, next func() ([]store.Object, error)) (_ []store.AddOutcome, err error) {
	defer func(start time.Time) { s.observe("add_objects", start, err) }(time.Now())
	return s.Store.AddObjectBatches(ctx, next)
}

// ScanObjects times the query up to its page summary: the rows that follow are
// streamed to the client, whose speed is not the store's.
func (s *instrumented) ScanObjects(ctx context.Context, q store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	start, observed := time.Now(), false
	err := s.Store.ScanObjects(ctx, q, func(p store.Page) error {
		observed = true
		s.observe("scan_objects", start, nil)
		return begin(p)
	}, each)
	if !observed {
		s.observe("scan_objects", start, err)
	} else if err != nil && !errors.Is(err, context.Canceled) {
		// The failure came after the summary (a row, or the client): count it, do not time it twice.
		s.m.storeErrors.WithLabelValues("scan_objects").Inc()
	}
	return err
}

func (s *instrumented) DeleteObject(ctx context.Context, feed store.FeedFilter, id string, versions store.VersionMatch, specVersions []string, source string) (_ int, err error) {
	defer func(start time.Time) { s.observe("delete_object", start, err) }(time.Now())
	return s.Store.DeleteObject(ctx, feed, id, versions, specVersions, source)
}

func (s *instrumented) CreateFeed(ctx context.Context, f store.Feed) (err error) {
	defer func(start time.Time) { s.observe("create_feed", start, err) }(time.Now())
	return s.Store.CreateFeed(ctx, f)
}

func (s *instrumented) GetFeed(ctx context.Context, idOrAlias string) (_ store.Feed, err error) {
	defer func(start time.Time) { s.observe("get_feed", start, err) }(time.Now())
	return s.Store.GetFeed(ctx, idOrAlias)
}

func (s *instrumented) ListFeeds(ctx context.Context) (_ []store.Feed, err error) {
	defer func(start time.Time) { s.observe("list_feeds", start, err) }(time.Now())
	return s.Store.ListFeeds(ctx)
}

func (s *instrumented) DeleteFeed(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { s.observe("delete_feed", start, err) }(time.Now())
	return s.Store.DeleteFeed(ctx, id)
}

func (s *instrumented) CreateKey(ctx context.Context, k store.APIKey) (err error) {
	defer func(start time.Time) { s.observe("create_key", start, err) }(time.Now())
	return s.Store.CreateKey(ctx, k)
}

func (s *instrumented) CreateFirstKey(ctx context.Context, k store.APIKey) (_ bool, err error) {
	defer func(start time.Time) { s.observe("create_first_key", start, err) }(time.Now())
	return s.Store.CreateFirstKey(ctx, k)
}

func (s *instrumented) GetKey(ctx context.Context, id string) (_ store.APIKey, err error) {
	defer func(start time.Time) { s.observe("get_key", start, err) }(time.Now())
	return s.Store.GetKey(ctx, id)
}

func (s *instrumented) ListKeys(ctx context.Context) (_ []store.APIKey, err error) {
	defer func(start time.Time) { s.observe("list_keys", start, err) }(time.Now())
	return s.Store.ListKeys(ctx)
}

func (s *instrumented) RevokeKey(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { s.observe("revoke_key", start, err) }(time.Now())
	return s.Store.RevokeKey(ctx, id)
}

func (s *instrumented) TouchKey(ctx context.Context, id string, at time.Time) (err error) {
	defer func(start time.Time) { s.observe("touch_key", start, err) }(time.Now())
	return s.Store.TouchKey(ctx, id, at)
}

func (s *instrumented) CursorSecret(ctx context.Context) (_ []byte, err error) {
	defer func(start time.Time) { s.observe("cursor_secret", start, err) }(time.Now())
	return s.Store.CursorSecret(ctx)
}

func (s *instrumented) CreateStatus(ctx context.Context, st store.Status) (err error) {
	defer func(start time.Time) { s.observe("create_status", start, err) }(time.Now())
	return s.Store.CreateStatus(ctx, st)
}

func (s *instrumented) UpdateStatus(ctx context.Context, st store.Status) (err error) {
	defer func(start time.Time) { s.observe("update_status", start, err) }(time.Now())
	return s.Store.UpdateStatus(ctx, st)
}

func (s *instrumented) ScanStatus(ctx context.Context, id string, now time.Time, begin func(store.Status) error, each func(store.StatusList, store.StatusObject) error) (err error) {
	defer func(start time.Time) { s.observe("scan_status", start, err) }(time.Now())
	return s.Store.ScanStatus(ctx, id, now, begin, each)
}

func (s *instrumented) DeleteExpiredStatuses(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	defer func(start time.Time) { s.observe("delete_expired_statuses", start, err) }(time.Now())
	return s.Store.DeleteExpiredStatuses(ctx, now, limit)
}

func (s *instrumented) Ping(ctx context.Context) (err error) {
	defer func(start time.Time) { s.observe("ping", start, err) }(time.Now())
	return s.Store.Ping(ctx)
}

func (s *instrumented) CheckSchema(ctx context.Context) (err error) {
	defer func(start time.Time) { s.observe("check_schema", start, err) }(time.Now())
	return s.Store.CheckSchema(ctx)
}

func (s *instrumented) FindByObservable(ctx context.Context, feed store.FeedFilter, typ, value string, limit int, each func(store.Row) error) (err error) {
	defer func(start time.Time) { s.observe("find_by_observable", start, err) }(time.Now())
	return s.Store.FindByObservable(ctx, feed, typ, value, limit, each)
}

func (s *instrumented) ListEntries(ctx context.Context, feed store.FeedFilter, kind, after string, now int64, limit int) (_ []string, err error) {
	defer func(start time.Time) { s.observe("list_entries", start, err) }(time.Now())
	return s.Store.ListEntries(ctx, feed, kind, after, now, limit)
}

func (s *instrumented) ListState(ctx context.Context, feed store.FeedFilter, kind string, now int64) (_ store.ListState, err error) {
	defer func(start time.Time) { s.observe("list_state", start, err) }(time.Now())
	return s.Store.ListState(ctx, feed, kind, now)
}

func (s *instrumented) AddUsage(ctx context.Context, rows []store.UsageRow) (err error) {
	defer func(start time.Time) { s.observe("add_usage", start, err) }(time.Now())
	return s.Store.AddUsage(ctx, rows)
}

func (s *instrumented) DeleteUsageBefore(ctx context.Context, before time.Time) (_ int64, err error) {
	defer func(start time.Time) { s.observe("delete_usage", start, err) }(time.Now())
	return s.Store.DeleteUsageBefore(ctx, before)
}
