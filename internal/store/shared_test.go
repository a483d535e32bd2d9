package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func TestSummarizePage(t *testing.T) {
	for _, tt := range []struct {
		keys  []int64
		limit int
		want  store.Page
	}{
		{nil, 3, store.Page{}},
		{[]int64{5}, 3, store.Page{Count: 1, First: 5, Last: 5}},
		{[]int64{5, 7, 9}, 3, store.Page{Count: 3, First: 5, Last: 9}},
		{[]int64{5, 7, 9, 11}, 3, store.Page{Count: 3, First: 5, Last: 9, More: true}},
	} {
		if got := store.SummarizePage(tt.keys, tt.limit); got != tt.want {
			t.Errorf("SummarizePage(%v, %d) = %+v, want %+v", tt.keys, tt.limit, got, tt.want)
		}
	}
}

func TestWantsLatest(t *testing.T) {
	for _, tt := range []struct {
		v    store.VersionMatch
		want bool
	}{
		{store.VersionMatch{}, true},
		{store.VersionMatch{Last: true}, true},
		{store.VersionMatch{Last: true, First: true}, true},
		{store.VersionMatch{First: true}, false},
		{store.VersionMatch{All: true}, false},
		{store.VersionMatch{Times: []string{"k"}}, false},
		{store.VersionMatch{DateAdded: []int64{1}}, false},
		{store.VersionMatch{Last: true, Times: []string{"k"}}, true},
	} {
		if got := tt.v.WantsLatest(); got != tt.want {
			t.Errorf("%+v.WantsLatest() = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestStatusObjectsCodec(t *testing.T) {
	if got := string(store.EncodeStatusObjects(nil)); got != "[]" {
		t.Fatalf("empty list encodes as %s, want []", got)
	}
	in := []store.StatusObject{{ID: "a--1", Version: "v", Message: `bad "x"`}, {ID: "b--2"}}
	b := store.EncodeStatusObjects(in)
	if want := `[{"id":"a--1","version":"v","message":"bad \"x\""},{"id":"b--2"}]`; string(b) != want {
		t.Fatalf("encoded %s, want %s", b, want)
	}
	var out []store.StatusObject
	err := store.ScanStatusObjects(bytes.NewReader(b), store.StatusFailures, func(l store.StatusList, o store.StatusObject) error {
		if l != store.StatusFailures {
			t.Errorf("entry of list %d, want %d", l, store.StatusFailures)
		}
		out = append(out, o)
		return nil
	})
	if err != nil || !slices.Equal(out, in) {
		t.Fatalf("scanned %+v, %v; want %+v", out, err, in)
	}
	stop := errors.New("stop")
	calls := 0
	if err := store.ScanStatusObjects(bytes.NewReader(b), 0, func(store.StatusList, store.StatusObject) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("each's error: %v after %d calls, want it as is after 1", err, calls)
	}
	for _, bad := range []string{"", "{", `{"id":"a"}`, `[{"id":"a"}`, `[{"id":1}]`, `[{"id":"a"},]`} {
		if err := store.ScanStatusObjects(strings.NewReader(bad), 0, func(store.StatusList, store.StatusObject) error { return nil }); err == nil {
			t.Errorf("%q scans", bad)
		}
	}
}

func TestCanonicalUUID(t *testing.T) {
	const id = "6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001"
	for _, in := range []string{id, strings.ToUpper(id)} {
		if got, ok := store.CanonicalUUID(in); !ok || got != id {
			t.Errorf("CanonicalUUID(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "x", id[:35], id + "0", "{" + id[:34] + "}", strings.ReplaceAll(id, "-", ""), "urn:uuid:" + id} {
		if got, ok := store.CanonicalUUID(in); ok {
			t.Errorf("CanonicalUUID(%q) = %q, true; want false", in, got)
		}
	}
}

type driverErr struct{}

func (driverErr) Error() string { return "SQLSTATE 42P01 relation missing" }

func TestDriverError(t *testing.T) {
	cause := fmt.Errorf("query: %w", driverErr{})
	err := store.DriverError("postgres", cause)
	if !strings.Contains(err.Error(), "postgres: query: SQLSTATE 42P01") {
		t.Errorf("message %q lost the driver's", err)
	}
	var d driverErr
	if errors.As(err, &d) {
		t.Error("the driver's error type is reachable above the store")
	}
	var de *store.DatabaseError
	if !errors.As(err, &de) || !errors.Is(de.Cause(), driverErr{}) {
		t.Error("the cause is not kept for the log")
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		t.Error("a driver error reads as a sentinel")
	}
}

func TestBeginPage(t *testing.T) {
	var got []store.Page
	begin := func(p store.Page) error { got = append(got, p); return nil }
	if p, rows, err := store.BeginPage([]int64{4, 6}, 1, begin); err != nil || !rows || p != (store.Page{Count: 1, First: 4, Last: 4, More: true}) {
		t.Fatalf("BeginPage = %+v, %v, %v", p, rows, err)
	}
	if _, rows, err := store.BeginPage(nil, 1, begin); err != nil || rows {
		t.Fatalf("empty BeginPage: rows %v, %v", rows, err)
	}
	if len(got) != 2 || got[1] != (store.Page{}) {
		t.Fatalf("begin saw %+v, want each page once", got)
	}
	stop := errors.New("stop")
	if _, rows, err := store.BeginPage([]int64{4}, 1, func(store.Page) error { return stop }); err != stop || rows {
		t.Fatalf("begin's error: rows %v, %v; want it as is", rows, err)
	}
}
