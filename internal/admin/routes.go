package admin

import "net/http"

// routes is the admin API, one line per endpoint, relative to Prefix. Each
// capability adds its lines here and its handlers in its own file.
func (a *API) routes() []route {
	return []route{
		{http.MethodGet, "/feeds", a.listFeeds},                        // with object counts and newest date_added; limit, after
		{http.MethodPost, "/feeds", a.createFeed},                      // 201, the new feed
		{http.MethodPost, "/feeds/count", a.countFilter},               // objects a filter not yet saved would show (bounded)
		{http.MethodGet, "/feeds/{feed}", a.getFeed},                   // with counts and a preview of its first objects
		{http.MethodPatch, "/feeds/{feed}", a.updateFeed},              // absent fields kept; the id never changes
		{http.MethodDelete, "/feeds/{feed}", a.deleteFeed},             // not the default feed (409)
		{http.MethodGet, "/keys", a.listKeys},                          // never a secret; limit, after
		{http.MethodPost, "/keys", a.createKey},                        // 201; the secret is in this answer only
		{http.MethodPost, "/keys/{key}/revoke", a.revokeKey},           // by id, or by an unambiguous name
		{http.MethodPost, "/keys/{key}/rotate", a.rotateKey},           // new secret, same key; the old one valid for a grace period
		{http.MethodGet, "/sources", a.listSources},                    // provenance sources with object counts; limit, after
		{http.MethodGet, "/audit", a.listAudit},                        // admin actions, newest first; limit, before
		{http.MethodGet, "/usage/keys", a.usageOfKeys},                 // per key: last 24 h and 30 d, last poll, feeds polled
		{http.MethodGet, "/usage/feeds", a.usageOfFeeds},               // per feed: last 24 h and 30 d, last poll, keys polling
		{http.MethodGet, "/usage/keys/{key}/daily", a.usageOfKeyDaily}, // a key's last 30 days, one entry per UTC day
		{http.MethodPost, "/imports", a.startImport},                   // 202, the job once the body is stored
		{http.MethodGet, "/imports", a.listImports},                    // newest first, running ones too
		{http.MethodGet, "/imports/{import}", a.getImport},             // counts, polled while it runs
	}
}
