package usage

import (
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

type nopStore struct{ store.Usage }

// BenchmarkRecord is the cost usage adds to one request: a map update under a mutex.
func BenchmarkRecord(b *testing.B) {
	r, err := New(nopStore{}, Options{MaxEntries: 100, FlushEvery: time.Hour, Retention: 24 * time.Hour, FinalFlushTimeout: time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := Event{KeyID: keyA, FeedID: feed1, At: time.Now(), Poll: true, Objects: 1000, Bytes: 1 << 20}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Record(e)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Record(e)
			}
		})
	})
}
