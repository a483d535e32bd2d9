package export

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
// connection is held while a slow firewall reads). ETag and Last-Modified come from a
// summary of the same set, so If-None-Match answers 304 without reading the entries.
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
	if st.LastAdded > 0 {
		w.Header().Set("Last-Modified", time.UnixMicro(st.LastAdded).UTC().Format(http.TimeFormat))
	}
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		h.opts.Metrics.Exported("list_"+kind, 0, true)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	bw := bufio.NewWriterSize(w, 64<<10)
	n, after := 0, ""
	for {
		entries, err := h.st.ListEntries(r.Context(), f.Filter, kind, after, now, h.opts.ListBatch)
		if err != nil {
			if n == 0 {
				h.fail(w, r, err)
				return
			}
			// Headers are sent: cut the response so the client sees a broken list, not a short one.
			panic(http.ErrAbortHandler)
		}
		for _, e := range entries {
			bw.WriteString(e)
			bw.WriteByte('\n')
		}
		n += len(entries)
		if len(entries) < h.opts.ListBatch {
			break
		}
		after = entries[len(entries)-1]
		if bw.Flush() != nil {
			return
		}
	}
	_ = bw.Flush()
	h.opts.Metrics.Exported("list_"+kind, n, false)
}

// listETag names the state of one list of one feed: it changes whenever an entry
// comes, goes (revoked, deleted, superseded) or expires.
func listETag(f store.Feed, kind string, st store.ListState) string {
	h := sha256.New()
	h.Write([]byte(f.ID + "\x00" + kind + "\x00" + strings.Join(f.Filter.Types, ",") + "\x00"))
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:], uint64(st.Rows))
	binary.BigEndian.PutUint64(b[8:], uint64(st.SumAdded))
	binary.BigEndian.PutUint64(b[16:], uint64(st.LastAdded))
	binary.BigEndian.PutUint64(b[24:], uint64(st.NextExpiry))
	h.Write(b[:])
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
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
