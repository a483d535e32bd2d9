package obs

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestInfo(t *testing.T) {
	var none *Info // outside the server middleware: every call is a no-op
	none.SetKey("id", "k")
	none.SetPoll(1)
	none.SetFeed("f")
	none.AddServed(1)
	none.AddImported(1, 1)
	if none.Snapshot() != (Snapshot{}) || none.RequestID() != "" || RequestID(context.Background()) != "" {
		t.Fatal("nil Info recorded something")
	}

	info := New(Request{ID: "req-1", Client: "192.0.2.1", Scheme: "https", Host: "taxii.example.com"})
	ctx := NewContext(context.Background(), info)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			FromContext(ctx).AddServed(2)
			FromContext(ctx).AddImported(3, 1)
		})
	}
	wg.Wait()
	FromContext(ctx).SetKey("sentinel-id", "sentinel")
	FromContext(ctx).SetFeed("feed-1")
	FromContext(ctx).SetPoll(42)
	want := Snapshot{KeyID: "sentinel-id", KeyName: "sentinel", FeedID: "feed-1", Poll: true, AddedAfter: 42, Served: 20, Imported: 30, Rejected: 10}
	if got := info.Snapshot(); got != want {
		t.Fatalf("snapshot %+v, want %+v", got, want)
	}
	if RequestID(ctx) != "req-1" || info.Client() != "192.0.2.1" {
		t.Fatal("request id or client lost")
	}
}

func TestBaseURL(t *testing.T) {
	r := httptest.NewRequest("GET", "http://10.0.0.5:8080/taxii2/", nil)
	if got := BaseURL(r); got != "http://10.0.0.5:8080" {
		t.Fatalf("without the middleware: %s", got)
	}
	r.TLS = &tls.ConnectionState{}
	if got := BaseURL(r); got != "https://10.0.0.5:8080" {
		t.Fatalf("over TLS without the middleware: %s", got)
	}
	r = r.WithContext(NewContext(r.Context(), New(Request{Scheme: "https", Host: "taxii.example.com"})))
	if got := BaseURL(r); got != "https://taxii.example.com" {
		t.Fatalf("behind a trusted proxy: %s", got)
	}
}
