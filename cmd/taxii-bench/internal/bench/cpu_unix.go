//go:build unix

package bench

import (
	"syscall"
	"time"
)

// selfCPU is the user+system CPU time this process used so far: the client's.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
