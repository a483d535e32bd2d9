package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// list is GET {prefix}/collections/{feed}/lists/{kind}.txt: every current entry of one
// kind, each once, one per line, streamed in batches read one after the other (no
// connection is held while a slow firewall reads). ETag and Last-Modified date the list
// from the store clock and the expiries (store.ListState), so that a conditional
// request answers 304 without reading the entries, and a full one reads them once.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	f, err := h.readableFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	kind := pathParam(r, "kind")
	if !slices.Contains(observables.Lists, kind) {
		h.fail(w, r, badRequest("bad_list", "%q is not a list: use one of %s, each followed by .txt.", shorten(kind+".txt"), strings.Join(observables.Lists, ", ")))
		return
	}
	obs.FromContext(r.Context()).SetPoll(0) // a blocklist is always whole
	now := h.opts.Now().UnixMicro()
	st, err := h.st.ListState(r.Context(), f.Filter, kind, now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	etag := listETag(f, kind, st)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	// Last-Modified: the store's last change, or the last expiry of an entry if later.
	var modified time.Time
	if last := max(st.Changed, st.LastExpiry); last > 0 {
		modified = time.UnixMicro(last).UTC().Truncate(time.Second)
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
	}
	if notModified(r, etag, modified) {
		h.opts.Metrics.Exported("list_"+kind, 0, true)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if isHead(r) { // devices check ETag and Last-Modified with HEAD: the entries are not read
		w.WriteHeader(http.StatusOK)
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	ctx, stop := context.WithCancel(r.Context())
	defer stop() // ends the reader when the client goes
	n := 0
	for b := range h.listBatches(ctx, f.Filter, kind, now) {
		if b.err != nil {
			if n == 0 {
				h.fail(w, r, b.err)
				return
			}
			// Headers are sent: cut the response so the client sees a broken list, not a short one.
			panic(http.ErrAbortHandler)
		}
		for _, e := range b.entries {
			bw.WriteString(e)
			bw.WriteByte('\n')
		}
		n += len(b.entries)
		if bw.Flush() != nil {
			return
		}
	}
	_ = bw.Flush()
	h.opts.Metrics.Exported("list_"+kind, n, false)
}

type listBatch struct {
	entries []string
	err     error
}

// listBatches reads the entries of a list in batches of ListBatch, one short read
// each, the next one while the one before is written: the database and the client
// work at once, and at most three batches are held. It stops when ctx ends.
func (h *handler) listBatches(ctx context.Context, feed store.FeedFilter, kind string, now int64) <-chan listBatch {
	out := make(chan listBatch, 1)
	go func() {
		defer close(out)
		after := ""
		for {
			entries, err := h.st.ListEntries(ctx, feed, kind, after, now, h.opts.ListBatch)
			select {
			case out <- listBatch{entries, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(entries) < h.opts.ListBatch {
				return
			}
			after = entries[len(entries)-1]
		}
	}()
	return out
}

// listFormat names how entries are written; a change of it (canonical forms,
// line format) must change every ETag.
const listFormat = "lists-1"

// listETag names the state of one list of one feed: it changes whenever an entry
// could have come or gone (the store changed: a version added, deleted or purged, a
// feed updated) or expired (the next expiry passed). It may change when the list did
// not (a write elsewhere in the store): a firewall then downloads an unchanged list.
func listETag(f store.Feed, kind string, st store.ListState) string {
	h := sha256.New()
	filter, _ := json.Marshal(f.Filter)
	h.Write([]byte(listFormat + "\x00" + f.ID + "\x00" + kind + "\x00"))
	h.Write(filter)
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], uint64(st.Changed))
	binary.BigEndian.PutUint64(b[8:], uint64(st.NextExpiry))
	h.Write(b[:])
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// notModified applies If-None-Match, and If-Modified-Since only when there is no
// If-None-Match (RFC 9110, 13.2.2). Last-Modified has whole seconds, so two changes
// within one second look alike to If-Modified-Since; the ETag tells them apart.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return matchesETag(inm, etag)
	}
	since, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	return err == nil && !modified.IsZero() && !modified.After(since)
}

// matchesETag applies If-None-Match: "*" or a list of (possibly weak) tags.
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
