package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
)

// FeedStats is what a feed holds: the versions a poller sees and the newest date_added (µs; 0: none).
type FeedStats struct {
	Objects int64
	Newest  int64
}

// statsCache keeps each feed's counts for a while: a count is a query per feed,
// and a console that lists feeds must not cost one round of them per page view.
// The key includes the filter, so an update is never served stale counts of the old one.
type statsCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cachedStats
}

type cachedStats struct {
	at    time.Time
	stats FeedStats
}

func statsKey(f store.Feed) string {
	b, _ := json.Marshal(f.Filter)
	return f.ID + "\x00" + string(b)
}

// FeedStats returns the counts of f, from the cache when fresh.
func (s *Service) FeedStats(ctx context.Context, f store.Feed) (FeedStats, error) {
	key, now := statsKey(f), s.now()
	s.stats.mu.Lock()
	c, ok := s.stats.m[key]
	s.stats.mu.Unlock()
	if ok && now.Sub(c.at) < s.stats.ttl {
		return c.stats, nil
	}
	n, newest, err := s.st.FeedStats(ctx, f.Filter)
	if err != nil {
		return FeedStats{}, err
	}
	st := FeedStats{Objects: n, Newest: newest}
	s.stats.mu.Lock()
	for k, v := range s.stats.m { // drop what expired, so deleted feeds do not pile up
		if now.Sub(v.at) >= s.stats.ttl {
			delete(s.stats.m, k)
		}
	}
	s.stats.m[key] = cachedStats{at: now, stats: st}
	s.stats.mu.Unlock()
	return st, nil
}

// PreviewRow is one object of a feed's preview.
type PreviewRow struct {
	ID        string
	Type      string
	Version   string
	DateAdded int64
	Object    json.RawMessage
}

// Preview returns the first objects of a feed, as a poller without added_after
// sees them, at most Options.PreviewObjects.
func (s *Service) Preview(ctx context.Context, f store.Feed) ([]PreviewRow, error) {
	out := []PreviewRow{}
	if s.opts.PreviewObjects < 1 {
		return out, nil
	}
	err := s.st.ScanObjects(ctx, store.Query{Feed: f.Filter, Limit: s.opts.PreviewObjects},
		func(store.Page) error { return nil },
		func(r store.Row) error {
			out = append(out, PreviewRow{ID: r.ID, Type: r.Type, Version: r.Version, DateAdded: r.DateAdded,
				Object: json.RawMessage(append([]byte(nil), r.Raw...))})
			return nil
		})
	return out, err
}

// FilterFrom validates filter values (the names and forms of feed.Flags) into a
// filter, by the rules of feed create.
func (s *Service) FilterFrom(ctx context.Context, values map[string]string) (store.FeedFilter, error) {
	f := store.Feed{Title: "count"}
	if err := s.apply(ctx, FeedChange{Filter: values}, &f); err != nil {
		return store.FeedFilter{}, err
	}
	return f.Filter, nil
}

// CountFilter counts the objects a filter not yet saved would show, within
// Options.CountTimeout and up to Options.CountMax (capped reports reaching it).
func (s *Service) CountFilter(ctx context.Context, values map[string]string) (n int64, capped bool, err error) {
	f, err := s.FilterFrom(ctx, values)
	if err != nil {
		return 0, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CountTimeout)
	defer cancel()
	n, err = s.st.CountFilter(ctx, f, s.opts.CountMax)
	if err != nil && ctx.Err() != nil {
		return 0, false, fmt.Errorf("count within %s: %w", s.opts.CountTimeout, store.ErrBusy)
	}
	return n, n >= s.opts.CountMax, err
}

// RotateKey gives the key FindKey resolves a new secret, keeping its id and
// settings; the old secret stays valid for grace (nil: Options.RotateGrace, at
// most Options.MaxRotateGrace). It returns the new plaintext, shown once.
func (s *Service) RotateKey(ctx context.Context, who Actor, idOrName string, grace *time.Duration) (string, store.APIKey, error) {
	g := s.opts.RotateGrace
	if grace != nil {
		g = *grace
	}
	if g < 0 || g > s.opts.MaxRotateGrace {
		return "", store.APIKey{}, invalid("grace", "grace %s must be between 0 and %s", g, s.opts.MaxRotateGrace)
	}
	k, err := s.FindKey(ctx, idOrName)
	if err != nil {
		return "", store.APIKey{}, err
	}
	if !k.RevokedAt.IsZero() {
		return "", store.APIKey{}, conflict("", "key %s (%s) is revoked (%s): create a new one", k.ID, k.Name, When(k.RevokedAt))
	}
	plain, hash, err := auth.Regenerate(k.ID)
	if err != nil {
		return "", store.APIKey{}, err
	}
	until := s.now().Add(g).UTC().Truncate(time.Microsecond)
	if err := s.st.RotateKey(ctx, k.ID, hash, until); err != nil {
		if isNotFound(err) {
			return "", store.APIKey{}, notFound("no active key %s (revoked meanwhile?)", k.ID)
		}
		return "", store.APIKey{}, err
	}
	s.audit(ctx, who, "key.rotate", k.ID, fmt.Sprintf("name=%q old secret valid until %s", k.Name, When(until)))
	k.Hash, k.PrevHash, k.PrevValidUntil = nil, nil, until
	return plain, k, nil
}

// ListSources returns every source with its object count.
func (s *Service) ListSources(ctx context.Context) ([]store.SourceCount, error) {
	return s.st.ListSources(ctx)
}

// ListAudit returns a page of the audit log, newest first: entries with an id
// below before (0: the newest), at most limit (bounded by the list limits).
func (s *Service) ListAudit(ctx context.Context, before int64, limit int) ([]store.AuditEntry, error) {
	return s.st.ListAudit(ctx, before, s.Limit(limit))
}

// Limit is the page size for a requested limit: the default for 0 or less, capped at the maximum.
func (s *Service) Limit(requested int) int {
	if requested <= 0 {
		return s.opts.ListLimit
	}
	return min(requested, s.opts.MaxListLimit)
}

// TrimAudit applies the audit log's retention once.
func (s *Service) TrimAudit(ctx context.Context) (int, error) {
	return s.st.TrimAudit(ctx, s.now().Add(-s.opts.AuditRetention), s.opts.AuditMaxRows)
}

// TrimAuditEvery applies the retention every interval until ctx ends. Every
// replica may run it: the delete is idempotent.
func (s *Service) TrimAuditEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.TrimAudit(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("trim audit log", zap.Error(err))
			} else if n > 0 {
				s.log.Info("trimmed audit log", zap.Int("deleted", n))
			}
		}
	}
}

// audit records an action in the audit log. The action is done: a failed
// record is logged, not returned. Detail never carries a secret.
func (s *Service) audit(ctx context.Context, who Actor, action, target, detail string) {
	e := store.AuditEntry{At: s.now().UTC().Truncate(time.Microsecond), Actor: who.Name, ActorKeyID: who.KeyID,
		Address: who.Address, Action: action, Target: target, Detail: detail}
	if err := s.st.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("record admin action in the audit log", zap.String("action", action), zap.String("target", target),
			zap.String("actor", who.Name), zap.Error(err))
		return
	}
	s.log.Info("admin action", zap.String("actor", who.Name), zap.String("actor_key_id", who.KeyID),
		zap.String("client", who.Address), zap.String("action", action), zap.String("target", target))
}
