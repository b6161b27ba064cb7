package contain

import (
	"bytes"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// proc is what /proc/PID/stat says of a process.
type proc struct {
	pid, ppid int
	state     byte
}

// readStat parses /proc/PID/stat (the command name, field 2, may hold
// spaces and parentheses: fields are counted after its last ')').
func readStat(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return proc{}, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 2 {
		return proc{}, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, state: f[0][0]}, true
}

// descendants lists the live (not zombie) processes below root, parents
// before their children.
func descendants(root int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readStat(pid); ok {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			if c.state != 'Z' && c.state != 'X' {
				out = append(out, c)
			}
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// signalTree sends sig to every live process below root. Each is opened as
// a pidfd and checked to still have the parent it was listed with before
// it is signalled, so a pid reused meanwhile by an unrelated process is
// never hit.
func signalTree(root int, sig syscall.Signal) {
	for _, p := range descendants(root) {
		signalChild(p, sig)
	}
}

func signalChild(p proc, sig syscall.Signal) {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err == syscall.ENOSYS {
		// Kernels before 5.3: the listing above is all there is.
		_ = syscall.Kill(p.pid, sig)
		return
	}
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	if now, ok := readStat(p.pid); !ok || now.ppid != p.ppid && now.ppid != os.Getpid() {
		return
	}
	_ = unix.PidfdSendSignal(fd, unix.Signal(sig), nil, 0)
}
