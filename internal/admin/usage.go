package admin

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// Usage windows. The last 24 h are the current hour and the 23 before it; the
// last 30 d the current hour and the 719 before (figures are hourly). A key
// that polled in the 30 days but not in the last 24 h has stopped polling.
const (
	usageDay   = 24 * time.Hour
	usageMonth = 30 * usageDay
	usageDays  = 30 // days of a key's daily series
)

// UsageFigures are what keys asked over one window.
type UsageFigures struct {
	Requests int64 `json:"requests"`
	Polls    int64 `json:"polls"`
	Objects  int64 `json:"objects"`
	Bytes    int64 `json:"bytes"`
}

func figures(t store.UsageTotal) UsageFigures {
	return UsageFigures{Requests: t.Requests, Polls: t.Polls, Objects: t.Objects, Bytes: t.Bytes}
}

// KeyUsage is one key's usage: totals over the last 24 h and 30 d, its latest
// poll, and the feeds it polled in the 30 days.
type KeyUsage struct {
	Key            store.APIKey // Hash cleared
	Day, Month     UsageFigures
	LastPoll       time.Time // zero: no poll in 30 days
	LastAddedAfter int64     // µs, of the latest poll; 0: from the start
	Stopped        bool      // polled in the 30 days, not in the last 24 h
	Feeds          []KeyFeedUsage
}

// KeyFeedUsage is what a key polled of one feed over the last 30 d.
type KeyFeedUsage struct {
	Feed           KeyFeed
	Month          UsageFigures
	LastPoll       time.Time
	LastAddedAfter int64
}

// FeedUsage is one feed's usage by every key: totals over the last 24 h and
// 30 d, its latest poll, and how many keys polled it in the 30 days.
type FeedUsage struct {
	Feed           KeyFeed // Deleted when the feed is gone but its usage is still kept
	Day, Month     UsageFigures
	LastPoll       time.Time
	LastAddedAfter int64
	Keys           int
}

// usageSince is the start of the window of length d ending with the current hour.
func (s *Service) usageSince(d time.Duration) time.Time {
	return store.UsageHour(s.now()).Add(-d + time.Hour)
}

// KeysUsage returns the usage of every key, revoked ones included, in key
// creation order, and what the server counted without a key (its in-memory
// table was full; see TAXII_USAGE_MAX_ENTRIES) over the 30 days. Figures reach
// the store every TAXII_USAGE_FLUSH_INTERVAL, so they may lag by that much.
func (s *Service) KeysUsage(ctx context.Context) ([]KeyUsage, UsageFigures, error) {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return nil, UsageFigures{}, err
	}
	feeds, err := s.feedNames(ctx)
	if err != nil {
		return nil, UsageFigures{}, err
	}
	day, err := s.st.UsageTotals(ctx, s.usageSince(usageDay), store.UsageByKey)
	if err != nil {
		return nil, UsageFigures{}, err
	}
	month, err := s.st.UsageTotals(ctx, s.usageSince(usageMonth), store.UsageByKeyFeed)
	if err != nil {
		return nil, UsageFigures{}, err
	}
	byKey := make(map[string]*KeyUsage, len(keys))
	out := make([]KeyUsage, len(keys))
	for i, k := range keys {
		k.Hash = nil
		out[i] = KeyUsage{Key: k, Feeds: []KeyFeedUsage{}}
		byKey[strings.ToLower(k.ID)] = &out[i]
	}
	for _, t := range day {
		if u := byKey[t.KeyID]; u != nil {
			u.Day = figures(t)
		}
	}
	var unattributed UsageFigures
	for _, t := range month {
		if t.KeyID == store.UsageOverflowKey {
			add(&unattributed, figures(t))
			continue
		}
		u := byKey[t.KeyID]
		if u == nil {
			continue // a key deleted from the store: nothing to show it under
		}
		add(&u.Month, figures(t))
		if t.LastPoll.After(u.LastPoll) {
			u.LastPoll, u.LastAddedAfter = t.LastPoll, t.LastAddedAfter
		}
		if t.FeedID != "" {
			u.Feeds = append(u.Feeds, KeyFeedUsage{Feed: feeds.of(t.FeedID), Month: figures(t), LastPoll: t.LastPoll, LastAddedAfter: t.LastAddedAfter})
		}
	}
	for i := range out {
		out[i].Stopped = out[i].Month.Polls > 0 && out[i].Day.Polls == 0
	}
	return out, unattributed, nil
}

// usageByKeyID is KeysUsage by lower-case key id, for the key list.
func (s *Service) usageByKeyID(ctx context.Context) (map[string]KeyUsage, error) {
	keys, _, err := s.KeysUsage(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]KeyUsage, len(keys))
	for _, k := range keys {
		m[strings.ToLower(k.Key.ID)] = k
	}
	return m, nil
}

// FeedsUsage returns the usage of every feed, in feed creation order, then of
// deleted feeds whose usage is still kept.
func (s *Service) FeedsUsage(ctx context.Context) ([]FeedUsage, error) {
	list, err := s.st.ListFeeds(ctx)
	if err != nil {
		return nil, err
	}
	day, err := s.st.UsageTotals(ctx, s.usageSince(usageDay), store.UsageByFeed)
	if err != nil {
		return nil, err
	}
	month, err := s.st.UsageTotals(ctx, s.usageSince(usageMonth), store.UsageByKeyFeed)
	if err != nil {
		return nil, err
	}
	out := make([]FeedUsage, 0, len(list))
	byFeed := map[string]int{}
	for _, f := range list {
		byFeed[strings.ToLower(f.ID)] = len(out)
		out = append(out, FeedUsage{Feed: KeyFeed{ID: f.ID, Title: f.Title, Alias: f.Alias}})
	}
	at := func(id string) *FeedUsage {
		i, ok := byFeed[id]
		if !ok {
			i = len(out)
			byFeed[id] = i
			out = append(out, FeedUsage{Feed: KeyFeed{ID: id, Deleted: true}})
		}
		return &out[i]
	}
	for _, t := range month {
		if t.FeedID == "" {
			continue
		}
		u := at(t.FeedID)
		add(&u.Month, figures(t))
		if t.KeyID != store.UsageOverflowKey && t.Polls > 0 {
			u.Keys++
		}
		if t.LastPoll.After(u.LastPoll) {
			u.LastPoll, u.LastAddedAfter = t.LastPoll, t.LastAddedAfter
		}
	}
	for _, t := range day {
		at(t.FeedID).Day = figures(t)
	}
	return out, nil
}

// KeyDailyUsage returns the key FindKey resolves and its usage per UTC day over
// the last 30 days, oldest first, every day present (zero when unused): what a
// chart draws.
func (s *Service) KeyDailyUsage(ctx context.Context, idOrName string) (store.APIKey, []store.UsageDay, error) {
	k, err := s.FindKey(ctx, idOrName)
	if err != nil {
		return store.APIKey{}, nil, err
	}
	k.Hash = nil
	today := s.now().UTC().Truncate(usageDay)
	first := today.AddDate(0, 0, -(usageDays - 1))
	rows, err := s.st.UsageDaily(ctx, k.ID, first)
	if err != nil {
		return store.APIKey{}, nil, err
	}
	out := make([]store.UsageDay, usageDays)
	for i := range out {
		out[i].Day = first.AddDate(0, 0, i)
	}
	for _, r := range rows {
		if i := int(r.Day.Sub(first) / usageDay); i >= 0 && i < usageDays {
			out[i] = r
		}
	}
	return k, out, nil
}

func add(sum *UsageFigures, f UsageFigures) {
	sum.Requests += f.Requests
	sum.Polls += f.Polls
	sum.Objects += f.Objects
	sum.Bytes += f.Bytes
}

// feedIndex names feeds by id; a feed no longer stored is marked deleted.
type feedIndex map[string]store.Feed

func (s *Service) feedNames(ctx context.Context) (feedIndex, error) {
	list, err := s.st.ListFeeds(ctx)
	if err != nil {
		return nil, err
	}
	m := make(feedIndex, len(list))
	for _, f := range list {
		m[strings.ToLower(f.ID)] = f
	}
	return m, nil
}

func (m feedIndex) of(id string) KeyFeed {
	f, ok := m[strings.ToLower(id)]
	if !ok {
		return KeyFeed{ID: id, Deleted: true}
	}
	return KeyFeed{ID: f.ID, Title: f.Title, Alias: f.Alias}
}

// The admin API's view of usage: times in RFC 3339 UTC, null for never.

type usageFeedRef struct {
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	Alias   string `json:"alias,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

type keyFeedUsageJSON struct {
	Feed           usageFeedRef `json:"feed"`
	Last30d        UsageFigures `json:"last_30d"`
	LastPoll       *time.Time   `json:"last_poll"`
	LastAddedAfter *time.Time   `json:"last_added_after"`
}

type keyUsageJSON struct {
	ID             string             `json:"id"`
	Name           string             `json:"name"`
	Role           string             `json:"role"`
	LastUsedAt     *time.Time         `json:"last_used_at"`
	RevokedAt      *time.Time         `json:"revoked_at"`
	Last24h        UsageFigures       `json:"last_24h"`
	Last30d        UsageFigures       `json:"last_30d"`
	LastPoll       *time.Time         `json:"last_poll"`
	LastAddedAfter *time.Time         `json:"last_added_after"`
	Stopped        bool               `json:"stopped"`
	Feeds          []keyFeedUsageJSON `json:"feeds"`
}

type feedUsageJSON struct {
	Feed           usageFeedRef `json:"feed"`
	Last24h        UsageFigures `json:"last_24h"`
	Last30d        UsageFigures `json:"last_30d"`
	LastPoll       *time.Time   `json:"last_poll"`
	LastAddedAfter *time.Time   `json:"last_added_after"`
	Keys           int          `json:"keys"`
}

type usageDayJSON struct {
	Day string `json:"day"` // 2026-12-01
	UsageFigures
}

// optMicros is a µs timestamp as JSON: null for 0 (none).
func optMicros(us int64) *time.Time { return optTime(store.TimeOrZero(us)) }

func (a *API) usageOfKeys(w http.ResponseWriter, r *http.Request) {
	keys, unattributed, err := a.svc.KeysUsage(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]keyUsageJSON, 0, len(keys))
	for _, k := range keys {
		j := keyUsageJSON{ID: k.Key.ID, Name: k.Key.Name, Role: string(k.Key.Role), LastUsedAt: optTime(k.Key.LastUsedAt),
			RevokedAt: optTime(k.Key.RevokedAt), Last24h: k.Day, Last30d: k.Month, LastPoll: optTime(k.LastPoll),
			LastAddedAfter: optMicros(k.LastAddedAfter), Stopped: k.Stopped, Feeds: make([]keyFeedUsageJSON, 0, len(k.Feeds))}
		for _, f := range k.Feeds {
			j.Feeds = append(j.Feeds, keyFeedUsageJSON{Feed: usageFeedRef(f.Feed), Last30d: f.Month,
				LastPoll: optTime(f.LastPoll), LastAddedAfter: optMicros(f.LastAddedAfter)})
		}
		out = append(out, j)
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"items": out, "unattributed_30d": unattributed})
}

func (a *API) usageOfFeeds(w http.ResponseWriter, r *http.Request) {
	feeds, err := a.svc.FeedsUsage(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]feedUsageJSON, 0, len(feeds))
	for _, f := range feeds {
		out = append(out, feedUsageJSON{Feed: usageFeedRef(f.Feed), Last24h: f.Day, Last30d: f.Month,
			LastPoll: optTime(f.LastPoll), LastAddedAfter: optMicros(f.LastAddedAfter), Keys: f.Keys})
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) usageOfKeyDaily(w http.ResponseWriter, r *http.Request) {
	k, days, err := a.svc.KeyDailyUsage(r.Context(), pathParam(r, "key"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]usageDayJSON, len(days))
	for i, d := range days {
		out[i] = usageDayJSON{Day: d.Day.Format(time.DateOnly),
			UsageFigures: UsageFigures{Requests: d.Requests, Polls: d.Polls, Objects: d.Objects, Bytes: d.Bytes}}
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"key": map[string]string{"id": k.ID, "name": k.Name}, "days": out})
}
