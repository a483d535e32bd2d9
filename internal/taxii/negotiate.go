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
func (h *handler) negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaTypeTAXII)
		if !acceptsTAXII(r.Header.Values("Accept")) {
			h.fail(w, r, errNotAcceptable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// acceptsTAXII reports whether an Accept header admits application/taxii+json
// version 2.1: that type with version=2.1 or no version, application/*, */*, or
// no Accept header at all. A range with q=0 admits nothing.
func acceptsTAXII(values []string) bool {
	seen := false
	for _, v := range values {
		for _, rng := range strings.Split(v, ",") {
			if strings.TrimSpace(rng) == "" {
				continue
			}
			seen = true
			if rangeAcceptsTAXII(rng) {
				return true
			}
		}
	}
	return !seen
}

func rangeAcceptsTAXII(rng string) bool {
	typ, params, err := mime.ParseMediaType(rng)
	if err != nil {
		// mime rejects some ranges clients send, e.g. "*/*;q=0.8 " with odd spacing;
		// fall back to the bare type.
		typ = strings.ToLower(strings.TrimSpace(strings.SplitN(rng, ";", 2)[0]))
		params = nil
	}
	if q, ok := params["q"]; ok {
		if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
			return false
		}
	}
	switch typ {
	case "*/*", "application/*":
		return true
	case "application/taxii+json":
		v, ok := params["version"]
		return !ok || v == "2.1"
	}
	return false
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
