package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

func TestExamplesRunGreen(t *testing.T) {
	p := examplesProject(t)
	for _, script := range []string{"hello", "seed_example", "goto", "validation", "device_get_info", "zap", "zap_time", "av_check", "api_shell.sh"} {
		t.Run(script, func(t *testing.T) {
			p.vpt("run", script).expectOut(t, 0, "PASSED "+script)
		})
	}
	for _, r := range p.results() {
		switch r.ScriptName {
		case "seed_example", "goto", "validation":
			full, err := report.ReadResultJSON(r.RunDir)
			if err != nil {
				t.Fatal(err)
			}
			if full.Details.VerdictSource != "api" {
				t.Errorf("%s: verdict from %q, want the script API", r.ScriptName, full.Details.VerdictSource)
			}
		}
	}
}

func TestGotoRecovers(t *testing.T) {
	p := examplesProject(t)
	// device2 drops half its key presses; with seed 6 the first press is
	// lost and the next ones arrive: the goto fails once, recovers, arrives.
	yml, _ := os.ReadFile(filepath.Join(p.dir, "vpt.yaml"))
	p.write("vpt.yaml", strings.Replace(string(yml), "drop_rate: 0.5}", "drop_rate: 0.5, seed: 6}", 1))
	p.vpt("run", "goto", "--device", "device2", "--", "--node", "live").expect(t, 0, "recovering", "after one recovery")
	res := p.only()
	var names []string
	recovered := false
	for _, s := range res.Details.Steps {
		names = append(names, s.Name+":"+string(s.Status))
		recovered = recovered || s.Recovered && s.Status == store.StatusPassed
	}
	if !recovered || res.Details.Steps[0].Status != store.StatusFailed {
		t.Fatalf("steps %v", names)
	}
	if len(res.Details.Steps[0].Verifications) == 0 || res.Details.Steps[0].Verifications[0].Reference == "" {
		t.Fatalf("the failed step lacks its verification: %+v", res.Details.Steps[0])
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, res.Details.Steps[0].Verifications[0].Reference)); err != nil {
		t.Fatalf("reference image not copied into the run folder: %v", err)
	}
}

func TestGotoFailsAfterOneRecovery(t *testing.T) {
	p := examplesProject(t)
	p.write("vpt.yaml", "devices: [{id: device1, name: Deaf STB, model: virtual, userinterface: horizon_tv, drop_rate: 1}]\n")
	r := p.vpt("run", "goto", "--", "--node", "settings")
	r.expect(t, 1, "failed after one recovery attempt", "step 3 (home → settings)")
	res := p.only()
	if res.Status != store.StatusFailed || !strings.Contains(res.ErrorMsg, "home → settings") {
		t.Fatalf("status %s, error %q", res.Status, res.ErrorMsg)
	}
}

func TestNavigationErrorsReachTheScript(t *testing.T) {
	p := examplesProject(t)
	p.write("userinterfaces/island.yaml", `nodes: [{id: a}, {id: b}, {id: c}]
edges:
  - {from: a, to: b, actions: [{action: press_key, key: OK}]}
  - {from: c, to: a, actions: [{action: press_key, key: BACK}]}
`)
	p.write("test_scripts/errors.py", `import vpt
for call in (lambda: vpt.goto("nowhere"), lambda: vpt.goto("c", "island"), lambda: vpt.press("NOKEY"),
             lambda: vpt.tap(1, 2), lambda: vpt.call("dance"), lambda: vpt.tree("../vpt")):
    try:
        call()
        print("no error")
    except vpt.VptError as e:
        print("ERR", e.code, e.message.split(" (")[0][:80])
`)
	r := p.vpt("run", "errors")
	r.expect(t, 0,
		"ERR not_found Node 'nowhere' not found in 'horizon_tv'. Available: home, live",
		"ERR unreachable Node 'c' is not reachable from 'a' in 'island'",
		`ERR bad_params key "NOKEY" is not a key of the virtual remote`,
		"ERR not_supported tap: not supported by this device",
		`ERR unknown_method unknown method "dance"`,
		// A userinterface is a file of its folder: "../vpt" read vpt.yaml.
		"ERR not_found User interface '../vpt' not found.")
}

func TestUserInterfaceProblems(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/x.py", "")
	p.vpt("run", "x", "--userinterface", "nope").expectErr(t, 2, "User interface 'nope' not found. Available: ['horizon_tv', 'virtual_tv']")
	p.write("userinterfaces/broken.yaml", "nodes:\n  - id: a\n    lable: A\nedges:\n  - {from: a, to: zz, actions: [{action: press_key, key: OK}]}\n")
	p.vpt("ui", "check", "broken").expect(t, 2, "userinterfaces/broken.yaml:3:5: nodes[0].lable: unknown key (did you mean label?)")
	p.write("userinterfaces/broken.yaml", "nodes:\n  - id: a\nedges:\n  - {from: a, to: zz, actions: [{action: press_key, key: OK}]}\n")
	p.vpt("run", "x", "--userinterface", "broken").expectErr(t, 2, `broken.yaml:4:19: edges[0].to: node "zz" does not exist`)
	p.noRowsBut(t, 0)
	r := p.vpt("ui", "list")
	r.expectOut(t, 0, "horizon_tv", "9", "invalid")
	p.vpt("ui", "show", "horizon_tv").expectOut(t, 0, "home", "press_key(OK)", "image horizon_tv/live.png")
}

func (p *project) noRowsBut(t *testing.T, n int) {
	t.Helper()
	if rows := p.results(); len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
}

func TestSocketProtocol(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/raw.py", `import json, os, socket, threading
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["VPT_CONTROL"])
    return s, s.makefile("rb")
s, f = connect()
s.sendall(b"{not json\n")
print("GARBAGE", json.loads(f.readline())["error"]["code"])
s.sendall(b'{"v": 99, "id": 1, "method": "ping"}\n')
print("VERSION", json.loads(f.readline())["error"]["code"])
s.sendall(b'{"v": 1, "id": "x", "method": "ping"}\n')
rep = json.loads(f.readline())
print("PING", rep["ok"], rep["id"])
results = []
def shoot(i):
    c, cf = connect()
    c.sendall(json.dumps({"v": 1, "id": i, "method": "screenshot", "params": {"label": "t%d" % i}}).encode() + b"\n")
    results.append(json.loads(cf.readline())["ok"])
threads = [threading.Thread(target=shoot, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print("CONCURRENT", results.count(True))
`)
	p.vpt("run", "raw").expect(t, 0, "GARBAGE bad_request", "VERSION bad_version", "PING True x", "CONCURRENT 8")
	if res := p.only(); len(res.Details.Screenshots) != 10 {
		t.Fatalf("%d screenshots, want 8 + initial + final", len(res.Details.Screenshots))
	}
}

// A client that calls the script API after the run ended gets run_ended.
// Nothing the script started can (it is stopped with the run), so the
// client is a process of the test that learned the socket's address.
func TestAPIAfterTheRunEnded(t *testing.T) {
	p := examplesProject(t)
	addr := filepath.Join(p.dir, "control.txt")
	p.write("test_scripts/late.py", `import os
open(`+"\""+addr+"\""+`, "w").write(os.environ["VPT_CONTROL"] + "\n" + os.environ["PYTHONPATH"])
`)
	p.vpt("run", "late").expect(t, 0)
	b, err := os.ReadFile(addr)
	if err != nil {
		t.Fatal(err)
	}
	control, pythonPath, _ := strings.Cut(string(b), "\n")
	late := exec.Command("python3", "-c", `import vpt
try:
    vpt.screenshot("too late")
    print("no error")
except vpt.VptError as e:
    print("ERR", e.code)
`)
	late.Env = append(os.Environ(), "VPT_CONTROL="+control, "PYTHONPATH="+pythonPath)
	out, _ := late.CombinedOutput()
	if !strings.Contains(string(out), "ERR run_ended") {
		t.Fatalf("late call: %q", out)
	}
}

// A process the script leaves behind cannot drive the device or change
// the verdict once the script has exited: the API closes with the script,
// not when its leftovers are stopped.
func TestLeftoverCannotUseTheAPI(t *testing.T) {
	p := examplesProject(t)
	calls := filepath.Join(p.dir, "calls.txt")
	p.write("test_scripts/leaver.sh", `#!/bin/sh
( trap '' TERM; sleep 1
  "$VPT_BIN" api goto node=settings >>`+calls+` 2>&1; echo "goto $?" >>`+calls+`
  "$VPT_BIN" api fail reason="written after the script ended" >>`+calls+` 2>&1; echo "fail $?" >>`+calls+`
  sleep 30 ) &
echo "script done"
`)
	os.Chmod(filepath.Join(p.dir, "test_scripts/leaver.sh"), 0o755)
	r := p.vpt("run", "leaver.sh", "--grace", "3s")
	r.expect(t, 0, "PASSED")
	b, _ := os.ReadFile(calls)
	if strings.Contains(string(b), "goto 0") || strings.Contains(string(b), "fail 0") || !strings.Contains(string(b), "run_ended") {
		t.Fatalf("the leftover's calls were answered:\n%s", b)
	}
	if row := p.results()[0]; row.Status != store.StatusPassed || len(row.Details.Steps) != 0 {
		t.Fatalf("row: %s, steps %v", row.Status, row.Details.Steps)
	}
}

func TestStepsAndVerdicts(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/steps.py", `import vpt
vpt.step("explicit pass", True, "fine")
try:
    with vpt.step("block that raises"):
        raise ValueError("boom")
except ValueError:
    pass
with vpt.step("block that passes"):
    vpt.goto("live")
`)
	p.vpt("run", "steps").expect(t, 1, "step 2 (block that raises) failed: ValueError: boom")
	res := p.only()
	st := res.Details.Steps
	if len(st) != 4 || st[1].Traceback == "" || st[2].Name != "block that passes" || st[3].Kind != "navigation" {
		t.Fatalf("steps %+v", st)
	}
	if len(st[1].Screenshots) != 2 || st[1].DurationMs < 0 {
		t.Fatalf("block step: %+v", st[1])
	}
	p.write("test_scripts/verdict.py", "import vpt\nvpt.fail('first')\nvpt.verdict(True)\n")
	p.vpt("run", "verdict").expect(t, 1, "first")
}

func TestUIReference(t *testing.T) {
	p := examplesProject(t)
	os.RemoveAll(filepath.Join(p.dir, "userinterfaces", "horizon_tv"))
	// Draft mode: references are missing, the capture still navigates.
	r := p.vpt("ui", "reference", "live", "--device", "device1", "--region", "0,0,700,120")
	r.expect(t, 0, "saved userinterfaces/horizon_tv/live.png (700x120)")
	p.vpt("ui", "check", "horizon_tv").expect(t, 2, "reference image userinterfaces/horizon_tv/home.png not found")
	p.vpt("ui", "reference", "live", "--region", "1,2,3").expectErr(t, 2, "expected x,y,width,height")
}
