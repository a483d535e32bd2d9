package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
)

// KeyInput is a key to create.
type KeyInput struct {
	Name   string
	Role   string   // read-only, read-write or admin
	Feeds  []string // feed ids or aliases the key may use; empty: every feed
	Source string   // "": the key's name
}

// CreateKey validates in, stores a new key and returns its plaintext, to show
// once: only its hash is kept, and the plaintext is never logged nor audited.
func (s *Service) CreateKey(ctx context.Context, who Actor, in KeyInput) (string, store.APIKey, error) {
	if strings.TrimSpace(in.Name) == "" {
		return "", store.APIKey{}, invalid("name", "--name is required")
	}
	if !store.Role(in.Role).Valid() {
		return "", store.APIKey{}, invalid("role", "--role %q is not read-only, read-write or admin", in.Role)
	}
	var ids []string
	for _, f := range in.Feeds {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		feed, err := s.st.GetFeed(ctx, f)
		if isNotFound(err) {
			return "", store.APIKey{}, invalid("feeds", "no feed %q", f)
		}
		if err != nil {
			return "", store.APIKey{}, err
		}
		ids = append(ids, feed.ID)
	}
	plain, k, err := auth.Generate(in.Name, store.Role(in.Role), ids, s.now().UTC())
	if err != nil {
		return "", store.APIKey{}, err
	}
	k.Source = strings.TrimSpace(in.Source) // "": the store records the name
	if err := s.st.CreateKey(ctx, k); err != nil {
		return "", store.APIKey{}, err
	}
	if k.Source == "" {
		k.Source = k.Name
	}
	s.audit(ctx, who, "key.create", k.ID, fmt.Sprintf("name=%q role=%s feeds=%s source=%q", k.Name, k.Role, strings.Join(k.Feeds, ","), k.Source))
	return plain, k, nil
}

// KeyFeed is a feed a key is scoped to, as a list shows it.
type KeyFeed struct {
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	Alias   string `json:"alias,omitempty"`
	Deleted bool   `json:"deleted,omitempty"` // the feed no longer exists
}

// KeyView is a stored key with its scope resolved to feeds; never its secret nor hash.
type KeyView struct {
	store.APIKey
	Scope []KeyFeed // empty: every feed
}

// ListKeys returns every key, revoked ones included, by creation time, with the
// feeds of its scope named.
func (s *Service) ListKeys(ctx context.Context) ([]KeyView, error) {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	feeds, err := s.st.ListFeeds(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]store.Feed{}
	for _, f := range feeds {
		byID[strings.ToLower(f.ID)] = f
	}
	out := make([]KeyView, 0, len(keys))
	for _, k := range keys {
		v := KeyView{APIKey: k, Scope: []KeyFeed{}}
		v.Hash = nil
		for _, id := range k.Feeds {
			f, ok := byID[strings.ToLower(id)]
			v.Scope = append(v.Scope, KeyFeed{ID: id, Title: f.Title, Alias: f.Alias, Deleted: !ok})
		}
		out = append(out, v)
	}
	return out, nil
}

// keyView resolves the scope of one key.
func (s *Service) keyView(ctx context.Context, k store.APIKey) (KeyView, error) {
	v := KeyView{APIKey: k, Scope: []KeyFeed{}}
	v.Hash = nil
	for _, id := range k.Feeds {
		f, err := s.st.GetFeed(ctx, id)
		switch {
		case isNotFound(err):
			v.Scope = append(v.Scope, KeyFeed{ID: id, Deleted: true})
		case err != nil:
			return KeyView{}, err
		default:
			v.Scope = append(v.Scope, KeyFeed{ID: id, Title: f.Title, Alias: f.Alias})
		}
	}
	return v, nil
}

// FindKey resolves a key by its id or, when unambiguous among active keys, by
// its name. An ambiguous name is refused (ErrConflict) with the candidates.
func (s *Service) FindKey(ctx context.Context, idOrName string) (store.APIKey, error) {
	keys, err := s.st.ListKeys(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	var active, revoked []store.APIKey
	for _, k := range keys {
		if strings.EqualFold(k.ID, idOrName) {
			return k, nil
		}
		if k.Name == idOrName {
			if k.RevokedAt.IsZero() {
				active = append(active, k)
			} else {
				revoked = append(revoked, k)
			}
		}
	}
	switch {
	case len(active) == 1:
		return active[0], nil
	case len(active) > 1:
		var b strings.Builder
		fmt.Fprintf(&b, "%d active keys are named %q; give the id of one:", len(active), idOrName)
		for _, k := range active {
			fmt.Fprintf(&b, "\n  %s  %s  created %s  last used %s", k.ID, k.Role, When(k.CreatedAt), When(k.LastUsedAt))
		}
		return store.APIKey{}, &Error{Err: store.ErrConflict, Message: b.String(), Candidates: active}
	case len(revoked) > 0:
		return store.APIKey{}, conflict("", "the key named %q is already revoked (%s)", idOrName, When(revoked[len(revoked)-1].RevokedAt))
	}
	return store.APIKey{}, notFound("no key has the id or name %q (see key list)", idOrName)
}

// RevokeKey revokes the key FindKey resolves and returns it as it was.
func (s *Service) RevokeKey(ctx context.Context, who Actor, idOrName string) (store.APIKey, error) {
	k, err := s.FindKey(ctx, idOrName)
	if err != nil {
		return store.APIKey{}, err
	}
	if !k.RevokedAt.IsZero() {
		return store.APIKey{}, conflict("", "key %s (%s) is already revoked (%s)", k.ID, k.Name, When(k.RevokedAt))
	}
	if err := s.st.RevokeKey(ctx, k.ID); err != nil {
		return store.APIKey{}, err
	}
	s.audit(ctx, who, "key.revoke", k.ID, fmt.Sprintf("name=%q", k.Name))
	return k, nil
}
