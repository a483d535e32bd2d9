// Package taxii serves the TAXII 2.1 API: discovery, the API root, and every feed as
// a collection with its objects, manifest and versions, paged and streamed; writable
// collections also take objects (Add Objects, status resources) and deletions.
// It speaks to the store only through store.Store and to callers through auth.
package taxii

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Options configures the API. Every limit and title is given by the caller (the
// configuration owns their defaults); NewHandler refuses a zero limit.
type Options struct {
	APIRootPath                 string // e.g. "/api/v2/inthreat/taxii-server/"
	Title, Description, Contact string // discovery
	APIRootTitle                string // "": Title
	APIRootDescription          string
	DefaultPageSize             int    // objects per page when the client gives no limit
	MaxPageSize                 int    // a larger limit is capped
	MaxContentLength            int64  // largest request body, advertised in the API root and enforced
	PublicBaseURL               string // e.g. https://taxii.example.com; "": as the client reached the server (obs.BaseURL)

	// Add Objects.
	MaxObjectsPerAdd int              // most objects in one request
	ObjectLimits     stix.Limits      // size, depth and properties of one object
	StrictValidation bool             // stix.Options.Strict
	StatusTTL        time.Duration    // how long a status resource stays readable
	Now              func() time.Time // the clock of request timestamps and status expiry; nil: time.Now

	// Longest match lists: a longer one is refused (400), so that one request
	// cannot make the store sort or scan without bound.
	MaxMatchIDs    int // match[id]
	MaxMatchValues int // match[type], match[version], match[spec_version]

	// Admission: what requests in flight may hold at once (see internal/admit).
	PageBufferMemory  int64         // bytes of pages held in memory, server-wide; the rest spills to temp files
	PageWriteTimeout  time.Duration // longest one write of a page may wait on the client
	MaxRequestsPerKey int           // requests in flight per API key; past it 429
	// PerKey, when set, is the count of requests in flight per key shared with the
	// APIs served beside this one (internal/export), so that one cap covers them all;
	// nil: this API's own, of MaxRequestsPerKey.
	PerKey         *admit.PerKey
	MaxAddBytes    int64 // bytes of Add Objects bodies in flight, server-wide; past it 503
	AddSpoolMemory int64 // bytes of checked objects waiting to be stored held in memory, server-wide; the rest spills to temp files
	MaxStatusReads int   // status resources read at once; others wait their turn
	// StatusBufferMemory is the bytes of status resources on their way to
	// clients held in memory, server-wide; the rest spills to temp files.
	StatusBufferMemory int64
}

// realm is the realm of WWW-Authenticate.
const realm = "taxii"

// rootPath checks the API root path and returns it without its trailing slash
// ("" for "/"), the form the route table joins.
func rootPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "{}*?#% \t\r\n") {
		return "", fmt.Errorf("taxii: API root path %q must be an absolute path of plain segments", p)
	}
	p = strings.TrimSuffix(p, "/")
	if p == "/taxii2" || strings.HasPrefix(p+"/", "/taxii2/") {
		return "", fmt.Errorf("taxii: API root path %q collides with discovery at /taxii2/", p)
	}
	return p, nil
}

func (o Options) validate() error {
	if o.Title == "" {
		return errors.New("taxii: empty title")
	}
	if o.DefaultPageSize < 1 || o.MaxPageSize < 1 || o.DefaultPageSize > o.MaxPageSize {
		return fmt.Errorf("taxii: page sizes default %d, max %d: want 1 <= default <= max", o.DefaultPageSize, o.MaxPageSize)
	}
	if o.MaxContentLength < 1 {
		return fmt.Errorf("taxii: max content length %d < 1", o.MaxContentLength)
	}
	if o.MaxObjectsPerAdd < 1 {
		return fmt.Errorf("taxii: max objects per add %d < 1", o.MaxObjectsPerAdd)
	}
	if l := o.ObjectLimits; l.MaxObjectSize < 1 || l.MaxDepth < 1 || l.MaxProperties < 1 {
		return fmt.Errorf("taxii: object limits %+v: each must be at least 1", l)
	}
	if o.PageBufferMemory < 1 || o.PageWriteTimeout <= 0 || o.MaxRequestsPerKey < 1 || o.MaxStatusReads < 1 {
		return fmt.Errorf("taxii: admission limits (page buffer memory, page write timeout, requests per key, status reads) must be positive")
	}
	if o.AddSpoolMemory < 0 || o.StatusBufferMemory < 0 {
		return fmt.Errorf("taxii: add spool memory %d or status buffer memory %d < 0", o.AddSpoolMemory, o.StatusBufferMemory)
	}
	if o.MaxAddBytes < o.MaxContentLength {
		return fmt.Errorf("taxii: max add bytes %d < max content length %d: the largest request could never be admitted", o.MaxAddBytes, o.MaxContentLength)
	}
	if o.StatusTTL <= 0 {
		return fmt.Errorf("taxii: status TTL %s <= 0", o.StatusTTL)
	}
	if o.MaxMatchIDs < 1 || o.MaxMatchValues < 1 {
		return fmt.Errorf("taxii: match list caps %d ids, %d values: each must be at least 1", o.MaxMatchIDs, o.MaxMatchValues)
	}
	if o.PublicBaseURL != "" {
		u, err := url.Parse(o.PublicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("taxii: public base URL %q must look like https://taxii.example.com", o.PublicBaseURL)
		}
	}
	return nil
}

// handler holds what every request needs; it has no mutable state beyond the
// validator, compiled once on the first Add Objects request.
type handler struct {
	opts      Options
	root      string // API root path without trailing slash
	st        store.Store
	log       *zap.Logger
	cursors   cursorCodec
	validator func() (*stix.Validator, error)

	pages       *admit.Bytes  // memory of pages being written
	adds        *admit.Bytes  // bytes of Add Objects bodies in flight
	addSpool    *admit.Bytes  // bytes of Add Objects spools held in memory
	perKey      *admit.PerKey // requests in flight per key
	statusReads chan struct{} // one token per status read in progress
	statusBufs  *admit.Bytes  // memory of status resources being written
}

// NewHandler returns the TAXII API, to be mounted at "/". It reads the cursor
// secret from the store, so every replica signs and accepts the same cursors.
func NewHandler(opts Options, st store.Store, log *zap.Logger) (http.Handler, error) {
	if st == nil {
		return nil, errors.New("taxii: nil store")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if opts.APIRootTitle == "" {
		opts.APIRootTitle = opts.Title
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	root, err := rootPath(opts.APIRootPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secret, err := st.CursorSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("taxii: cursor secret: %w", err)
	}
	codec, err := newCursorCodec(secret)
	if err != nil {
		return nil, err
	}
	h := &handler{opts: opts, root: root, st: st, log: log, cursors: codec,
		pages: admit.NewBytes(opts.PageBufferMemory), adds: admit.NewBytes(opts.MaxAddBytes),
		addSpool: admit.NewBytes(opts.AddSpoolMemory), statusBufs: admit.NewBytes(opts.StatusBufferMemory),
		perKey: opts.PerKey, statusReads: make(chan struct{}, opts.MaxStatusReads)}
	if h.perKey == nil {
		h.perKey = admit.NewPerKey(opts.MaxRequestsPerKey)
	}
	// Compiling the STIX schemas takes a tenth of a second: a server that is
	// never written to (and every read-only test) does not pay for it.
	h.validator = sync.OnceValues(func() (*stix.Validator, error) {
		return stix.NewValidator(stix.Options{Strict: opts.StrictValidation, Limits: opts.ObjectLimits})
	})
	return h.routes(), nil
}

// baseURL is the scheme and host the API is reached at: the configured public
// base URL, else what the client used (behind a trusted proxy, what it forwarded).
func (h *handler) baseURL(r *http.Request) string {
	if h.opts.PublicBaseURL != "" {
		return strings.TrimSuffix(h.opts.PublicBaseURL, "/")
	}
	return obs.BaseURL(r)
}

// apiRootURL is the URL of the API root, with its trailing slash, as discovery
// names it. Spec 4.1.1 allows only HTTPS absolute URLs or relative ones starting
// with a single "/": over plain HTTP it is the relative form.
func (h *handler) apiRootURL(r *http.Request) string {
	base := h.baseURL(r)
	if !strings.HasPrefix(base, "https://") {
		base = ""
	}
	return base + h.root + "/"
}
