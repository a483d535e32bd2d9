package auth

import (
	"errors"
	"testing"
	"time"
)

func TestFailuresExpireAndStayBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFailures(30*time.Second, 3)
	bad := errors.New("no key")
	f.put("a", bad, now)
	if err := f.get("a", now.Add(29*time.Second)); err != bad { //nolint:errorlint // the stored error itself
		t.Fatalf("within the TTL: %v", err)
	}
	if err := f.get("a", now.Add(30*time.Second)); err != nil {
		t.Fatalf("after the TTL: %v", err)
	}
	if err := f.get("b", now); err != nil {
		t.Fatalf("never failed: %v", err)
	}
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		f.put(k, bad, now.Add(time.Duration(i)*time.Second))
		if len(f.m) > 3 {
			t.Fatalf("%d entries, bound 3", len(f.m))
		}
	}
	if f.get("e", now.Add(5*time.Second)) == nil {
		t.Fatal("the newest failure was dropped")
	}
}
