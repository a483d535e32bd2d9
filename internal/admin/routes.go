package admin

import "net/http"

// routes is the admin API, one line per endpoint, relative to Prefix. Each
// capability adds its lines here and its handlers in its own file.
func (a *API) routes() []route {
	return []route{
		{http.MethodGet, "/feeds", a.listFeeds},              // with object counts and newest date_added
		{http.MethodPost, "/feeds", a.createFeed},            // 201, the new feed
		{http.MethodGet, "/feeds/{feed}", a.getFeed},         // with a preview of its first objects
		{http.MethodPatch, "/feeds/{feed}", a.updateFeed},    // absent fields kept; the id never changes
		{http.MethodDelete, "/feeds/{feed}", a.deleteFeed},   // not the default feed (409)
		{http.MethodGet, "/keys", a.listKeys},                // never a secret
		{http.MethodPost, "/keys", a.createKey},              // 201; the secret is in this answer only
		{http.MethodPost, "/keys/{key}/revoke", a.revokeKey}, // by id, or by an unambiguous name
	}
}
