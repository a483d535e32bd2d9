package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// chartDays is how many days the usage chart shows.
const chartDays = 30

// staleAfter marks a consumer that polled before but not for this long: Sentinel's
// connector polls every few minutes to hourly, so two days of silence is a broken
// connector, not a quiet one.
const staleAfter = 48 * time.Hour

// keyUsage is one key's line of the usage page.
type keyUsage struct {
	Key      store.APIKey
	Feeds    []string // feeds it polled
	LastPoll time.Time
	Polls    int64 // over the chart's days
	Stale    bool
	Chart    chart
}

// chart is a bar chart drawn as inline SVG, computed here so the page needs no script.
type chart struct {
	Width, Height int
	Bars          []bar
	Label         string // for screen readers
}

type bar struct {
	X, Y, W, H int
	Title      string
}

const (
	chartHeight = 60
	barWidth    = 10
	barGap      = 2
)

// newChart draws counts (one per day, oldest first, ending today).
func newChart(name string, days []time.Time, counts []int64) chart {
	var peak int64
	for _, n := range counts {
		peak = max(peak, n)
	}
	ch := chart{Width: len(counts) * (barWidth + barGap), Height: chartHeight}
	var total int64
	for i, n := range counts {
		total += n
		h := 0
		if peak > 0 {
			h = int(n * (chartHeight - 2) / peak)
			if n > 0 {
				h = max(h, 2)
			}
		}
		ch.Bars = append(ch.Bars, bar{X: i * (barWidth + barGap), Y: chartHeight - h, W: barWidth, H: h,
			Title: fmt.Sprintf("%s: %d polls", days[i].Format("2006-01-02"), n)})
	}
	ch.Label = fmt.Sprintf("Polls per day by %s over the last %d days: %d in all, at most %d in a day", name, len(counts), total, peak)
	return ch
}

// chartDaysEnding lists the UTC days of the chart, oldest first.
func chartDaysEnding(now time.Time) []time.Time {
	today := now.UTC().Truncate(24 * time.Hour)
	days := make([]time.Time, chartDays)
	for i := range days {
		days[i] = today.AddDate(0, 0, i-chartDays+1)
	}
	return days
}

type usageData struct {
	Keys  []keyUsage
	Stale int
}

// usagePage reads the hourly usage the aggregator (internal/usage) stores:
// totals per key and feed over the chart's days, and each key's polls per day.
func (c *console) usagePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	keys, err := c.st.ListKeys(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	feeds, err := c.st.ListFeeds(ctx)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	titles := map[string]string{}
	for _, f := range feeds {
		titles[strings.ToLower(f.ID)] = f.Title
	}
	now := c.o.Now()
	days := chartDaysEnding(now)
	since := days[0]
	totals, err := c.st.UsageTotals(ctx, since, store.UsageByKeyFeed)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	byKey := map[string][]store.UsageTotal{}
	for _, t := range totals {
		byKey[t.KeyID] = append(byKey[t.KeyID], t)
	}
	var d usageData
	for _, k := range keys {
		if !k.RevokedAt.IsZero() {
			continue
		}
		u := keyUsage{Key: k, LastPoll: k.LastUsedAt}
		for _, t := range byKey[k.ID] {
			u.Polls += t.Polls
			if t.LastPoll.After(u.LastPoll) {
				u.LastPoll = t.LastPoll
			}
			if t.FeedID != "" && t.Polls > 0 {
				title, ok := titles[strings.ToLower(t.FeedID)]
				if !ok {
					title = t.FeedID + " (deleted)"
				}
				u.Feeds = append(u.Feeds, title)
			}
		}
		daily, err := c.st.UsageDaily(ctx, k.ID, since)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		counts := make([]int64, len(days))
		for _, day := range daily {
			for i, d0 := range days {
				if d0.Equal(day.Day.UTC()) {
					counts[i] = day.Polls
				}
			}
		}
		u.Stale = !u.LastPoll.IsZero() && now.Sub(u.LastPoll) > staleAfter
		if u.Stale {
			d.Stale++
		}
		u.Chart = newChart(k.Name, days, counts)
		d.Keys = append(d.Keys, u)
	}
	c.render(w, r, http.StatusOK, "usage", page{Title: "Usage", Nav: "usage", Data: d})
}
