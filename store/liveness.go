package store

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vpt-dev/vpt/internal/proc"
)

// Heartbeats: a running row gets one every HeartbeatEvery; a row whose
// owner cannot be checked directly (another machine, another PID
// namespace, a reboot since) counts as abandoned once its last heartbeat
// is older than StaleHeartbeat.
const (
	HeartbeatEvery = 15 * time.Second
	StaleHeartbeat = 2 * time.Minute
)

// Process identifies a vpt process uniquely, not by host name and pid —
// two containers share a host name and reuse each other's pids — but by
// the boot it runs in, its PID namespace, its pid there, and its start
// time (against pid reuse).
type Process struct {
	Boot  string // /proc/sys/kernel/random/boot_id
	PIDNS uint64 // inode of /proc/self/ns/pid
	PID   int
	Start int64 // clock ticks since boot (field 22 of /proc/PID/stat)
}

var thisProcess = sync.OnceValue(func() Process {
	p := Process{PID: os.Getpid()}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		p.Boot = strings.TrimSpace(string(b))
	}
	var st syscall.Stat_t
	if syscall.Stat("/proc/self/ns/pid", &st) == nil {
		p.PIDNS = st.Ino
	}
	p.Start, _ = ProcessStart(p.PID)
	return p
})

// ThisProcess is the calling vpt process.
func ThisProcess() Process { return thisProcess() }

// String is the form stored in the owner column: boot/pidns/pid/start.
func (p Process) String() string {
	return fmt.Sprintf("%s/%d/%d/%d", p.Boot, p.PIDNS, p.PID, p.Start)
}

// ParseProcess reads an owner column; ok is false for rows of older vpt
// versions, which stored none.
func ParseProcess(s string) (p Process, ok bool) {
	f := strings.Split(s, "/")
	if len(f) != 4 || f[0] == "" {
		return Process{}, false
	}
	var err1, err2, err3 error
	p.Boot = f[0]
	p.PIDNS, err1 = strconv.ParseUint(f[1], 10, 64)
	p.PID, err2 = strconv.Atoi(f[2])
	p.Start, err3 = strconv.ParseInt(f[3], 10, 64)
	return p, err1 == nil && err2 == nil && err3 == nil && p.PID > 0
}

// Life is what can be told of a row's owner.
type Life int

const (
	// Alive: the owner runs, or may run (a fresh heartbeat).
	Alive Life = iota
	// Dead: the owner is certainly gone (same machine, boot and PID
	// namespace, and no such process).
	Dead
	// Stale: the owner cannot be checked and its heartbeat is old: it is
	// most likely gone, but its files may still be in use.
	Stale
)

// OwnerLife judges a running row's owner from its owner column and last
// heartbeat. Host names and bare pids are never trusted.
func OwnerLife(owner string, heartbeat time.Time) Life {
	me := ThisProcess()
	if p, ok := ParseProcess(owner); ok && me.Boot != "" && p.Boot == me.Boot && p.PIDNS == me.PIDNS {
		if ProcessAlive(p.PID, p.Start) {
			return Alive
		}
		return Dead
	}
	if time.Since(heartbeat) > StaleHeartbeat {
		return Stale
	}
	return Alive
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
	s, err := proc.Read(pid)
	return s.Start, err
}

// Beat calls beat every HeartbeatEvery until the returned stop is called,
// on a context that outlives ctx's cancellation (a run being stopped
// still beats while it finalises) and ends with stop.
func Beat(ctx context.Context, beat func(ctx context.Context, now time.Time)) (stop func()) {
	hb, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		t := time.NewTicker(HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hb.Done():
				return
			case now := <-t.C:
				beat(hb, now)
			}
		}
	}()
	return cancel
}
