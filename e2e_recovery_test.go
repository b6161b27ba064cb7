package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// A run killed while recording leaves its video as segments. The next
// command marks it abandoned at once and leaves the video to be finalised
// in the background (ffmpeg takes seconds no command should wait for); a
// run that lasts long enough finishes it: the row, result.json and the
// folder then hold the finalised video, and no note is left.
func TestAbandonedRunVideoFinalisedInBackground(t *testing.T) {
	p := newProject(t)
	p.write("slow.py", "import time\nprint('slow started', flush=True)\ntime.sleep(600)\n")
	p.write("noop.py", "")
	p.write("wait.py", "import time\ntime.sleep(5)\n")
	cmd, _ := p.background(t, []string{"VPT_VIDEO_MODE=on"}, "slow started", "run", "slow.py")
	var dir string
	waitFor(t, func() bool {
		rows := p.results()
		if len(rows) != 1 {
			return false
		}
		dir = rows[0].RunDir
		segs, _ := capture.Segments(filepath.Join(dir, "video"))
		return len(segs) >= 2
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	pending := filepath.Join(p.dir, "vpt-results", ".pending-video")

	// A report command recovers the run and leaves its video to a run.
	p.vpt("report", "list").expectErr(t, 0, "marked abandoned; the next run or campaign will finalise its video")
	if notes, _ := os.ReadDir(pending); len(notes) != 1 {
		t.Fatalf("pending notes: %v", notes)
	}
	// A short run does not wait for it; a run of 5 s finishes it, or, on
	// a loaded machine, one of the runs after (each takes it up again).
	p.vpt("run", "noop.py").expect(t, 0)
	st := p.store()
	defer st.Close()
	var killed *store.Result
	for range 6 {
		p.vpt("run", "wait.py").expect(t, 0)
		for _, r := range p.results() {
			if r.ScriptName == "slow" {
				killed, _ = st.GetResult(t.Context(), r.ID)
			}
		}
		if killed == nil || killed.Status != store.StatusAbandoned {
			t.Fatalf("the killed run: %+v", killed)
		}
		if v := killed.Details.Video; v != nil && v.State == "finalised" {
			break
		}
	}
	if v := killed.Details.Video; v == nil || v.State != "finalised" || v.Path == "" {
		t.Fatalf("video of the killed run: %+v", killed.Details.Video)
	}
	if _, err := os.Stat(filepath.Join(dir, killed.Details.Video.Path)); err != nil {
		t.Fatal(err)
	}
	if segs, _ := capture.Segments(filepath.Join(dir, "video")); len(segs) != 0 {
		t.Fatalf("segments left: %v", segs)
	}
	if notes, _ := os.ReadDir(pending); len(notes) != 0 {
		t.Fatalf("notes left: %v", notes)
	}
}

// A second Ctrl-C that cuts the finalising of the video short leaves the
// segments noted: vpt report finalise (or the next run) makes the video.
func TestCutShortFinaliseIsTakenUp(t *testing.T) {
	p := newProject(t)
	started := filepath.Join(p.dir, "finalising")
	slow := p.write("slow-ffmpeg", "#!/bin/sh\ncase \"$*\" in *faststart*) touch "+started+"; sleep 60;; esac\nexec ffmpeg \"$@\"\n")
	os.Chmod(slow, 0o755)
	cmd, out := p.background(t, []string{"VPT_VIDEO_MODE=on", "VPT_TOOLS_FFMPEG=" + slow}, "sleeping", "run", fixture(t, "sleep_past_timeout.py"))
	cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, func() bool { _, err := os.Stat(started); return err == nil })
	time.Sleep(300 * time.Millisecond) // a second Ctrl-C, not the same one twice
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if !strings.Contains(out.String(), "vpt report finalise") {
		t.Fatalf("the output does not say how to make the video:\n%s", out.String())
	}
	row := p.results()[0]
	p.vpt("report", "finalise").expectOut(t, 0, "finalised the video of run "+row.ID[:8])
	if res, err := report.ReadResultJSON(row.RunDir); err != nil || res.Details.Video == nil || res.Details.Video.State != "finalised" {
		t.Fatalf("video after report finalise: %v %+v", err, res.Details.Video)
	}
}

// GNU timeout -s INT signals vpt, then vpt's process group, so vpt gets two
// SIGINTs at once: that is one interrupt, and the script gets its grace.
func TestTwoSignalsAtOnceAreOneInterrupt(t *testing.T) {
	p := newProject(t)
	script := p.write("polite.py", `import signal, sys, time
def stop(*_):
    time.sleep(0.5)
    print("cleaned up", flush=True)
    sys.exit(1)
signal.signal(signal.SIGINT, stop)
print("waiting", flush=True)
time.sleep(60)
`)
	cmd, out := p.background(t, nil, "waiting", "run", script)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(30 * time.Millisecond) // apart enough not to merge in the kernel
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if s := out.String(); !strings.Contains(s, "cleaned up") || strings.Contains(s, "killing the scripts") {
		t.Fatalf("two signals at once killed the script:\n%s", s)
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit code %d, want 130", code)
	}
}

// A run killed with kill -9 is recorded with what it left: its output's
// size and lines, and the steps its API calls logged as events.
func TestAbandonedRunKeepsOutputAndSteps(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/stepper.py", `import time, vpt
print("line one")
print("line two", flush=True)
with vpt.step("before the crash"):
    pass
print("stepped", flush=True)
time.sleep(600)
`)
	cmd, _ := p.background(t, nil, "stepped", "run", "stepper")
	st := p.store()
	waitFor(t, func() bool { // the step's end has reached the store
		evs, _ := st.Events(t.Context(), store.EventFilter{Types: []store.EventType{store.EventRunStep}})
		for _, e := range evs {
			var d store.RunStep
			if e.Decode(&d) == nil && d.Status == store.StatusPassed {
				return true
			}
		}
		return false
	})
	st.Close()
	cmd.Process.Kill()
	cmd.Wait()
	p.vpt("report", "list").expect(t, 0)
	row := p.only()
	if row.Status != store.StatusAbandoned {
		t.Fatalf("status %s", row.Status)
	}
	log, _ := os.ReadFile(filepath.Join(row.RunDir, "output.log"))
	if row.Details.OutputBytes != int64(len(log)) || row.Details.OutputLines != int64(strings.Count(string(log), "\n")) || len(log) == 0 {
		t.Fatalf("output %d bytes, %d lines; output.log has %d bytes:\n%s", row.Details.OutputBytes, row.Details.OutputLines, len(log), log)
	}
	if len(row.Details.Steps) != 1 || row.Details.Steps[0].Name != "before the crash" || row.Details.Steps[0].Status != store.StatusPassed {
		t.Fatalf("steps %+v", row.Details.Steps)
	}
	if _, err := os.Stat(filepath.Join(row.RunDir, "live.jpg")); err == nil {
		t.Fatal("live.jpg left in the run folder")
	}
}
