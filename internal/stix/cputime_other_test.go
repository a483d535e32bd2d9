//go:build !unix

package stix

import (
	"testing"
	"time"
)

// cpuTime is unknown here; benchmarks then report wall-clock rates only.
func cpuTime(testing.TB) time.Duration { return 0 }
