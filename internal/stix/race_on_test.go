//go:build race

package stix

// raceEnabled lets heavy tests shrink under the race detector's slowdown.
const raceEnabled = true
