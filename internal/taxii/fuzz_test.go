package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
)

// FuzzAddObjects posts arbitrary bodies through the whole Add Objects path (routing,
// authentication, the envelope decoder, validation, the store) with small limits.
// Whatever the body: no panic and no 500; a 202 carries a consistent status whose
// successes are stored; any other answer is 400 or 413 and leaves the store as it was.
func FuzzAddObjects(f *testing.F) {
	st := sqlitetest.New(f)
	ctx := context.Background()
	feed := store.Feed{ID: feedAllID, Title: "all", Writable: true, CreatedAt: time.Now()}
	if err := st.CreateFeed(ctx, feed); err != nil {
		f.Fatal(err)
	}
	plain, k, err := auth.Generate("fuzz", store.RoleReadWrite, nil, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateKey(ctx, k); err != nil {
		f.Fatal(err)
	}
	h, err := NewHandler(withConfigDefaults(Options{MaxContentLength: 64 << 10, MaxObjectsPerAdd: 20, ObjectLimits: stixLimits(8<<10, 16, 64)}), st, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	url := rootPathDefault + "/collections/" + feedAllID + "/objects/"

	for _, seed := range []string{
		string(envelopeOf(indicator(1, mod1), malware(2, mod1))),
		string(envelopeOf(indicator(1, mod1), indicator(1, mod1), "42", "[]", "null", `{"type":"indicator"}`)),
		`{"objects":[]}`,
		`{"more":false,"objects":[{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-000000000001","value":"10.0.0.1"}],"next":"x"}`,
		`{"type":"bundle","id":"bundle--6f1e4f4a-1111-4a4a-8a8a-123456789abc","objects":[]}`,
		`{"objects":[` + indicator(3, mod1),
		`{"objects":{}}`,
		`{}`,
		``,
		`[{"type":"indicator"}]`,
		"{\"objects\":[{\"name\":\"caf\xe9\"}]}",
		`{"objects":[{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}]}`,
		`{"objects":[{"type":"indicator","id":"a\u0000b"}]}`,
		"\xef\xbb\xbf{\"objects\":[]}",
		`{"objects":[],"objects":[]}`,
		`{"objects":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}

	f.Fuzz(func(t *testing.T, body []byte, chunked bool) {
		before := stored(t, st)
		req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Accept", MediaTypeTAXII)
		req.Header.Set("Content-Type", MediaTypeTAXII)
		req.Header.Set("Authorization", "Bearer "+plain)
		if chunked {
			req.ContentLength = -1
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		if ct := w.Header().Get("Content-Type"); ct != MediaTypeTAXII {
			t.Fatalf("Content-Type %q", ct)
		}
		after := stored(t, st)
		switch w.Code {
		case http.StatusAccepted:
			var s statusRes
			if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
				t.Fatalf("202 body %q: %v", w.Body.Bytes(), err)
			}
			if s.TotalCount == nil || s.SuccessCount == nil || s.FailureCount == nil || s.PendingCount == nil {
				t.Fatalf("status without a count %s", w.Body.Bytes())
			}
			if s.Status != "complete" || *s.SuccessCount != len(s.Successes) || *s.FailureCount != len(s.Failures) ||
				*s.PendingCount != 0 || *s.SuccessCount+*s.FailureCount != *s.TotalCount || *s.TotalCount > 20 {
				t.Fatalf("inconsistent status %s", w.Body.Bytes())
			}
			refs := storedRefs(after)
			for _, d := range s.Successes {
				found := false
				for _, r := range after {
					found = found || r.ID == d.ID
				}
				if !found {
					t.Fatalf("success %+v is not stored (store: %v)", d, refs)
				}
			}
			if len(after) < len(before) || len(after) > len(before)+*s.SuccessCount {
				t.Fatalf("%d versions stored before, %d after %d successes", len(before), len(after), *s.SuccessCount)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			var e errorResource
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Description == "" {
				t.Fatalf("%d body %q: %v", w.Code, w.Body.Bytes(), err)
			}
			if !slices.Equal(after, before) {
				t.Fatalf("a refused body changed the store: %s", w.Body.Bytes())
			}
		default:
			t.Fatalf("answer %d: %s", w.Code, w.Body.Bytes())
		}
	})
}
