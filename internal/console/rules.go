package console

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
)

// formError is a refusal of one form field ("" for the whole form).
type formError struct {
	field string
	msg   string
}

func (e formError) Error() string { return e.msg }

// refusal turns a refusal of package feed ("--types: ...") into one of the field it names.
func refusal(err error) formError {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "--"); ok {
		if name, text, ok := strings.Cut(rest, ": "); ok {
			return formError{name, text}
		}
	}
	return formError{"", msg}
}

// fieldOf is where a form shows err: next to its field for a refusal.
func fieldOf(err error) fieldErrors {
	var fe formError
	if errors.As(err, &fe) {
		return fieldErrors{fe.field: fe.msg}
	}
	return fieldErrors{"": err.Error()}
}

// feedInput is a feed form as submitted: the feed's fields and one value per
// filter of package feed, in the CLI flags' syntax.
type feedInput struct {
	Title, Description, Alias string
	Writable                  bool
	Filter                    map[string]string
}

// applyFeed sets in f what in says, with the rules of package feed (every filter
// through feed.Set, then feed.Validate against the stored types).
func applyFeed(ctx context.Context, st store.Feeds, in feedInput, f *store.Feed) error {
	f.Title, f.Description, f.Alias, f.Writable = strings.TrimSpace(in.Title), strings.TrimSpace(in.Description), strings.TrimSpace(in.Alias), in.Writable
	if f.Title == "" {
		return formError{"title", "A feed needs a title."}
	}
	if f.Alias != "" && (strings.ContainsAny(f.Alias, "/?#% ") || len(f.Alias) > 200) {
		return formError{"alias", "An alias must be a URL path segment (no / ? # % or spaces)."}
	}
	for _, fl := range feed.Flags {
		if err := feed.Set(&f.Filter, fl.Name, in.Filter[fl.Name]); err != nil {
			return refusal(err)
		}
	}
	var stored []string
	for _, t := range slices.Concat(f.Filter.Types, f.Filter.ExcludeTypes) {
		if !slices.Contains(feed.STIXTypes, t) && !strings.HasPrefix(t, "x-") {
			var err error
			if stored, err = st.ObjectTypes(ctx); err != nil {
				return err
			}
			break
		}
	}
	if err := feed.Validate(f.Filter, stored); err != nil {
		return refusal(err)
	}
	return nil
}

func conflictAlias(alias string) error {
	return formError{"alias", fmt.Sprintf("The alias %q is already another feed's.", alias)}
}

// keyInput is a key form as submitted.
type keyInput struct {
	Name, Role, Source string
	Feeds              []string // feed ids
}

// createKey stores a new key made by auth.Generate and returns its plaintext.
func createKey(ctx context.Context, st store.Store, in keyInput, now time.Time) (string, store.APIKey, error) {
	if strings.TrimSpace(in.Name) == "" {
		return "", store.APIKey{}, formError{"name", "A key needs a name."}
	}
	if !store.Role(in.Role).Valid() {
		return "", store.APIKey{}, formError{"role", "Choose read-only, read-write or admin."}
	}
	var ids []string
	for _, id := range in.Feeds {
		f, err := st.GetFeed(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", store.APIKey{}, formError{"feeds", fmt.Sprintf("There is no feed %q.", id)}
		}
		if err != nil {
			return "", store.APIKey{}, err
		}
		ids = append(ids, f.ID)
	}
	plain, k, err := auth.Generate(strings.TrimSpace(in.Name), store.Role(in.Role), ids, now.UTC())
	if err != nil {
		return "", store.APIKey{}, err
	}
	k.Source = strings.TrimSpace(in.Source)
	if err := st.CreateKey(ctx, k); err != nil {
		return "", store.APIKey{}, err
	}
	return plain, k, nil
}
