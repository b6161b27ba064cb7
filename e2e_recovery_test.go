package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/capture"
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
	// A short run does not wait for it; a run of 5 s finishes it.
	p.vpt("run", "noop.py").expect(t, 0)
	p.vpt("run", "wait.py").expect(t, 0)
	st := p.store()
	defer st.Close()
	var killed *store.Result
	for _, r := range p.results() {
		if r.ScriptName == "slow" {
			killed, _ = st.GetResult(t.Context(), r.ID)
		}
	}
	if killed == nil || killed.Status != store.StatusAbandoned {
		t.Fatalf("the killed run: %+v", killed)
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
