package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// countSupervisors is a script that prints how many processes of vpt's
// binary vpt has as children while it runs: its supervisors.
const countSupervisors = `import os
sup = os.getppid()
def stat(pid):
    return open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
vpt = int(stat(sup)[1])
exe = os.readlink("/proc/%d/exe" % sup)
n = 0
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            if int(stat(d)[1]) == vpt and os.readlink("/proc/%s/exe" % d) == exe:
                n += 1
        except OSError:
            pass
print("supervisors: %d" % n)
`

// The supervisor of `vpt run` and `vpt campaign` starts with vpt, before
// its Go runtime (executor/contain/early.go): a run has that one
// supervisor, not a second, and one that no script used ends with vpt.
func TestOneSupervisorStartedWithVpt(t *testing.T) {
	p := newProject(t)
	// vpt's binary under a path of this test's own, to tell its processes
	// from other tests'.
	bin := filepath.Join(p.dir, "vpt-bin")
	if err := os.Link(vptBin, bin); err != nil {
		data, err := os.ReadFile(vptBin)
		if err != nil || os.WriteFile(bin, data, 0o755) != nil {
			t.Fatal("copying vpt's binary:", err)
		}
	}
	p.write("test_scripts/count.py", countSupervisors)
	p.write("c.yaml", "campaign_id: c\nname: C\nscript_configurations:\n  - {script_name: count}\n  - {script_name: count}\n")
	p.bin = bin
	p.vpt("run", "count.py").expectOut(t, 0, "supervisors: 1")
	p.vpt("campaign", "c.yaml").expect(t, 0)
	runs := p.results()
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3", len(runs))
	}
	for _, res := range runs {
		out, err := os.ReadFile(filepath.Join(res.RunDir, "output.log"))
		if err != nil || !strings.Contains(string(out), "supervisors: 1\n") {
			t.Errorf("run %s: each script should see one supervisor: %q %v", res.ID[:8], out, err)
		}
	}
	p.vpt("run", "--help").expect(t, 0)
	p.vpt("run", "missing.py").expect(t, 2)
	p.vpt("campaign", "missing.yaml").expect(t, 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesOf(bin)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervisors outlived vpt: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesOf lists the live processes running the executable at path.
func processesOf(path string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == path && running(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
