package server

import (
	"time"
)

// ConsolePath is where New mounts Options.Console.
const ConsolePath = "/console"

// AddressLimiter allows perMinute attempts per client address and minute, at most
// perMinute at once: the server's token bucket, for the web console's login form.
// It returns whether an attempt from client may go ahead, or how long until one may.
func AddressLimiter(perMinute int, now func() time.Time) func(client string) (bool, time.Duration) {
	if now == nil {
		now = time.Now
	}
	l := newLimiter(float64(perMinute)/60, perMinute, now)
	return func(client string) (bool, time.Duration) { return l.allow(digest("login", client)) }
}
