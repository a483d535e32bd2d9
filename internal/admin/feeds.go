package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/export"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
)

// FeedChange is what a create or update sets; nil fields and absent filters
// keep their value (on create: empty). Filter maps the names of feed.Flags to
// values in their command-line form ("indicator,malware", "amber", "true").
type FeedChange struct {
	Title       *string
	Description *string
	Alias       *string
	Writable    *bool
	// Format and Template set the feed's default export format ("json" is stored as
	// none); a format other than custom drops the template.
	Format   *string
	Template *string
	Filter   map[string]string
}

// apply sets on f what c sets, and validates the result. Nothing is stored on error.
func (s *Service) apply(ctx context.Context, c FeedChange, f *store.Feed) error {
	if c.Title != nil {
		f.Title = *c.Title
	}
	if c.Description != nil {
		f.Description = *c.Description
	}
	if c.Alias != nil {
		f.Alias = *c.Alias
	}
	if c.Writable != nil {
		f.Writable = *c.Writable
	}
	if c.Format != nil {
		f.ExportFormat = *c.Format
		if f.ExportFormat == "json" {
			f.ExportFormat = ""
		}
		if f.ExportFormat != "custom" {
			f.ExportTemplate = ""
		}
	}
	if c.Template != nil {
		f.ExportTemplate = *c.Template
	}
	if err := export.CheckFormat(f.ExportFormat, f.ExportTemplate, s.opts.MaxTemplateLength); err != nil {
		field := "format"
		if c.Template != nil {
			field = "template"
		}
		return invalid(field, "--format/--template: %s", err.Error())
	}
	if strings.TrimSpace(f.Title) == "" {
		return invalid("title", "--title must not be empty")
	}
	if f.Alias != "" && (strings.ContainsAny(f.Alias, "/?#% ") || len(f.Alias) > 200) {
		return invalid("alias", "--alias must be a URL path segment (no / ? # %% or spaces)")
	}
	for name := range c.Filter {
		if !slices.ContainsFunc(feed.Flags, func(fl feed.Flag) bool { return fl.Name == name }) {
			return invalid(name, "unknown feed filter %q", name)
		}
	}
	for _, fl := range feed.Flags { // in the order help shows them: the first error is stable
		if v, ok := c.Filter[fl.Name]; ok {
			if err := feed.Set(&f.Filter, fl.Name, v); err != nil {
				return invalid(fl.Name, "%s", err.Error())
			}
		}
	}
	return s.validateFilter(ctx, f.Filter)
}

// validateFilter checks a filter's types, asking the store only about the
// types only it can vouch for.
func (s *Service) validateFilter(ctx context.Context, f store.FeedFilter) error {
	var stored []string
	if unknownTypes(f) {
		var err error
		if stored, err = s.st.ObjectTypes(ctx); err != nil {
			return err
		}
	}
	if err := feed.Validate(f, stored); err != nil {
		field := "types"
		if strings.HasPrefix(err.Error(), "--exclude-types") {
			field = "exclude-types"
		}
		return invalid(field, "%s", err.Error())
	}
	return nil
}

// unknownTypes reports whether the filter names a type only the store can vouch for.
func unknownTypes(f store.FeedFilter) bool {
	for _, t := range slices.Concat(f.Types, f.ExcludeTypes) {
		if !slices.Contains(feed.STIXTypes, t) && !strings.HasPrefix(t, "x-") {
			return true
		}
	}
	return false
}

// CreateFeed validates c and stores a new feed with a new id.
func (s *Service) CreateFeed(ctx context.Context, who Actor, c FeedChange) (store.Feed, error) {
	if c.Title == nil {
		return store.Feed{}, invalid("title", "--title is required")
	}
	f := store.Feed{ID: uuid.NewString(), CreatedAt: s.now().UTC()}
	if err := s.apply(ctx, c, &f); err != nil {
		return store.Feed{}, err
	}
	if err := s.st.CreateFeed(ctx, f); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Feed{}, conflict("alias", "alias %q is already used", f.Alias)
		}
		return store.Feed{}, err
	}
	s.audit(ctx, who, "feed.create", f.ID, fmt.Sprintf("title=%q alias=%q writable=%t filter=%q", f.Title, f.Alias, f.Writable, feed.Describe(f.Filter)))
	return f, nil
}

// GetFeed finds a feed by id or alias.
func (s *Service) GetFeed(ctx context.Context, idOrAlias string) (store.Feed, error) {
	f, err := s.st.GetFeed(ctx, idOrAlias)
	if isNotFound(err) {
		return store.Feed{}, notFound("no feed %q", idOrAlias)
	}
	return f, err
}

// UpdateFeed applies c to the feed named by id or alias, keeping its id and
// creation time. The default feed's filter cannot change.
func (s *Service) UpdateFeed(ctx context.Context, who Actor, idOrAlias string, c FeedChange) (store.Feed, error) {
	old, err := s.GetFeed(ctx, idOrAlias)
	if err != nil {
		return store.Feed{}, err
	}
	f := old
	if err := s.apply(ctx, c, &f); err != nil {
		return store.Feed{}, err
	}
	if err := feed.CheckUpdate(old, f); err != nil {
		return store.Feed{}, conflict("", "%s", err.Error())
	}
	if err := s.st.UpdateFeed(ctx, f); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			return store.Feed{}, conflict("alias", "alias %q is already used", f.Alias)
		case isNotFound(err):
			return store.Feed{}, notFound("no feed %q", idOrAlias)
		}
		return store.Feed{}, err
	}
	s.audit(ctx, who, "feed.update", f.ID, fmt.Sprintf("title=%q alias=%q writable=%t filter=%q", f.Title, f.Alias, f.Writable, feed.Describe(f.Filter)))
	return f, nil
}

// DeleteFeed deletes the feed named by id or alias (never the default feed; its
// objects stay) and returns it with the active keys that were scoped to it,
// which can no longer read it.
func (s *Service) DeleteFeed(ctx context.Context, who Actor, idOrAlias string) (store.Feed, []store.APIKey, error) {
	f, err := s.GetFeed(ctx, idOrAlias)
	if err != nil {
		return store.Feed{}, nil, err
	}
	if err := feed.CheckDelete(f); err != nil {
		return store.Feed{}, nil, conflict("", "%s", err.Error())
	}
	if err := s.st.DeleteFeed(ctx, f.ID); err != nil {
		if isNotFound(err) {
			return store.Feed{}, nil, notFound("no feed %q", idOrAlias)
		}
		return store.Feed{}, nil, err
	}
	s.audit(ctx, who, "feed.delete", f.ID, fmt.Sprintf("title=%q", f.Title))
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return f, nil, err
	}
	var scoped []store.APIKey
	for _, k := range keys {
		if k.RevokedAt.IsZero() && slices.Contains(k.Feeds, f.ID) {
			k.Hash = nil
			scoped = append(scoped, k)
		}
	}
	return f, scoped, nil
}

// ListFeeds returns every feed by creation time.
func (s *Service) ListFeeds(ctx context.Context) ([]store.Feed, error) { return s.st.ListFeeds(ctx) }
