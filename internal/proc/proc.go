// Package proc reads what Linux says of a process in /proc/PID/stat: its
// state, its parent and its start time. It is the one parser of that file
// (containment walks the process tree with it, liveness tells a live owner
// from a reused pid with it).
package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Stat is the part of /proc/PID/stat vpt uses.
type Stat struct {
	PID  int
	PPID int
	// State is the one-letter state: R, S, D, Z (zombie), X (dead)…
	State byte
	// Start is when the process started, in clock ticks since boot: with
	// the pid, it names one process for the life of the machine.
	Start int64
}

// Zombie reports a process that has exited and waits to be reaped (or is
// being removed): it runs no more.
func (s Stat) Zombie() bool { return s.State == 'Z' || s.State == 'X' }

// Read reads /proc/PID/stat.
func Read(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return Parse(pid, b)
}

// Parse reads the content of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after its last
// ')': field 3 is the state, 4 the parent, 22 the start time.
func Parse(pid int, b []byte) (Stat, error) {
	bad := fmt.Errorf("bad /proc/%d/stat", pid)
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, bad
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, bad
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	start, err2 := strconv.ParseInt(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil {
		return Stat{}, bad
	}
	return Stat{PID: pid, PPID: ppid, State: f[0][0], Start: start}, nil
}
