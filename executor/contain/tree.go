package contain

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vpt-dev/vpt/internal/proc"
)

// descendants lists the live (not zombie) processes below root, parents
// before their children.
func descendants(root int) []proc.Stat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc.Stat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := proc.Read(pid); err == nil {
			children[p.PPID] = append(children[p.PPID], p)
		}
	}
	var out []proc.Stat
	queue := []int{root}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			if !c.Zombie() {
				out = append(out, c)
			}
			queue = append(queue, c.PID)
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

func signalChild(p proc.Stat, sig syscall.Signal) {
	fd, err := unix.PidfdOpen(p.PID, 0)
	if err == syscall.ENOSYS {
		// Kernels before 5.3: the listing above is all there is.
		_ = syscall.Kill(p.PID, sig)
		return
	}
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	if now, err := proc.Read(p.PID); err != nil || now.PPID != p.PPID && now.PPID != os.Getpid() {
		return
	}
	_ = unix.PidfdSendSignal(fd, unix.Signal(sig), nil, 0)
}
