package taxii

import (
	"net/http"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// Identifiers and parameters that are not UTF-8 text, or hold a NUL, are a 400
// on every endpoint and every store, never a database error (Postgres refuses
// such strings).
func TestURLsThatAreNotText(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		before := seed(t, b)
		coll := b.root + "/collections/" + feedAllID
		for _, c := range []struct{ method, url string }{
			{http.MethodGet, b.root + "/collections/%FF/"},
			{http.MethodGet, b.root + "/collections/all%00/objects/"},
			{http.MethodGet, coll + "/objects/%FF%FE/"},
			{http.MethodGet, coll + "/objects/%00/"},
			{http.MethodGet, coll + "/objects/%FF/versions/"},
			{http.MethodGet, coll + "/objects/?match[id]=%FF"},
			{http.MethodGet, coll + "/objects/?match[type]=%00"},
			{http.MethodGet, coll + "/manifest/?match[id]=%FF%00"},
			{http.MethodGet, coll + "/objects/?match%FF=1"},
			{http.MethodGet, b.root + "/status/%FF"},
			{http.MethodDelete, coll + "/objects/%C0%AF/"},
			{http.MethodPost, coll + "%FF/objects/"},
			{http.MethodPost, coll + "/objects/?x=%00"},
		} {
			r := b.send(t, c.method, "admin", c.url, envelopeOf(indicator(50, mod1)))
			r.taxiiError(t, 400, "invalid UTF-8 or a NUL")
		}
		// Escaped text that is valid is fine.
		b.get(t, "reader", coll+"/objects/?match[type]=caf%C3%A9").ok(t)
		unchanged(t, b, before)
	})
}
