package sources

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The TAXII versions an upstream may speak.
const (
	TAXII21 = "2.1"
	TAXII20 = "2.0"
)

const (
	accept21      = "application/taxii+json;version=2.1"
	acceptTAXII20 = "application/vnd.oasis.taxii+json; version=2.0"
	acceptSTIX20  = "application/vnd.oasis.stix+json; version=2.0"
)

// Upstream is one upstream TAXII collection and how to reach it.
type Upstream struct {
	// URL is the collection's URL, https://host/root/collections/ID/; the
	// objects and manifest endpoints are found under it.
	URL      string
	Version  string // TAXII21 (default) or TAXII20
	User     string // Basic authentication, with Password
	Password string
	Token    string   // Bearer authentication, instead of Basic
	Types    []string // match[type]; empty: every type
	PageSize int      // limit (2.1) or the Range size (2.0); 0: the upstream's default (2.1) or 1000 (2.0)
	// MaxPageBytes caps one response body; a larger page is an error. 0: 256 MiB.
	MaxPageBytes int64
}

// Page is one page of objects from an upstream.
type Page struct {
	Objects []json.RawMessage
	More    bool
	Next    string // TAXII 2.1 only
	// First and Last are X-TAXII-Date-Added-First and -Last exactly as sent;
	// "" when the upstream sent none.
	First, Last string
}

// ManifestEntry is one manifest record: the newest-date_added fallback when an
// upstream sends no X-TAXII-Date-Added-Last.
type ManifestEntry struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
}

// StatusError is an upstream answer other than success.
type StatusError struct {
	Status     int
	RetryAfter time.Duration // from Retry-After; 0 when absent
	Body       string        // its first bytes, for the source's record
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("upstream answered %d", e.Status)
	}
	return fmt.Sprintf("upstream answered %d: %s", e.Status, e.Body)
}

// ParseError is a page the client could not read as TAXII.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return "upstream page does not parse: " + e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Client speaks TAXII 2.1 or 2.0 to one upstream collection.
type Client struct {
	up   Upstream
	http *http.Client
	base *url.URL
}

// NewClient checks up and returns its client; hc carries timeouts and TLS.
func NewClient(up Upstream, hc *http.Client) (*Client, error) {
	if up.Version == "" {
		up.Version = TAXII21
	}
	if up.Version != TAXII21 && up.Version != TAXII20 {
		return nil, fmt.Errorf("TAXII version %q: want %s or %s", up.Version, TAXII21, TAXII20)
	}
	u, err := url.Parse(up.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("collection URL %q: want https://host/api-root/collections/ID/", up.URL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if up.MaxPageBytes <= 0 {
		up.MaxPageBytes = 256 << 20
	}
	if up.Version == TAXII20 && up.PageSize <= 0 {
		up.PageSize = 1000
	}
	return &Client{up: up, http: hc, base: u}, nil
}

// HTTPClient returns an HTTP client for upstreams: TLS verified against the
// system roots plus caFile (PEM) when given, or not at all when insecure.
func HTTPClient(caFile string, insecure bool, timeout time.Duration) (*http.Client, error) {
	var pem []byte
	if caFile != "" {
		var err error
		if pem, err = os.ReadFile(caFile); err != nil {
			return nil, err
		}
	}
	hc, err := HTTPClientPEM(pem, insecure, timeout)
	if err != nil && caFile != "" {
		return nil, fmt.Errorf("%s: %w", caFile, err)
	}
	return hc, err
}

// HTTPClientPEM is HTTPClient with the CA certificates given as PEM contents
// (as a source's record stores them); none when caPEM is empty.
func HTTPClientPEM(caPEM []byte, insecure bool, timeout time.Duration) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	cfg.InsecureSkipVerify = insecure //nolint:gosec // only on the operator's explicit flag, with a warning
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// Objects gets one page of objects added after addedAfter ("" for all),
// continuing from next when it is not "" (TAXII 2.1). For TAXII 2.0 the page
// is the first PageSize items of the request (2.0 pages by Range).
func (c *Client) Objects(ctx context.Context, addedAfter, next string) (*Page, error) {
	q := c.filters(addedAfter)
	if next != "" {
		q.Set("next", next)
	}
	resp, err := c.get(ctx, "objects/", q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := c.read(resp)
	if err != nil {
		return nil, err
	}
	p := &Page{First: resp.Header.Get("X-TAXII-Date-Added-First"), Last: resp.Header.Get("X-TAXII-Date-Added-Last")}
	if c.up.Version == TAXII20 {
		var b struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, &ParseError{err}
		}
		p.Objects = b.Objects
		p.More = more20(resp.Header.Get("Content-Range"), len(b.Objects))
		return p, nil
	}
	var env struct {
		More    bool              `json:"more"`
		Next    json.RawMessage   `json:"next"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, &ParseError{err}
	}
	p.Objects, p.More = env.Objects, env.More
	if len(env.Next) > 0 && string(env.Next) != "null" {
		// The spec says string; some servers send a number.
		var s string
		if json.Unmarshal(env.Next, &s) != nil {
			s = strings.Trim(string(env.Next), `"`)
		}
		p.Next = s
	}
	return p, nil
}

// Manifest lists the versions of ids (all objects when empty) added after
// addedAfter.
func (c *Client) Manifest(ctx context.Context, addedAfter string, ids []string) ([]ManifestEntry, error) {
	q := c.filters(addedAfter)
	if len(ids) > 0 {
		q.Set("match[id]", strings.Join(ids, ","))
	}
	resp, err := c.get(ctx, "manifest/", q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := c.read(resp)
	if err != nil {
		return nil, err
	}
	var m struct {
		Objects []ManifestEntry `json:"objects"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &ParseError{err}
	}
	return m.Objects, nil
}

func (c *Client) filters(addedAfter string) url.Values {
	q := url.Values{}
	if addedAfter != "" {
		q.Set("added_after", addedAfter)
	}
	if len(c.up.Types) > 0 {
		q.Set("match[type]", strings.Join(c.up.Types, ","))
	}
	if c.up.Version == TAXII21 && c.up.PageSize > 0 {
		q.Set("limit", strconv.Itoa(c.up.PageSize))
	}
	return q
}

func (c *Client) get(ctx context.Context, endpoint string, q url.Values) (*http.Response, error) {
	u := *c.base
	u.Path += endpoint
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	switch {
	case c.up.Version == TAXII20 && endpoint == "objects/":
		req.Header.Set("Accept", acceptSTIX20)
	case c.up.Version == TAXII20:
		req.Header.Set("Accept", acceptTAXII20)
	default:
		req.Header.Set("Accept", accept21)
	}
	if c.up.Version == TAXII20 {
		req.Header.Set("Range", fmt.Sprintf("items 0-%d", c.up.PageSize-1))
	}
	switch {
	case c.up.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.up.Token)
	case c.up.User != "" || c.up.Password != "":
		req.SetBasicAuth(c.up.User, c.up.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
		return resp, nil
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return nil, &StatusError{
		Status:     resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       strings.TrimSpace(string(snippet)),
	}
}

func (c *Client) read(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.up.MaxPageBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > c.up.MaxPageBytes {
		return nil, &ParseError{fmt.Errorf("page larger than %d bytes", c.up.MaxPageBytes)}
	}
	return body, nil
}

var contentRange = regexp.MustCompile(`^items\s+(\d+)-(\d+)/(\d+|\*)$`)

// more20 says whether a TAXII 2.0 answer left items out: its Content-Range
// ends before the total. Without one, a full page means there may be more.
func more20(header string, n int) bool {
	m := contentRange.FindStringSubmatch(strings.TrimSpace(header))
	if m == nil {
		return false
	}
	end, _ := strconv.Atoi(m[2])
	if m[3] == "*" {
		return n > 0
	}
	total, _ := strconv.Atoi(m[3])
	return end+1 < total
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable says whether err is worth another try: 429, 5xx, and network
// failures (resets, timeouts). Other statuses and unreadable pages are not.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		// A page cut off mid-body reads as broken JSON: worth a retry.
		return errors.Is(pe.Err, io.ErrUnexpectedEOF)
	}
	return !errors.Is(err, context.Canceled)
}
