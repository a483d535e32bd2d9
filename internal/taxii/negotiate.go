package taxii

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

const (
	// MediaTypeTAXII is the Content-Type of every response (spec 3.1).
	MediaTypeTAXII = "application/taxii+json;version=2.1"
	// MediaTypeSTIX is the media type of the objects a collection holds.
	MediaTypeSTIX = "application/stix+json;version=2.1"
)

// negotiate answers 406 unless the client accepts TAXII 2.1 (spec 3.1), and
// sets the TAXII Content-Type first so that every response carries it.
// Get Object Manifests also lists application/stix+json;version=2.1 among the
// Accept values of its request (spec 5.3), and a media type defined for an
// endpoint must not be answered 406 (spec 3.1): there it is accepted too, and
// answered with the manifest as always.
func (h *handler) negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaTypeTAXII)
		accepted := []mediaType{taxii21}
		if h.isManifestPath(r.URL.Path) {
			accepted = append(accepted, stix21)
		}
		if !acceptable(r.Header.Values("Accept"), accepted...) {
			h.fail(w, r, errNotAcceptable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isManifestPath reports whether the request path p is
// {api-root}/collections/{id}/manifest, with or without its trailing slash.
func (h *handler) isManifestPath(p string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSuffix(p, "/"), h.root+"/collections/")
	if !ok {
		return false
	}
	id, tail, _ := strings.Cut(rest, "/")
	return id != "" && tail == "manifest"
}

// mediaType is a representation the server can send: a type and its version.
type mediaType struct{ typ, version string }

var (
	taxii21 = mediaType{"application/taxii+json", "2.1"}
	stix21  = mediaType{"application/stix+json", "2.1"}
)

// acceptable reports whether the Accept header values admit one of the
// representations: no Accept header admits anything. As RFC 7231 5.3.2 says,
// the most specific range that matches a representation gives its quality, so
// "application/taxii+json;version=2.1;q=0, */*" refuses TAXII 2.1 and
// "application/taxii+json;version=2.0, */*" admits it. A range naming another
// version does not match; one without a version matches any version (spec
// 1.6.8.2: the latest the server supports). Other parameters are ignored.
func acceptable(values []string, reps ...mediaType) bool {
	var ranges []mediaRange
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if rng, ok := parseMediaRange(s); ok {
				ranges = append(ranges, rng)
			}
		}
	}
	if len(ranges) == 0 {
		return allBlank(values)
	}
	for _, rep := range reps {
		best, q := -1, 0.0
		for _, rng := range ranges {
			if s := rng.specificity(rep); s > best {
				best, q = s, rng.q
			}
		}
		if best >= 0 && q > 0 {
			return true
		}
	}
	return false
}

// allBlank reports whether the header values hold nothing but commas and space.
func allBlank(values []string) bool {
	for _, v := range values {
		if strings.Trim(v, ", \t") != "" {
			return false
		}
	}
	return true
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, sub   string // lower case; "*" for a wildcard
	version    string // "" when absent
	hasVersion bool
	q          float64
}

// parseMediaRange reads "type/subtype *( OWS ; OWS param )" leniently: names are
// case-insensitive, values may be quoted, and whitespace around "=" is tolerated.
// A q that is not a number counts as 1. ok is false for an empty or typeless element.
func parseMediaRange(s string) (mediaRange, bool) {
	parts := strings.Split(s, ";")
	full := strings.ToLower(strings.TrimSpace(parts[0]))
	typ, sub, found := strings.Cut(full, "/")
	if !found || typ == "" || sub == "" {
		return mediaRange{}, false
	}
	rng := mediaRange{typ: typ, sub: sub, q: 1}
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(p, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.Trim(strings.TrimSpace(value), `"`)
		switch name {
		case "q":
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				rng.q = f
			}
		case "version":
			if !rng.hasVersion {
				rng.version, rng.hasVersion = value, true
			}
		}
	}
	return rng, true
}

// specificity ranks how closely the range matches rep: 3 for the type with the
// same version, 2 for the type without a version, 1 for type/*, 0 for */*; -1
// when it does not match at all.
func (rng mediaRange) specificity(rep mediaType) int {
	typ, sub, _ := strings.Cut(rep.typ, "/")
	switch {
	case rng.typ == "*" && rng.sub == "*":
		return 0
	case rng.typ == typ && rng.sub == "*":
		return 1
	case rng.typ == typ && rng.sub == sub && !rng.hasVersion:
		return 2
	case rng.typ == typ && rng.sub == sub && rng.version == rep.version:
		return 3
	}
	return -1
}

// isTAXIIContent reports whether a request Content-Type is a TAXII 2.1 envelope:
// application/taxii+json with version=2.1 or no version (spec 1.6.8: the
// latest, 2.1). Other parameters, such as charset, are ignored.
func isTAXIIContent(contentType string) bool {
	typ, params, err := mime.ParseMediaType(contentType)
	if err != nil || typ != "application/taxii+json" {
		return false
	}
	v, ok := params["version"]
	return !ok || v == "2.1"
}
