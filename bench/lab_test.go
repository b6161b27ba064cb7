package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store/postgres"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
)

// The lab's benchmarks (issue "agents"): agents as separate processes on
// this machine, each with its own virtual devices, one PostgreSQL.

// labDB creates an empty database on the benchmark server.
func labDB(b *testing.B) (string, *sql.DB) {
	url := pgtest.FreshDB(b)
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return url, st.SQL()
}

// syncBuf collects a process's output for a reader.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAgent starts `vpt agent` in a folder of its own with n virtual
// devices and the scripts given, and waits until it serves.
func startAgent(b *testing.B, url, name string, n int, scripts map[string]string) *exec.Cmd {
	p := newProj(b, "VPT_VIDEO_MODE=off", "VPT_SCREENSHOTS_AUTO=false")
	var devs strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&devs, "  - {id: device%d, model: virtual}\n", i)
	}
	p.write(b, "vpt.yaml", "results_dir: results\ndevices:\n"+devs.String())
	for f, body := range scripts {
		p.write(b, "test_scripts/"+f, body)
	}
	cmd := exec.Command(vptBin, "agent", "--store", url, "--name", name)
	cmd.Dir, cmd.Env = p.dir, p.env
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	for end := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "serving"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("agent %s did not start:\n%s", name, out.String())
		}
	}
	return cmd
}

func campaignYAML(n int, entry string) string {
	var e strings.Builder
	for range n {
		e.WriteString("  - " + entry + "\n")
	}
	return "campaign_id: bench\nname: Bench\ndevice: auto\nexecution_config: {parallel: true}\nscript_configurations:\n" + e.String()
}

// 60 scripts sleeping 1 s over 3 agents with 2 virtual devices each: at
// most 1.15x the ideal 10 s; a local --parallel 6 campaign on 6 devices
// beside it.
func BenchmarkLabThroughput(b *testing.B) {
	url, _ := labDB(b)
	scripts := map[string]string{"sleep1.py": "import time\ntime.sleep(1)\n"}
	for _, name := range []string{"lab-a", "lab-b", "lab-c"} {
		startAgent(b, url, name, 2, scripts)
	}
	coord := newProj(b, "VPT_VIDEO_MODE=off", "VPT_SCREENSHOTS_AUTO=false")
	coord.write(b, "test_scripts/sleep1.py", scripts["sleep1.py"])
	coord.write(b, "c.yaml", campaignYAML(60, "{script_name: sleep1}"))
	d := coord.timed(b, false, nil, vptBin, "campaign", "c.yaml", "--distributed", "--store", url, "-q")
	if !strings.Contains(d.out, "60 passed") {
		b.Fatalf("distributed campaign:\n%s", d.out)
	}

	local := newProj(b, "VPT_VIDEO_MODE=off", "VPT_SCREENSHOTS_AUTO=false")
	var devs strings.Builder
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&devs, "  - {id: device%d, model: virtual}\n", i)
	}
	local.write(b, "vpt.yaml", "devices:\n"+devs.String())
	local.write(b, "test_scripts/sleep1.py", scripts["sleep1.py"])
	local.write(b, "c.yaml", campaignYAML(60, "{script_name: sleep1}"))
	l := local.timed(b, false, nil, vptBin, "campaign", "c.yaml", "--parallel", "6", "-q")
	b.ReportMetric(d.wall.Seconds(), "s-distributed")
	b.ReportMetric(d.wall.Seconds()/10, "ratio-to-ideal")
	b.ReportMetric(l.wall.Seconds(), "s-local-parallel-6")
}

// 200 no-op scripts on one agent with one device, against the same local
// campaign on one device: at most 30 ms added per script. The two take
// turns, twice, and the faster of each counts: a loaded machine's noise
// is larger than the difference.
func BenchmarkLabDispatch(b *testing.B) {
	url, _ := labDB(b)
	scripts := map[string]string{}
	var entries strings.Builder
	for i := range 200 {
		scripts[fmt.Sprintf("noop_%03d.py", i)] = ""
		fmt.Fprintf(&entries, "  - {script_name: noop_%03d}\n", i)
	}
	startAgent(b, url, "lab-a", 1, scripts)
	yaml := "campaign_id: disp\nname: Dispatch\ndevice: auto\nscript_configurations:\n" + entries.String()
	walls := []time.Duration{time.Hour, time.Hour}
	for _, distributed := range []bool{false, true, false, true} {
		p := newProj(b, "VPT_VIDEO_MODE=off", "VPT_SCREENSHOTS_AUTO=false")
		for f, body := range scripts {
			p.write(b, "test_scripts/"+f, body)
		}
		p.write(b, "c.yaml", yaml)
		args := []string{"campaign", "c.yaml", "-q"}
		if distributed {
			args = append(args, "--distributed", "--store", url)
		}
		m := p.timed(b, false, nil, vptBin, args...)
		if !strings.Contains(m.out, "200 passed") {
			b.Fatalf("campaign %v:\n%s", args, m.out)
		}
		i := map[bool]int{false: 0, true: 1}[distributed]
		walls[i] = min(walls[i], m.wall)
	}
	b.ReportMetric(ms(walls[0])/200, "ms-per-script-local")
	b.ReportMetric(ms(walls[1])/200, "ms-per-script-distributed")
	b.ReportMetric((ms(walls[1])-ms(walls[0]))/200, "ms-per-script-added")
}

// Ctrl-C of the coordinator to every remote script stopped and recorded
// (the coordinator exits once the rows are final): at most 1 s. Then a
// dead agent (kill -9) to its entry running again elsewhere: at most 45 s.
func BenchmarkLabCancelAndDeadAgent(b *testing.B) {
	url, db := labDB(b)
	scripts := map[string]string{"sleep60.py": "import time\ntime.sleep(60)\n", "sleep5.py": "import time\ntime.sleep(5)\n"}
	var agents []*exec.Cmd
	for _, name := range []string{"lab-a", "lab-b", "lab-c"} {
		agents = append(agents, startAgent(b, url, name, 2, scripts))
	}
	coord := newProj(b, "VPT_VIDEO_MODE=off", "VPT_SCREENSHOTS_AUTO=false")
	for f, body := range scripts {
		coord.write(b, "test_scripts/"+f, body)
	}
	coord.write(b, "c.yaml", campaignYAML(6, "{script_name: sleep60}"))
	cmd := exec.Command(vptBin, "campaign", "c.yaml", "--distributed", "--store", url)
	cmd.Dir, cmd.Env = coord.dir, coord.env
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for end := time.Now().Add(60 * time.Second); strings.Count(out.String(), "start   sleep60") < 6; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("not every script started:\n%s", out.String())
		}
	}
	time.Sleep(500 * time.Millisecond) // the scripts run
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	cancelled := time.Since(start)
	var running, interrupted int
	db.QueryRow("SELECT count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'interrupted') FROM script_results").
		Scan(&running, &interrupted)
	if cmd.ProcessState.ExitCode() != 130 || running != 0 || interrupted != 6 {
		b.Fatalf("exit %d, %d running, %d interrupted\n%s", cmd.ProcessState.ExitCode(), running, interrupted, out.String())
	}
	b.ReportMetric(ms(cancelled), "ms-ctrl-c-to-recorded")

	// lab-c dies while it runs an entry.
	coord.write(b, "d.yaml", campaignYAML(6, "{script_name: sleep5}"))
	cmd = exec.Command(vptBin, "campaign", "d.yaml", "--distributed", "--store", url)
	cmd.Dir, cmd.Env = coord.dir, coord.env
	out = &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for end := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), "start   sleep5 on lab-c/"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("lab-c did not start its scripts:\n%s", out.String())
		}
	}
	killed := time.Now()
	agents[2].Process.Kill()
	cmd.Wait()
	if cmd.ProcessState.ExitCode() != 0 {
		b.Fatalf("exit %d\n%s", cmd.ProcessState.ExitCode(), out.String())
	}
	var rerun time.Time
	if err := db.QueryRow(`SELECT min(started_at) FROM vpt_attempts WHERE attempt = 2`).Scan(&rerun); err != nil {
		b.Fatalf("no entry ran again: %v\n%s", err, out.String())
	}
	b.ReportMetric(rerun.Sub(killed).Seconds(), "s-dead-agent-to-rerun")
}
