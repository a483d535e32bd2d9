package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// mediaTAXII is the media type of every TAXII request and response.
const mediaTAXII = "application/taxii+json;version=2.1"

// ErrNoWriteAPI means the server answered 404 or 405 to add-objects: it has no write API.
var ErrNoWriteAPI = errors.New("the server has no add-objects endpoint")

// Client is a TAXII 2.1 client of one collection, as a feed consumer (Sentinel,
// OpenCTI) uses one: it reads whole pages and decodes every envelope.
type Client struct {
	hc      *http.Client
	root    string // API root URL, with a trailing slash
	objects string // the collection's objects URL, with a trailing slash
	key     string
	decoder string // DecoderScan or DecoderStd
}

// NewClient returns a client of collection feed under the API root URL root,
// authenticating with the API key key, keeping up to conns connections open,
// decoding pages with decoder (DecoderScan when empty).
func NewClient(root, feed, key string, conns int, decoder string) *Client {
	if root[len(root)-1] != '/' {
		root += "/"
	}
	tr := &http.Transport{
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &Client{
		hc:      &http.Client{Transport: tr},
		root:    root,
		objects: root + "collections/" + url.PathEscape(feed) + "/objects/",
		key:     key,
		decoder: decoder,
	}
}

// Close drops the idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// envelope is the TAXII envelope as encoding/json decodes it; objects stay raw JSON.
type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

// pageResult is what one GET of the objects endpoint returned.
type pageResult struct {
	objects int
	bytes   int
	more    bool
	next    string
	last    string // X-TAXII-Date-Added-Last
	latency time.Duration
}

// reader fetches pages reusing its buffers; one per goroutine.
type reader struct {
	c   *Client
	buf bytes.Buffer
	env envelope
}

func (c *Client) newReader() *reader { return &reader{c: c} }

// page GETs the objects endpoint with the query params and decodes the envelope.
// Latency runs from sending the request to the envelope decoded. When seen is
// not nil, every object's id goes into it.
func (r *reader) page(ctx context.Context, params string, seen *idSet) (pageResult, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.c.objects+"?"+params, nil)
	if err != nil {
		return pageResult{}, err
	}
	req.Header.Set("Accept", mediaTAXII)
	req.Header.Set("Authorization", "Bearer "+r.c.key)
	resp, err := r.c.hc.Do(req)
	if err != nil {
		return pageResult{}, err
	}
	r.buf.Reset()
	_, err = r.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return pageResult{}, fmt.Errorf("GET objects?%s: %w", params, err)
	}
	if resp.StatusCode != http.StatusOK {
		return pageResult{}, fmt.Errorf("GET objects?%s: %s: %s", params, resp.Status, snippet(r.buf.Bytes()))
	}
	each := func([]byte) error { return nil }
	if seen != nil {
		each = seen.add
	}
	more, next, n, err := r.decodeEnvelope(r.buf.Bytes(), each)
	if err != nil {
		return pageResult{}, fmt.Errorf("GET objects?%s: decode the envelope: %w", params, err)
	}
	return pageResult{
		objects: n,
		bytes:   r.buf.Len(),
		more:    more,
		next:    next,
		last:    resp.Header.Get("X-TAXII-Date-Added-Last"),
		latency: time.Since(start),
	}, nil
}

func snippet(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(bytes.TrimSpace(b))
}

// PullMethod is how a client walks a feed.
type PullMethod string

const (
	// FollowNext sends each page's next until more is false.
	FollowNext PullMethod = "next"
	// AddedAfter re-polls from each page's X-TAXII-Date-Added-Last, as pollers
	// that keep only a timestamp (Sentinel) do.
	AddedAfter PullMethod = "added_after"
)

// PullResult is one full-feed pull.
type PullResult struct {
	Objects    int
	Duplicates int
	Pages      int
	Bytes      int64 // response bodies
	Elapsed    time.Duration
	Lasts      []string // X-TAXII-Date-Added-Last of each non-empty page
}

// Pull reads the whole collection, limit objects a page, walking it by method.
func (c *Client) Pull(ctx context.Context, method PullMethod, limit int) (PullResult, error) {
	r := c.newReader()
	seen := newIDSet()
	base := "limit=" + strconv.Itoa(limit)
	params := base
	var res PullResult
	start := time.Now()
	for {
		p, err := r.page(ctx, params, seen)
		if err != nil {
			return res, err
		}
		res.Pages++
		res.Objects += p.objects
		res.Bytes += int64(p.bytes)
		if p.objects > 0 {
			res.Lasts = append(res.Lasts, p.last)
		}
		if !p.more {
			break
		}
		switch method {
		case FollowNext:
			params = base + "&next=" + url.QueryEscape(p.next)
		case AddedAfter:
			if p.last == "" {
				return res, errors.New("a page with more=true has no X-TAXII-Date-Added-Last")
			}
			params = base + "&added_after=" + url.QueryEscape(p.last)
		default:
			return res, fmt.Errorf("unknown pull method %q", method)
		}
	}
	res.Elapsed = time.Since(start)
	res.Duplicates = seen.dups
	return res, nil
}

// idSet remembers object ids by a 64-bit hash: a million ids in a few tens of MB.
type idSet struct {
	seed maphash.Seed
	m    map[uint64]struct{}
	dups int
}

func newIDSet() *idSet { return &idSet{seed: maphash.MakeSeed(), m: make(map[uint64]struct{})} }

var idKey = []byte(`"id":"`)

func (s *idSet) add(obj []byte) error {
	id, err := objectID(obj)
	if err != nil {
		return err
	}
	h := maphash.Bytes(s.seed, id)
	if _, dup := s.m[h]; dup {
		s.dups++
		return nil
	}
	s.m[h] = struct{}{}
	return nil
}

// objectID finds the id of a compact STIX object: the first "id" member, which is
// the top-level one in what the generator writes; anything else is decoded.
func objectID(obj []byte) ([]byte, error) {
	if i := bytes.Index(obj, idKey); i > 0 && bytes.IndexByte(obj[:i], '[') < 0 && bytes.Count(obj[:i], []byte("{")) == 1 {
		rest := obj[i+len(idKey):]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			return rest[:j], nil
		}
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(obj, &o); err != nil || o.ID == "" {
		return nil, fmt.Errorf("an object without an id: %s", snippet(obj))
	}
	return []byte(o.ID), nil
}

// addStatus is the TAXII status resource an add-objects request answers.
type addStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	SuccessCount int    `json:"success_count"`
	FailureCount int    `json:"failure_count"`
	PendingCount int    `json:"pending_count"`
	Failures     []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"failures"`
}

// Post adds the objects of a TAXII envelope to the collection and waits until the
// status is complete. It returns how many succeeded; an error when any failed, and
// ErrNoWriteAPI when the server has no add-objects endpoint.
func (c *Client) Post(ctx context.Context, env []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.objects, bytes.NewReader(env))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", mediaTAXII)
	req.Header.Set("Content-Type", mediaTAXII)
	req.Header.Set("Authorization", "Bearer "+c.key)
	st, code, err := c.status(req)
	switch {
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return 0, ErrNoWriteAPI
	case err != nil:
		return 0, fmt.Errorf("POST objects: %w", err)
	}
	for st.Status != "complete" {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.root+"status/"+url.PathEscape(st.ID)+"/", nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Accept", mediaTAXII)
		req.Header.Set("Authorization", "Bearer "+c.key)
		if st, _, err = c.status(req); err != nil {
			return 0, fmt.Errorf("GET status: %w", err)
		}
	}
	if st.FailureCount > 0 {
		msg := ""
		if len(st.Failures) > 0 {
			msg = ": " + st.Failures[0].ID + ": " + st.Failures[0].Message
		}
		return st.SuccessCount, fmt.Errorf("POST objects: %d of %d failed%s", st.FailureCount, st.FailureCount+st.SuccessCount, msg)
	}
	return st.SuccessCount, nil
}

func (c *Client) status(req *http.Request) (addStatus, int, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return addStatus{}, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return addStatus{}, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return addStatus{}, resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, snippet(body))
	}
	var st addStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return st, resp.StatusCode, fmt.Errorf("decode the status: %w", err)
	}
	return st, resp.StatusCode, nil
}
