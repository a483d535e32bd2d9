package export

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestDecodeCursor(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 0, 0, 123456000, time.UTC).UnixMicro()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, tc := range map[string]struct {
		cursor string
		want   int64
		ok     bool
	}{
		"OpenCTI isoformat()+Z":    {b64("2026-12-02T01:00:00.123456Z"), at, true},
		"aware isoformat()+Z":      {b64("2026-12-02T01:00:00.123456+00:00Z"), at, true},
		"offset":                   {b64("2026-12-02T02:00:00.123456+01:00"), at, true},
		"no zone":                  {b64("2026-12-02T01:00:00.123456"), at, true},
		"URL alphabet, no padding": {base64.RawURLEncoding.EncodeToString([]byte("2026-12-02T01:00:00.123456Z")), at, true},
		"date only":                {b64("2026-12-02"), time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC).UnixMicro(), true},
		"before the epoch is 0":    {b64("1960-01-01T00:00:00Z"), 0, true},
		"own cursor round-trips":   {encodeCursor(at), at, true},
		"not base64":               {"%%%", 0, false},
		"not a time":               {b64("next page please"), 0, false},
		"empty":                    {"", 0, false},
		"too long":                 {b64(string(make([]byte, 200))), 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := decodeCursor(tc.cursor)
			if ok != tc.ok || got != tc.want {
				t.Errorf("decodeCursor(%q) = %d, %v; want %d, %v", tc.cursor, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzDecodeCursor: any input is refused or read as a time; a cursor made from the result reads back the same.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(1))
	f.Add(base64.StdEncoding.EncodeToString([]byte("2026-12-02T01:00:00.123456+00:00Z")))
	f.Add("MjAyNi0xMi0wMg")
	f.Fuzz(func(t *testing.T, c string) {
		us, ok := decodeCursor(c)
		if !ok {
			return
		}
		if us < 0 {
			t.Fatalf("%q gave a negative position %d", c, us)
		}
		if back, ok := decodeCursor(encodeCursor(us)); !ok || back != us {
			t.Fatalf("%q: position %d does not round-trip (%d, %v)", c, us, back, ok)
		}
	})
}
