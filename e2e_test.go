package main

// End-to-end tests of single runs: verdicts, timeouts, signals, output,
// bad input. The shared helpers are in e2e_helpers_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

func TestRunHello(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/hello.py", `import vpt
print("hello from the script")
vpt.screenshot("greeting")
vpt.metadata(build="42")
`)
	r := p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "run", "hello")
	r.expectOut(t, 0, "[hello] hello from the script", "PASSED hello on device1")
	res := p.only()
	if res.Status != store.StatusPassed || *res.ExitCode != 0 || res.Metadata["build"] != "42" || res.DeviceModel != "virtual" {
		t.Fatalf("result: %+v", res)
	}
	log, _ := os.ReadFile(filepath.Join(res.RunDir, "output.log"))
	if string(log) != "hello from the script\n" {
		t.Fatalf("output.log: %q", log)
	}
	for _, f := range []string{"result.json", "video.mp4", "screenshots/001-initial.png", "screenshots/002-greeting.png", "screenshots/003-final.png"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	link, err := os.Readlink(filepath.Join(p.dir, "vpt-results", "latest"))
	if err != nil || link != filepath.Join("runs", res.ID) {
		t.Fatalf("latest -> %q (%v)", link, err)
	}
}

func TestRunJSON(t *testing.T) {
	p := newProject(t)
	r := p.vpt("run", fixture(t, "exit3.py"), "--json")
	r.expect(t, 1)
	var f report.RunFile
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if f.Schema != report.ResultSchema || f.Status != store.StatusFailed || *f.ExitCode != 3 || f.Details.VerdictSource != "exit_code" {
		t.Fatalf("json: %+v", f.Result)
	}
	if !strings.Contains(r.stderr, "about to exit 3") {
		t.Fatalf("script output should go to stderr with --json: %q", r.stderr)
	}
}

func TestVerdicts(t *testing.T) {
	for _, c := range []struct {
		script string
		code   int
		status store.Status
		source string
	}{
		{"exit3.py", 1, store.StatusFailed, "exit_code"},
		{"marker_false_exit0.py", 1, store.StatusFailed, "marker"},
		{"keyboard_interrupt.py", 1, store.StatusFailed, "exit_code"},
		{"noop.py", 0, store.StatusPassed, "exit_code"},
	} {
		t.Run(c.script, func(t *testing.T) {
			p := newProject(t)
			p.vpt("run", fixture(t, c.script)).expect(t, c.code)
			res := p.only()
			if res.Status != c.status || res.Details.VerdictSource != c.source {
				t.Fatalf("status %s from %s, want %s from %s", res.Status, res.Details.VerdictSource, c.status, c.source)
			}
		})
	}
}

// A SCRIPT_SUCCESS:false line is a reported failure that stays one: a
// later :true does not undo it. Python's True and False (an f-string of a
// bool) are markers too.
func TestMarkerVerdicts(t *testing.T) {
	for _, c := range []struct {
		name, out string
		code      int
		status    store.Status
	}{
		{"false_then_true", `print("SCRIPT_SUCCESS:false"); print("SCRIPT_SUCCESS:true")`, 1, store.StatusFailed},
		{"python_false", `ok = False; print(f"SCRIPT_SUCCESS:{ok}")`, 1, store.StatusFailed},
		{"spaced_false", `print("SCRIPT_SUCCESS: false")`, 1, store.StatusFailed},
		{"python_true", `ok = True; print(f"SCRIPT_SUCCESS:{ok}")`, 0, store.StatusPassed},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newProject(t)
			p.vpt("run", p.write(c.name+".py", c.out+"\n")).expect(t, c.code)
			if res := p.only(); res.Status != c.status || res.Details.VerdictSource != "marker" {
				t.Fatalf("status %s from %s, want %s from marker", res.Status, res.Details.VerdictSource, c.status)
			}
		})
	}
}

func TestTimeoutKillsTheGroup(t *testing.T) {
	p := newProject(t)
	r := p.vptEnv([]string{"VPT_GRACE=300ms"}, "run", fixture(t, "ignore_sigterm.py"), "--timeout", "500ms")
	r.expect(t, 4, "TIMEOUT", "ignored SIGTERM")
	res := p.only()
	if res.Status != store.StatusTimeout || res.Success {
		t.Fatalf("status %s", res.Status)
	}
	if pids := p.processes(); len(pids) > 0 {
		t.Fatalf("the script's processes %v still run", pids)
	}
}

func TestTimeoutPolite(t *testing.T) {
	p := newProject(t)
	p.vpt("run", fixture(t, "sleep_past_timeout.py"), "--timeout", "300ms").expect(t, 4)
	if res := p.only(); res.Status != store.StatusTimeout {
		t.Fatalf("status %s", res.Status)
	}
}

func TestGrandchildHoldingStdout(t *testing.T) {
	p := newProject(t)
	r := p.vpt("run", fixture(t, "grandchild_holds_stdout.py"))
	r.expect(t, 0, "grandchild")
	var pid int
	fmt.Sscanf(r.stdout[strings.Index(r.stdout, "grandchild ")+len("grandchild "):], "%d", &pid)
	if pid == 0 {
		t.Fatalf("no grandchild pid in %q", r.stdout)
	}
	if st, ok := procStat(pid); ok && st.State != 'Z' {
		t.Fatalf("grandchild %d still running (state %c)", pid, st.State)
	}
}

func TestOutputPassesThroughIntact(t *testing.T) {
	p := newProject(t)
	r := p.vpt("run", fixture(t, "binary_output.py"), "--raw")
	r.expect(t, 0)
	want := "bad \xff\xfe utf8\n\rprogress 0%\rprogress 50%\rprogress 100%\ndone-without-newline"
	log, _ := os.ReadFile(filepath.Join(p.only().RunDir, "output.log"))
	if string(log) != want {
		t.Fatalf("output.log %q\nwant %q", log, want)
	}
	if !strings.HasPrefix(r.stdout, want) {
		t.Fatalf("terminal %q", r.stdout)
	}
}

func TestLongLines(t *testing.T) {
	p := newProject(t)
	p.vpt("run", fixture(t, "long_line_1mib.py"), "-q").expect(t, 0)
	log, _ := os.ReadFile(filepath.Join(p.only().RunDir, "output.log"))
	if len(log) != 1<<20+1 || strings.Trim(string(log), "x\n") != "" {
		t.Fatalf("output.log has %d bytes", len(log))
	}
}

func TestLargeOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB of output")
	}
	p := newProject(t)
	p.vpt("run", fixture(t, "print_200mb.py"), "-q").expect(t, 0)
	res := p.only()
	st, _ := os.Stat(filepath.Join(res.RunDir, "output.log"))
	if st.Size() != res.Details.OutputBytes || st.Size() < 199_000_000 {
		t.Fatalf("output.log %d bytes, recorded %d", st.Size(), res.Details.OutputBytes)
	}
}

func TestInterrupt(t *testing.T) {
	p := newProject(t)
	cmd, out := p.background(t, nil, "waiting", "run", fixture(t, "wait_for_interrupt.py"))
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "got KeyboardInterrupt") {
		t.Fatalf("the script did not see KeyboardInterrupt:\n%s", out.String())
	}
	if res := p.only(); res.Status != store.StatusInterrupted {
		t.Fatalf("status %s", res.Status)
	}
}

func TestSecondInterruptKills(t *testing.T) {
	p := newProject(t)
	cmd, out := p.background(t, []string{"VPT_GRACE=1h"}, "ignoring SIGTERM", "run", fixture(t, "ignore_sigterm.py"))
	cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, func() bool { return strings.Contains(out.String(), "sending SIGINT") })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err == nil || err.(*exec.ExitError).ExitCode() != 130 {
		t.Fatalf("exit %v\n%s", err, out.String())
	}
	if res := p.only(); res.Status != store.StatusInterrupted {
		t.Fatalf("status %s", res.Status)
	}
}

func TestBadInput(t *testing.T) {
	p := newProject(t)
	os.MkdirAll(filepath.Join(p.dir, "test_scripts", "folder"), 0o755)
	p.write("test_scripts/goto.py", "print(1)\n")
	p.write("notes.txt", "text\n")
	blocker := p.write("blocker", "a file where a folder should be\n")
	cases := []struct {
		name string
		args []string
		env  []string
		code int
		want []string
	}{
		{"missing script", []string{"run", "gotto"}, nil, 2, []string{"Script not found: " + filepath.Join(p.dir, "test_scripts", "gotto.py"), "did you mean: goto"}},
		{"folder", []string{"run", "folder"}, nil, 2, []string{"is a directory"}},
		// On the command line a path with .. is a path from the working
		// directory, like any other (campaign files may not climb out).
		{"path from the working directory", []string{"run", "../nosuch/x.py"}, nil, 2, []string{"Script not found: " + filepath.Join(filepath.Dir(p.dir), "nosuch", "x.py")}},
		{"not executable", []string{"run", "notes.txt"}, nil, 2, []string{"not executable", "chmod +x"}},
		{"interpreter missing", []string{"run", "goto"}, []string{"VPT_PYTHON=/no/such/python3"}, 2, []string{`Interpreter "/no/such/python3"`}},
		{"unknown flag", []string{"run", "goto", "--bogus"}, nil, 2, []string{"unknown flag: --bogus"}},
		{"unknown command", []string{"rnu"}, nil, 2, []string{"unknown command"}},
		{"unknown device", []string{"run", "goto", "--device", "device9"}, nil, 2, []string{"Device device9 not found. Available: [device1]"}},
		{"extra argument", []string{"run", "goto", "live"}, nil, 2, []string{"arguments for the script go after --"}},
		{"bad -p", []string{"run", "goto", "-p", "novalue"}, nil, 2, []string{"expected key=value"}},
		{"results folder not writable", []string{"run", "goto", "--results-dir", filepath.Join(blocker, "sub")}, nil, 3, []string{"not a directory"}},
		{"bad store url", []string{"run", "goto", "--store", "mysql://x"}, nil, 2, []string{"unknown scheme"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.vptEnv(c.env, c.args...).expectErr(t, c.code, c.want...)
			p.noRows()
		})
	}
}

func TestMalformedConfig(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/goto.py", "print(1)\n")
	p.write("vpt.yaml", "team_id: abc\nresults_dir: out\ndevices:\n  - id: device2\n    model: virtual\n    drop_rat: 0.5\n  - id: device3\n    model: virtual\n    key_latency: fast\n")
	r := p.vpt("run", "goto")
	r.expectErr(t, 2, "vpt.yaml:6:5: devices[0].drop_rat: unknown key (did you mean drop_rate?)",
		`vpt.yaml:9:18: devices[1].key_latency: expected a duration such as 30s or 5m, got "fast"`)
	p.write("vpt.yaml", "video:\n  mode: [on\n")
	p.vpt("run", "goto").expectErr(t, 2, "vpt.yaml:")
	if _, err := os.Stat(filepath.Join(p.dir, "out")); err == nil {
		t.Fatal("results folder created despite the bad configuration")
	}
}

func TestScriptArgsAndEnvironment(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/env.py", `import os, sys
print("ARGS", sys.argv[1:])
for k in ["TEAM_ID", "PROJECT_ROOT", "PYTHONUNBUFFERED", "VPT_DEVICE", "VPT_DEVICE_MODEL", "AI_SCRIPT_NAME"]:
    print(k, os.environ.get(k))
print("RUNDIR", os.environ["VPT_RESULTS_DIR"] == os.path.dirname(os.path.abspath(os.environ["VPT_RESULTS_DIR"] + "/x")))
print("STDIN", sys.stdin.read() == "")
`)
	r := p.vpt("run", "env", "-p", "node=live", "-p", "--max=3", "--", "--extra", "a b")
	r.expect(t, 0, "ARGS ['--node', 'live', '--max', '3', '--extra', 'a b']", "TEAM_ID "+"7fdeb4bb-3639-4ec3-959f-b54769a219ce",
		"PROJECT_ROOT "+p.dir, "PYTHONUNBUFFERED 1", "VPT_DEVICE device1", "VPT_DEVICE_MODEL virtual", "AI_SCRIPT_NAME None", "STDIN True")
	p.vptEnv([]string{"TEAM_ID=team-from-env"}, "run", "env").expect(t, 0, "TEAM_ID team-from-env")
}

func TestAITestCaseRedirect(t *testing.T) {
	p := newProject(t)
	p.vpt("run", "ai_testcase_login").expectErr(t, 2, "Script not found: "+filepath.Join(p.dir, "test_scripts", "ai_testcase_executor.py"), "AI test case")
	p.write("test_scripts/ai_testcase_executor.py", "import os\nprint('AI', os.environ['AI_SCRIPT_NAME'])\n")
	p.vpt("run", "ai_testcase_login").expect(t, 0, "AI ai_testcase_login")
	if res := p.only(); res.ScriptName != "ai_testcase_login" {
		t.Fatalf("recorded as %q", res.ScriptName)
	}
}

func TestShellScriptAndVenv(t *testing.T) {
	p := newProject(t)
	p.vpt("run", fixture(t, "shell_script.sh"), "--", "one").expect(t, 0, "shell says hi: one")
	p.write("venv/bin/python", "#!/bin/sh\necho FROM-VENV\nexec python3 \"$@\"\n")
	os.Chmod(filepath.Join(p.dir, "venv/bin/python"), 0o755)
	p.write(".git/HEAD", "ref: x\n")
	p.write("test_scripts/noop.py", "")
	p.vpt("run", "noop").expect(t, 0, "FROM-VENV")
}

func TestScriptsList(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/goto.py", "main._script_args = ['--node:str:home']\n")
	p.write("test_scripts/gw/smartping.py", "p.add_argument('--count', type=int, default=4)\n")
	p.write("test_scripts/ai_testcase_executor.py", "")
	r := p.vpt("scripts")
	r.expectOut(t, 0, "goto", "--node str=home", "gw/smartping", "--count int=4")
	if strings.Contains(r.stdout, "ai_testcase_executor") {
		t.Fatal("the AI executor is listed")
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(p.vpt("scripts", "--json").stdout), &list); err != nil || len(list) != 2 {
		t.Fatalf("json: %v %v", list, err)
	}
}

func TestAbandonedRunIsRecovered(t *testing.T) {
	p := newProject(t)
	p.killWhileRecording(t)
	rows := p.results()
	if len(rows) != 1 || rows[0].Status != store.StatusRunning {
		t.Fatalf("before recovery: %+v", rows)
	}
	// Any command that opens the store recovers it; the video is
	// finalised in the background of the runs that follow (a run that
	// ends first leaves it to the next one). The runs last a second, as
	// scripts do: ffmpeg under a loaded machine can take longer than a
	// script that does nothing.
	wait := p.write("wait.py", "import time\ntime.sleep(1)\n")
	p.vpt("run", wait).expectErr(t, 0, "abandoned", "finalising its video in the background")
	var res *store.Result
	for i := 0; ; i++ {
		var err error
		if res, err = report.ReadResultJSON(rows[0].RunDir); err != nil {
			t.Fatal(err)
		}
		if res.Details.Video != nil && res.Details.Video.State == "finalised" || i == 10 {
			break
		}
		p.vpt("run", wait).expect(t, 0)
	}
	if res.Status != store.StatusAbandoned || res.Details.Video == nil || res.Details.Video.State != "finalised" {
		t.Fatalf("after recovery: status %s video %+v", res.Status, res.Details.Video)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "video.mp4")); err != nil {
		t.Fatal("no video.mp4 from the segments")
	}
	// Whatever the killed vpt may have left running, and only that.
	p.killProcesses()
}

// vpt report finalise finishes now the video a dead vpt left as segments:
// the background of later commands may never get to it, when each of them
// ends first. A second call finds nothing left.
func TestReportFinaliseFinishesLeftVideo(t *testing.T) {
	p := newProject(t)
	p.killWhileRecording(t)
	id := p.results()[0].ID
	p.vpt("report", "finalise").expect(t, 0, "abandoned", "vpt report finalise does it now",
		"finalised the video of run "+id[:8], "video.mp4")
	res, err := report.ReadResultJSON(p.results()[0].RunDir)
	if err != nil {
		t.Fatal(err)
	}
	st := p.store()
	row, err := st.GetResult(context.Background(), id)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]*store.Video{"result.json": res.Details.Video, "row": row.Details.Video} {
		if v == nil || v.State != "finalised" {
			t.Fatalf("%s: video %+v", what, v)
		}
	}
	if _, err := os.Stat(filepath.Join(row.RunDir, "video.mp4")); err != nil {
		t.Fatal("no video.mp4 from the segments")
	}
	p.vpt("report", "finalise").expectOut(t, 0, "no video waits to be finalised")
	p.vpt("report", "finalise", "--json").expectOut(t, 0, `"finalised": []`, `"left": []`)
	p.killProcesses()
}

// A video ffmpeg cannot make is an infrastructure error of vpt report
// finalise (exit 3), recorded in result.json, its segments kept. Without
// ffmpeg, the video waits for it: once it is there, the next try makes it.
func TestReportFinaliseFailure(t *testing.T) {
	p := newProject(t)
	p.killWhileRecording(t)
	row := p.results()[0]
	r := p.vptEnv([]string{"VPT_TOOLS_FFMPEG=/nonexistent/ffmpeg"}, "report", "finalise", "--json")
	r.expectErr(t, 3, "could not be finalised", "segments are kept in "+filepath.Join(row.RunDir, "video"), "tries again", "install")
	r.expectOut(t, 3, `"failed": [`, `"left": []`)
	res, err := report.ReadResultJSON(row.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Details.Video; v == nil || v.State != "failed" || v.Error == "" {
		t.Fatalf("video %+v", v)
	}
	if segs, _ := filepath.Glob(filepath.Join(row.RunDir, "video", "*")); len(segs) == 0 {
		t.Fatal("the segments are gone")
	}
	p.vpt("report", "finalise").expectOut(t, 0, "finalised the video of run "+row.ID[:8], "video.mp4")
	if res, err = report.ReadResultJSON(row.RunDir); err != nil || res.Details.Video.State != "finalised" {
		t.Fatalf("after ffmpeg came: %v %+v", err, res.Details.Video)
	}
	p.killProcesses()
}

func TestDeviceLock(t *testing.T) {
	p := newProject(t)
	cmd, _ := p.background(t, nil, "sleeping", "run", fixture(t, "sleep_past_timeout.py"), "--timeout", "3s")
	p.vpt("run", fixture(t, "noop.py"), "--no-wait").expectErr(t, 3, "device busy", "device1")
	r := p.vpt("run", fixture(t, "noop.py"))
	r.expectErr(t, 0, "device device1 is busy", "waiting")
	cmd.Wait()
}
