package taxii

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
)

// endpoint names a paged endpoint; it decides which URL parameters apply (spec 3.4
// and the tables of 5.3, 5.4, 5.6, 5.8) and is part of every cursor's binding.
type endpoint string

const (
	endpointObjects  endpoint = "objects"  // added_after, limit, next, match[id,type,version,spec_version]
	endpointManifest endpoint = "manifest" // same as objects
	endpointObject   endpoint = "object"   // added_after, limit, next, match[version,spec_version]
	endpointVersions endpoint = "versions" // added_after, limit, next, match[spec_version]
)

func (e endpoint) supportsIDAndType() bool { return e == endpointObjects || e == endpointManifest }
func (e endpoint) supportsVersion() bool   { return e != endpointVersions }

// listQuery turns the URL parameters of a paged request into a store query and
// the binding its cursors carry. Parameters an endpoint does not support are
// ignored, as are empty values; a supported parameter with a bad value is 400.
func (h *handler) listQuery(r *http.Request, ep endpoint, f store.Feed, objectID string) (store.Query, binding, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return store.Query{}, binding{}, badRequest("invalid_parameter", "The query string is malformed: %v.", err)
	}
	q := store.Query{Feed: f.Filter, Limit: h.opts.DefaultPageSize}

	if v, err := single(values, "limit"); err != nil {
		return q, binding{}, err
	} else if v != "" {
		if q.Limit, err = parseLimit(v, h.opts.MaxPageSize); err != nil {
			return q, binding{}, err
		}
	}
	if v, err := single(values, "added_after"); err != nil {
		return q, binding{}, err
	} else if v != "" {
		t, err := store.ParseTimestamp(unplus(v))
		if err != nil {
			return q, binding{}, badRequest("invalid_parameter",
				"added_after %q is not an RFC 3339 timestamp such as 2026-01-02T03:04:05.123456Z.", v)
		}
		// date_added values are whole microseconds, so "> truncated" is exact.
		q.AddedAfter = store.Micros(t)
	}

	if ep.supportsIDAndType() {
		if q.IDs, err = matchList(values, "id", h.opts.MaxMatchIDs); err != nil {
			return q, binding{}, err
		}
		if q.Types, err = matchList(values, "type", h.opts.MaxMatchValues); err != nil {
			return q, binding{}, err
		}
	} else {
		q.IDs = []string{objectID}
	}
	versionKeys := []string{"all"}
	q.Versions = store.VersionMatch{All: true}
	if ep.supportsVersion() {
		vals, err := matchList(values, "version", h.opts.MaxMatchValues)
		if err != nil {
			return q, binding{}, err
		}
		if q.Versions, versionKeys, err = parseVersions(vals); err != nil {
			return q, binding{}, err
		}
	}
	if q.SpecVersions, err = matchList(values, "spec_version", h.opts.MaxMatchValues); err != nil {
		return q, binding{}, err
	}
	q.NoRaw = ep == endpointManifest || ep == endpointVersions

	// The cursor belongs to this collection, endpoint, object, key and filter set.
	// With next, a request must repeat the match filters of the first one: the
	// cursor carries only their hash, and the OASIS client repeats them. Omitting
	// them changes the query (to the default filters), and that is refused too.
	// limit and added_after may change between pages.
	b := newBinder().
		str(f.ID).str(string(ep)).str(objectID).str(auth.FromContext(r.Context()).KeyID).
		list(q.IDs).list(q.Types).list(versionKeys).list(q.SpecVersions).
		sum()

	next, err := single(values, "next")
	if err != nil || next == "" {
		return q, b, err
	}
	pos, err := h.cursors.decode(next, b)
	switch {
	case errors.Is(err, errCursorGarbled):
		return q, b, badRequest("invalid_next",
			"next is not a value this server issued: it could not be decoded. Send the next value of the previous response unchanged.")
	case errors.Is(err, errCursorForged):
		return q, b, badRequest("invalid_next",
			"next failed its integrity check: it was altered, or was not issued by this server.")
	case errors.Is(err, errCursorForeign):
		return q, b, badRequest("invalid_next",
			"next belongs to another query: send it to the same collection and endpoint, with the same API key and the same match[...] parameters as the request that returned it (limit and added_after may change).")
	case err != nil:
		return q, b, err
	}
	q.After = pos
	return q, b, nil
}

// single returns the one value of a single-valued parameter, trimmed; "" when absent.
func single(values url.Values, name string) (string, error) {
	vs := values[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vs[0]), nil
	}
	if strings.HasPrefix(name, "match[") {
		return "", badRequest("invalid_parameter", "%s is given %d times; give it once, its values comma-separated.", name, len(vs))
	}
	return "", badRequest("invalid_parameter", "%s is given %d times; give it once.", name, len(vs))
}

// parseLimit accepts a positive integer and caps it at max.
func parseLimit(v string, maxLimit int) (int, error) {
	n, err := strconv.Atoi(v)
	var ne *strconv.NumError
	if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		return maxLimit, nil
	}
	if err != nil || n < 1 {
		return 0, badRequest("invalid_parameter", "limit %q is not a positive integer (the largest page is %d).", v, maxLimit)
	}
	return min(n, maxLimit), nil
}

// matchList returns the values of match[field]: comma-separated, trimmed,
// without empties or duplicates, sorted (order never matters: they are ORed).
// Spec 3.4.1: a field MUST NOT occur more than once in a request. More than
// maxValues distinct values are refused.
func matchList(values url.Values, field string, maxValues int) ([]string, error) {
	name := "match[" + field + "]"
	v, err := single(values, name)
	if err != nil || v == "" {
		return nil, err
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxValues {
		return nil, badRequest("invalid_parameter",
			"%s lists %d values; at most %d are allowed in one request. Split the list over several requests.", name, len(out), maxValues)
	}
	return out, nil
}

// parseVersions reads match[version]: last (the default), first, all, or version
// timestamps. It also returns the normalised form the cursor binding hashes.
func parseVersions(vals []string) (store.VersionMatch, []string, error) {
	if len(vals) == 0 {
		return store.VersionMatch{Last: true}, []string{"last"}, nil
	}
	var m store.VersionMatch
	for _, v := range vals {
		switch v {
		case "all":
			m.All = true
		case "first":
			m.First = true
		case "last":
			m.Last = true
		default:
			t, err := store.ParseTimestamp(unplus(v))
			if err != nil {
				return m, nil, badRequest("invalid_parameter",
					"match[version] value %q is not last, first, all or an RFC 3339 timestamp.", v)
			}
			k, _ := store.VersionKey(unplus(v)) // parses as above
			m.Times = append(m.Times, k)
			if t.Nanosecond()%1000 == 0 {
				// Objects without created or modified show their date_added as version.
				m.DateAdded = append(m.DateAdded, store.Micros(t))
			}
		}
	}
	if m.All && len(vals) > 1 {
		return m, nil, badRequest("invalid_parameter",
			"match[version]=all selects every version; it cannot be combined with other values (got %q).", strings.Join(vals, ","))
	}
	if m.All {
		return m, []string{"all"}, nil
	}
	slices.Sort(m.Times)
	m.Times = slices.Compact(m.Times)
	var keys []string
	if m.First {
		keys = append(keys, "first")
	}
	if m.Last {
		keys = append(keys, "last")
	}
	return m, append(keys, m.Times...), nil
}

// unplus undoes a client's unescaped "+" in a timestamp offset, which the query
// string decodes to a space; a timestamp never contains a space otherwise.
func unplus(ts string) string { return strings.ReplaceAll(ts, " ", "+") }

// deleteFilters reads the parameters of Delete an Object (spec 5.7): match[version]
// and match[spec_version]; others are ignored, as on every endpoint. Without
// match[version] every version goes: a DELETE of /objects/{id}/ deletes the
// object, so that Get an Object then answers 404 (spec 5.7). The "last" default
// of match[version] (spec 3.4.1) is a reading default; it would leave the earlier
// versions, and the object, in place. match[version]=last deletes only the latest.
func deleteFilters(r *http.Request, maxValues int) (store.VersionMatch, []string, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return store.VersionMatch{}, nil, badRequest("invalid_parameter", "The query string is malformed: %v.", err)
	}
	vals, err := matchList(values, "version", maxValues)
	if err != nil {
		return store.VersionMatch{}, nil, err
	}
	vm := store.VersionMatch{All: true}
	if len(vals) > 0 {
		if vm, _, err = parseVersions(vals); err != nil {
			return vm, nil, err
		}
	}
	specs, err := matchList(values, "spec_version", maxValues)
	return vm, specs, err
}

// plainURL refuses (400) a request whose path or query, once unescaped, is not
// UTF-8 text or holds a NUL: no collection, object, status or filter value can
// be named so, and a database would fail on it rather than find nothing.
func (h *handler) plainURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := !plainText(r.URL.Path)
		// A malformed query string is the parameters' business (listQuery); the
		// values it could parse are checked here.
		values, _ := url.ParseQuery(r.URL.RawQuery)
		for k, vs := range values {
			bad = bad || !plainText(k)
			for _, v := range vs {
				bad = bad || !plainText(v)
			}
		}
		if bad {
			h.fail(w, r, badRequest("invalid_parameter", "The request URL holds invalid UTF-8 or a NUL character once unescaped; identifiers and parameters are UTF-8 text."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func plainText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
