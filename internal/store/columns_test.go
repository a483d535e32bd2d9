package store

import (
	"testing"
	"time"
)

func TestColumnEncodings(t *testing.T) {
	if got := JSONList(nil); got != "[]" {
		t.Errorf("JSONList(nil) = %s", got)
	}
	if got := JSONList([]string{"a", `"b"`}); got != `["a","\"b\""]` {
		t.Errorf("JSONList = %s", got)
	}
	if MicrosOrZero(time.Time{}) != 0 || !TimeOrZero(0).IsZero() {
		t.Error("the zero time is not 0 both ways")
	}
	at := time.Date(2026, 12, 2, 4, 0, 0, 123456000, time.FixedZone("x", 3600))
	if back := TimeOrZero(MicrosOrZero(at)); !back.Equal(at) || back.Location() != time.UTC {
		t.Errorf("round trip %v → %v", at, back)
	}
}

func TestBuildAtOnceStaysUnderTheTimeouts(t *testing.T) {
	for _, c := range []struct {
		lim  Limits
		want time.Duration
	}{
		{Limits{}, DefaultFeedBuildAtOnce},
		{Limits{FeedBuildAtOnce: time.Second}, time.Second},
		{Limits{LockTimeout: 4 * time.Second, StatementTimeout: time.Minute}, 2 * time.Second},
		{Limits{LockTimeout: 30 * time.Second, StatementTimeout: 3 * time.Second}, 1500 * time.Millisecond},
	} {
		if got := c.lim.BuildAtOnce(); got != c.want {
			t.Errorf("%+v.BuildAtOnce() = %s, want %s", c.lim, got, c.want)
		}
	}
}
