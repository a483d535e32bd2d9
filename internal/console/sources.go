package console

import (
	"net/http"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
)

type upstreamRow struct {
	U   store.Upstream
	URL string // credentials redacted
}

type sourcesData struct {
	Sources   []store.SourceCount
	Upstreams []upstreamRow
}

// sourceList shows where stored content came from, and the upstream pulls
// (never their credentials).
func (c *console) sourceList(w http.ResponseWriter, r *http.Request) {
	srcs, err := c.st.ListSources(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ups, err := c.st.ListUpstreams(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := sourcesData{Sources: srcs}
	for _, u := range ups {
		d.Upstreams = append(d.Upstreams, upstreamRow{U: u, URL: config.RedactSecrets(u.URL)})
	}
	c.render(w, r, http.StatusOK, "sources", page{Title: "Sources", Nav: "sources", Data: d})
}
