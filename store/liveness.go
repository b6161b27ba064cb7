package store

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// StaleHeartbeat is how old the last heartbeat of a running row from another
// host may be before the row counts as abandoned. Running rows get a
// heartbeat every HeartbeatEvery.
const (
	HeartbeatEvery = 30 * time.Second
	StaleHeartbeat = 5 * time.Minute
)

// LocalLiveness judges rows of this host by their process (pid and its
// start time, so a reused pid does not count) and rows of other hosts by
// their heartbeat.
func LocalLiveness(thisHost string) Liveness {
	return func(host string, pid int, pidStart int64, heartbeat time.Time) bool {
		if host != thisHost {
			return time.Since(heartbeat) < StaleHeartbeat
		}
		return ProcessAlive(pid, pidStart)
	}
}

// ProcessAlive reports whether pid is a live process that started at start
// (clock ticks since boot, as ProcessStart reports; 0 skips that check).
func ProcessAlive(pid int, start int64) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	if start == 0 {
		return true
	}
	got, err := ProcessStart(pid)
	if err != nil {
		// No /proc: trust the signal check.
		return true
	}
	return got == start
}

// ProcessStart returns the start time of a process in clock ticks since
// boot (field 22 of /proc/PID/stat).
func ProcessStart(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return strconv.ParseInt(string(fields[19]), 10, 64)
}
