package taxii

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
)

// routes is the whole TAXII API, one line per endpoint. Every path also works
// without its trailing slash (StripSlashes), and every response, errors included,
// is application/taxii+json;version=2.1 after negotiation and authentication.
func (h *handler) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(headAsGet, middleware.StripSlashes, h.negotiate, admit.ConnectionCap(h.fail),
		auth.Middleware(auth.Config{Keys: h.st, Log: h.log, Fail: h.fail}), admit.KeyCap(h.perKey, auth.KeyID, h.fail), h.plainURL)
	r.NotFound(h.notFound)
	r.MethodNotAllowed(h.methodNotAllowed(r))

	root := h.root
	rootInfo := root // the API root itself: "/" when it sits at the top
	if rootInfo == "" {
		rootInfo = "/"
	}
	r.Get("/taxii2", h.discovery)                                                       // 4.1 Server Discovery
	r.Get(rootInfo, h.apiRoot)                                                          // 4.2 Get API Root Information
	r.Get(root+"/status/{status}", h.status)                                            // 4.3 Get Status
	r.Get(root+"/collections", h.collections)                                           // 5.1 Get Collections
	r.Get(root+"/collections/{collection}", h.collection)                               // 5.2 Get a Collection
	r.Get(root+"/collections/{collection}/manifest", h.manifest)                        // 5.3 Get Object Manifests
	r.Get(root+"/collections/{collection}/objects", h.objects)                          // 5.4 Get Objects
	r.Post(root+"/collections/{collection}/objects", h.addObjects)                      // 5.5 Add Objects
	r.Get(root+"/collections/{collection}/objects/{object}", h.object)                  // 5.6 Get an Object
	r.Delete(root+"/collections/{collection}/objects/{object}", h.deleteObject)         // 5.7 Delete an Object
	r.Get(root+"/collections/{collection}/objects/{object}/versions", h.objectVersions) // 5.8 Get Object Versions
	return r
}

// headAsGet answers HEAD as GET without the body (HTTP requires HEAD wherever GET
// is served): the same status and headers, date headers of the page included.
// Mounted in another chi router, the routing context already holds the method
// (chi routes by RouteMethod once set), so it is changed there too.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		r = r.Clone(r.Context())
		r.Method = http.MethodGet
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			rctx.RouteMethod = http.MethodGet
		}
		next.ServeHTTP(bodiless{w}, r)
	})
}

// bodiless drops the body of a HEAD answer; net/http would refuse the writes.
type bodiless struct{ http.ResponseWriter }

func (bodiless) Write(p []byte) (int, error) { return len(p), nil }
