//go:build race

package taxii

// raceEnabled lets heavy tests shrink under the race detector's slowdown.
const raceEnabled = true
