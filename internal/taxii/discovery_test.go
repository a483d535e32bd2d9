package taxii

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

var goldenOpts = Options{
	Title:              "inthreat TAXII",
	Description:        "Threat intelligence feeds",
	Contact:            "soc@example.com",
	APIRootTitle:       "Feeds",
	APIRootDescription: "Every feed is a collection",
	MaxContentLength:   10 << 20,
	PublicBaseURL:      "https://taxii.example.com",
}

func TestDiscoveryAndAPIRoot(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, goldenOpts)
		for _, path := range []string{"/taxii2/", "/taxii2"} {
			r := b.get(t, "reader", b.srv.URL+path).ok(t)
			golden(t, "discovery", r.body)
		}
		for _, url := range []string{b.root + "/", b.root} {
			r := b.get(t, "reader", url).ok(t)
			golden(t, "api_root", r.body)
		}
	})
}

func TestDiscoveryDerivesURLFromRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{APIRootPath: "/feeds/v1/"})
		var d discoveryResource
		r := b.get(t, "reader", b.srv.URL+"/taxii2/").ok(t)
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatal(err)
		}
		// Plain HTTP: spec 4.1.1 allows only HTTPS absolute URLs, so the relative form.
		want := "/feeds/v1/"
		if d.Default != want || len(d.APIRoots) != 1 || d.APIRoots[0] != want || d.Title == "" {
			t.Fatalf("discovery %s, want default and api_roots %s", r.body, want)
		}
		var root apiRootResource
		if err := json.Unmarshal(b.get(t, "reader", b.srv.URL+want).ok(t).body, &root); err != nil {
			t.Fatal(err)
		}
		if d := config.Default(); root.Versions[0] != MediaTypeTAXII || root.MaxContentLength != d.MaxContentLength || root.Title != d.Title {
			t.Fatalf("api root defaults: %+v", root)
		}
		b.get(t, "reader", b.srv.URL+"/api/v2/inthreat/taxii-server/").taxiiError(t, 404, "no TAXII endpoint")
	})
}

func TestNewHandlerRejectsBadOptions(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	for name, change := range map[string]func(o *Options){
		"relative root":      func(o *Options) { o.APIRootPath = "api/" },
		"pattern in root":    func(o *Options) { o.APIRootPath = "/api/{x}/" },
		"root on discovery":  func(o *Options) { o.APIRootPath = "/taxii2/" },
		"no title":           func(o *Options) { o.Title = "" },
		"default > max":      func(o *Options) { o.DefaultPageSize, o.MaxPageSize = 20, 10 },
		"no page size":       func(o *Options) { o.DefaultPageSize = 0 },
		"negative max":       func(o *Options) { o.MaxPageSize = -1 },
		"no content length":  func(o *Options) { o.MaxContentLength = 0 },
		"no objects per add": func(o *Options) { o.MaxObjectsPerAdd = 0 },
		"no object size":     func(o *Options) { o.ObjectLimits.MaxObjectSize = 0 },
		"no status TTL":      func(o *Options) { o.StatusTTL = 0 },
		"no match id cap":    func(o *Options) { o.MaxMatchIDs = 0 },
		"no match value cap": func(o *Options) { o.MaxMatchValues = 0 },
		"no page buffers":    func(o *Options) { o.PageBufferMemory = 0 },
		"no key slots":       func(o *Options) { o.MaxRequestsPerKey = 0 },
		"add bytes < body":   func(o *Options) { o.MaxAddBytes = o.MaxContentLength - 1 },
		"base URL scheme":    func(o *Options) { o.PublicBaseURL = "ftp://x" },
		"base URL no host":   func(o *Options) { o.PublicBaseURL = "https://" },
	} {
		t.Run(name, func(t *testing.T) {
			o := withConfigDefaults(Options{})
			if _, err := NewHandler(o, st, nil); err != nil {
				t.Fatalf("the defaults are refused: %v", err)
			}
			change(&o)
			if _, err := NewHandler(o, st, nil); err == nil {
				t.Fatalf("NewHandler accepted %+v", o)
			}
		})
	}
}

func TestAPIRootAtTop(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	b := setup(t, st, Options{APIRootPath: "/"})
	b.get(t, "reader", b.srv.URL+"/").ok(t)
	b.get(t, "reader", b.srv.URL+"/collections/").ok(t)
	b.get(t, "reader", b.srv.URL+"/taxii2/").ok(t)
}

func TestCollections(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, goldenOpts)
		list := func(key string) []collectionResource {
			var c collectionsResource
			if err := json.Unmarshal(b.get(t, key, b.root+"/collections/").ok(t).body, &c); err != nil {
				t.Fatal(err)
			}
			return c.Collections
		}
		all := list("reader")
		if len(all) != 3 || all[0].ID != feedAllID || all[1].ID != feedIndID || all[2].ID != feedSecretID {
			t.Fatalf("reader sees %+v, want the three feeds in creation order", all)
		}
		for _, c := range all {
			if !c.CanRead || c.CanWrite || len(c.MediaTypes) != 1 || c.MediaTypes[0] != MediaTypeSTIX {
				t.Fatalf("reader's collection %+v", c)
			}
		}
		if w := list("writer"); !w[0].CanWrite || w[1].CanWrite {
			t.Fatalf("writer: can_write %v %v, want true on the writable feed only", w[0].CanWrite, w[1].CanWrite)
		}
		if l := list("limited"); len(l) != 1 || l[0].ID != feedIndID {
			t.Fatalf("limited key sees %+v, want only the indicators feed", l)
		}
		if body := b.get(t, "nofeeds", b.root+"/collections").ok(t).body; string(body) != "{}" {
			t.Fatalf("no visible collection: %s, want {}", body)
		}

		golden(t, "collection", b.get(t, "writer", b.root+"/collections/"+feedAllID+"/").ok(t).body)
		for _, ref := range []string{feedAllID, feedAllID + "/", "all-intel", "all-intel/"} {
			var c collectionResource
			if err := json.Unmarshal(b.get(t, "reader", b.root+"/collections/"+ref).ok(t).body, &c); err != nil {
				t.Fatal(err)
			}
			if c.ID != feedAllID || c.Alias != "all-intel" {
				t.Fatalf("%s: %+v", ref, c)
			}
		}
		b.get(t, "reader", b.root+"/collections/nope/").taxiiError(t, 404, `no collection "nope"`)
		// A feed the key may not read does not exist for it.
		b.get(t, "limited", b.root+"/collections/"+feedAllID+"/").taxiiError(t, 404, "no collection")
		b.get(t, "limited", b.root+"/collections/all-intel/").taxiiError(t, 404, "no collection")
		b.get(t, "limited", b.root+"/collections/"+feedIndID+"/").ok(t)
	})
}

func TestNegotiation(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	b := setup(t, st, Options{})
	cases := []struct {
		accept string
		status int
	}{
		{MediaTypeTAXII, 200},
		{"application/taxii+json", 200},
		{"application/taxii+json; version=2.1", 200},
		{`application/taxii+json;version="2.1"`, 200},
		{"APPLICATION/TAXII+JSON;VERSION=2.1", 200},
		{"*/*", 200},
		{"application/*", 200},
		{"text/html, application/taxii+json;version=2.1;q=0.5", 200},
		{"text/html,*/*;q=0.8", 200},
		{"application/json", 406},
		{"application/taxii+json;version=2.0", 406},
		{"application/stix+json;version=2.1", 406},
		{"text/html", 406},
		{"application/taxii+json;q=0", 406},
		{"*/*;q=0", 406},
	}
	for _, c := range cases {
		t.Run(c.accept, func(t *testing.T) {
			r := b.get(t, "reader", b.root+"/collections/", withHeader("Accept", c.accept))
			if c.status == 200 {
				r.ok(t)
			} else {
				r.taxiiError(t, 406, MediaTypeTAXII)
			}
		})
	}
	t.Run("no Accept", func(t *testing.T) {
		b.get(t, "reader", b.root+"/collections/", withoutHeader("Accept")).ok(t)
	})
	t.Run("406 before authentication", func(t *testing.T) {
		b.get(t, "", b.root+"/collections/", withHeader("Accept", "text/html")).taxiiError(t, 406, "Accept")
	})
}

func TestAuthentication(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		urls := []string{
			b.srv.URL + "/taxii2/", b.root + "/", b.root + "/collections/",
			b.root + "/collections/" + feedIndID + "/objects/", b.srv.URL + "/nowhere",
		}
		reader := b.keys["reader"]
		cases := []struct {
			name  string
			authz string
		}{
			{"no key", ""},
			{"bad key", basicAuth("x", "tk_not_a_key")},
			{"wrong secret", basicAuth("x", reader[:len(reader)-4]+"AAAA")},
			{"revoked key", basicAuth("x", b.keys["revoked"])},
			{"key as username", basicAuth(reader, "")},
			{"bearer revoked", "Bearer " + b.keys["revoked"]},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, u := range urls {
					r := b.get(t, "", u, withHeader("Authorization", c.authz))
					r.taxiiError(t, 401, "API key")
					if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="taxii"` {
						t.Fatalf("WWW-Authenticate %q", got)
					}
				}
			})
		}
		t.Run("basic with any username and bearer", func(t *testing.T) {
			for _, authz := range []string{basicAuth("", reader), basicAuth("anyone", reader), "Bearer " + reader} {
				for _, u := range urls[:4] {
					b.get(t, "", u, withHeader("Authorization", authz)).ok(t)
				}
			}
		})
		t.Run("limited key: other feeds are 404", func(t *testing.T) {
			for _, p := range []string{"/", "/objects/", "/manifest/", "/objects/" + stixID("indicator", 1) + "/", "/objects/" + stixID("indicator", 1) + "/versions/"} {
				b.get(t, "limited", b.root+"/collections/"+feedAllID+p).taxiiError(t, 404, "no collection")
				b.get(t, "limited", b.root+"/collections/"+feedSecretID+p).taxiiError(t, 404, "no collection")
			}
		})
		t.Run("last used is recorded", func(t *testing.T) {
			k, err := st.GetKey(t.Context(), b.ids["reader"])
			if err != nil {
				t.Fatal(err)
			}
			if k.LastUsedAt.IsZero() {
				t.Fatal("last_used_at not set after requests")
			}
		})
	})
}

func TestErrorsAreTAXII(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	b := setup(t, st, Options{})
	e := b.get(t, "reader", b.root+"/nothing/here/").taxiiError(t, 404, "no TAXII endpoint")
	logged := b.logs.FilterField(zapString("error_id", e.ErrorID)).All()
	if len(logged) != 1 || logged[0].Level.String() != "warn" {
		t.Fatalf("404 with error_id %s logged %d times (want once at warn)", e.ErrorID, len(logged))
	}

	r := b.do(t, http.MethodPost, "writer", b.root+"/collections/"+feedAllID+"/manifest/")
	r.taxiiError(t, 405, "POST")
	if allow := r.header.Get("Allow"); allow != "GET, HEAD" {
		t.Fatalf("Allow %q, want GET, HEAD", allow)
	}
	b.do(t, http.MethodDelete, "admin", b.srv.URL+"/taxii2").taxiiError(t, 405, "DELETE")
	if strings.Contains(string(r.body), "\n") {
		t.Fatalf("error body has a newline: %q", r.body)
	}
}
