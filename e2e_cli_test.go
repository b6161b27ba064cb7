package main

// End-to-end tests of what the command line promises a CI engineer: ids
// and paths are checked before anything runs, parameters are checked
// against what a script declares, configuration errors name the flag,
// variable or line they come from.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/report"
)

// An execution id became a folder name: "../../../evil" wrote a campaign
// report outside the results folder, "feature/x 1" nested folders and odd
// upload keys. Ids are refused before anything runs.
func TestExecutionIDValidated(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: ids\nname: Ids\nscript_configurations:\n  - {script_name: ok}\n")
	for _, id := range []string{"../../../evil", "feature/x 1", "..", ".hidden", "-dash", strings.Repeat("a", 129)} {
		p.vpt("campaign", "c.yaml", "--execution-id", id).
			expectErr(t, 2, "--execution-id", "letters, digits")
	}
	p.noRows()
	if _, err := os.Stat(filepath.Join(p.dir, "..", "evil")); err == nil {
		t.Fatal("a folder was written outside the project")
	}
	p.vpt("campaign", "c.yaml", "--execution-id", "pipeline-1234_2.1").expect(t, 0)
	if _, err := os.Stat(filepath.Join(p.dir, "vpt-results", "campaigns", "pipeline-1234_2.1", "index.html")); err != nil {
		t.Fatal(err)
	}
}

// An unwritable --junit file was found only after every script ran: the
// exit code 3 hid the real 1. It is refused before anything runs.
func TestJUnitPathCheckedBeforeTheRun(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: j\nname: J\nscript_configurations:\n  - {script_name: bad}\n")
	p.write("afile", "")
	for _, path := range []string{"/proc/nope/j.xml", "afile/j.xml", "test_scripts"} {
		p.vpt("campaign", "c.yaml", "--junit", path).expectErr(t, 2, "--junit "+path)
		p.vpt("run", "ok", "--junit", path).expectErr(t, 2, "--junit "+path)
	}
	p.noRows()
	// A writable one in a folder that does not exist yet is fine.
	p.vpt("campaign", "c.yaml", "--junit", "out/deep/j.xml").expect(t, 1)
	p.vpt("run", "ok", "--junit", "out/run/j.xml").expect(t, 0)
	for _, f := range []string{"out/deep/j.xml", "out/run/j.xml"} {
		if _, err := os.Stat(filepath.Join(p.dir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

// Relative paths in a --config file resolved against the working
// directory: `cd /tmp; vpt --config ~/lab/vpt.yaml run goto` did not find
// the lab's scripts. They resolve against the file's folder.
func TestConfigPathsRelativeToTheFile(t *testing.T) {
	p := newProject(t)
	p.write("lab/vpt.yaml", "scripts_dir: scripts\nuserinterfaces_dir: uis\nresults_dir: out\nstore: sqlite://out/db.sqlite\n")
	p.write("lab/scripts/hello.py", "print('hello from the lab')\n")
	p.write("lab/uis/tiny.yaml", "name: tiny\nentry: home\nnodes:\n  - {id: home, label: Home}\n")
	other := filepath.Join(p.dir, "elsewhere")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(p.dir, "lab", "vpt.yaml")
	run := p.command(nil, "--config", cfg, "run", "hello", "-u", "tiny")
	run.Dir = other
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "lab", "out", "db.sqlite")); err != nil {
		t.Fatal("the store is not beside the file: ", err)
	}
	if m, _ := filepath.Glob(filepath.Join(p.dir, "lab", "out", "runs", "*", "result.json")); len(m) != 1 {
		t.Fatalf("run folders beside the file: %v", m)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Fatalf("written in the working directory: %v", entries)
	}
	// A flag or variable is relative to the working directory, as usual.
	run = p.command([]string{"VPT_RESULTS_DIR=here"}, "--config", cfg, "run", "hello", "-u", "tiny", "--store", "sqlite://here/x.db")
	run.Dir = other
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(other, "here", "x.db")); err != nil {
		t.Fatal(err)
	}
}

// argparseScript declares a positional parameter, a required option and
// choices, as scripts written for argparse do.
const argparseScript = `import argparse
p = argparse.ArgumentParser()
p.add_argument("target", help="node to reach")
p.add_argument("--mode", required=True, choices=["fast", "slow"])
p.add_argument("--count", type=int, default=1)
a = p.parse_args()
print("target=%s mode=%s count=%d" % (a.target, a.mode, a.count))
`

// `vpt run goto -p bogus=1` and `-p channels=abc` reached the script,
// whose argparse exited 2: a FAILED run in the history. Run parameters
// are checked as a campaign's are, both against required parameters and
// choices, and positional parameters listed by vpt scripts can be passed.
func TestRunParametersChecked(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/reach.py", argparseScript)
	p.vpt("run", "goto", "-p", "bogus=1").expectErr(t, 2, `-p bogus: goto does not declare "bogus"`, "vpt scripts")
	p.vpt("run", "zap", "-p", "channels=abc").expectErr(t, 2, `zap declares "channels" as a whole number, got "abc"`)
	p.vpt("run", "reach", "-p", "target=live").expectErr(t, 2, "reach needs mode (required)")
	p.vpt("run", "reach", "-p", "target=live", "-p", "mode=warp").expectErr(t, 2, `reach takes mode from fast, slow, got "warp"`, "one of: fast, slow")
	p.vpt("run", "reach", "-p", "mode=fast").expectErr(t, 2, "reach needs target (required)")
	p.noRows()
	p.vpt("scripts").expectOut(t, 0, "target str (required)", "--mode {fast,slow} (required)")
	p.vpt("run", "reach", "-p", "target=live", "-p", "mode=slow", "-p", "count=2").expectOut(t, 0, "target=live mode=slow count=2")
	// After -- the arguments go as they are, and count as given.
	p.vpt("run", "reach", "--", "home", "--mode", "fast").expectOut(t, 0, "target=home mode=fast count=1")
	// A campaign refuses the same, with the file's line.
	p.write("c.yaml", `campaign_id: params
name: Params
script_configurations:
  - {script_name: reach, parameters: {target: live, mode: warp}}
  - script_name: reach
    parameters: {mode: fast}
  - {script_name: reach, parameters: {target: live, mode: fast}}
`)
	r := p.vpt("campaign", "c.yaml")
	r.expectErr(t, 2, `c.yaml:4:`, `reach takes mode from fast, slow, got "warp"`, "c.yaml:6:", "reach needs target (required)")
	if strings.Contains(r.stderr, "c.yaml:7") {
		t.Fatalf("a good entry refused:\n%s", r.stderr)
	}
}

// -p exclude=-live was checked and accepted, then passed as --exclude
// -live, which argparse reads as a missing value: a FAILED run (exit 1)
// for a value vpt had taken. An option's value that starts with a dash
// goes as --name=value; a positional one cannot be passed and is refused.
func TestParameterValuesStartingWithADash(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/reach.py", argparseScript)
	p.write("test_scripts/filt.py", `import argparse
p = argparse.ArgumentParser()
p.add_argument("--exclude", default="")
p.add_argument("--offset", type=int, default=0)
a = p.parse_args()
print("exclude=%s offset=%d" % (a.exclude, a.offset))
`)
	p.vpt("run", "filt", "-p", "exclude=-live", "-p", "offset=-3").expectOut(t, 0, "exclude=-live offset=-3")
	p.vpt("run", "reach", "-p", "target=-live", "-p", "mode=fast").expectErr(t, 2, `-p target: reach takes target as a bare value, and "-live" starts with a dash`, "-- -- -live")
	p.vpt("run", "reach", "-p", "mode=fast", "--", "--", "-live").expectOut(t, 0, "target=-live mode=fast")
	p.write("c.yaml", `campaign_id: dash
name: Dash
script_configurations:
  - {script_name: filt, parameters: {exclude: "--all", offset: -1}}
`)
	p.vpt("campaign", "c.yaml").expectOut(t, 0, "1 passed")
	var outputs []string
	for _, r := range p.results() {
		b, _ := os.ReadFile(filepath.Join(r.RunDir, report.OutputLog))
		outputs = append(outputs, string(b))
	}
	if !slices.ContainsFunc(outputs, func(o string) bool { return strings.Contains(o, "exclude=--all offset=-1") }) {
		t.Fatalf("the campaign entry's values did not reach the script: %q", outputs)
	}
}

// An executable script whose #! line names a missing interpreter failed
// with exit code 127, or could not start and left an error row: the
// machine needs fixing, not the script (exit 3, before any run).
func TestMissingShebangInterpreterRefusedBeforeTheRun(t *testing.T) {
	p := newProject(t)
	for name, line := range map[string]string{"env.sh": "#!/usr/bin/env no-such-interpreter", "abs.sh": "#!/no/such/interpreter -x"} {
		path := p.write("test_scripts/"+name, line+"\necho hi\n")
		os.Chmod(path, 0o755)
	}
	p.vpt("run", "env.sh").expectErr(t, 3, `Interpreter "no-such-interpreter" of the #! line of env.sh not found`, "fix the #! line of")
	p.vpt("run", "abs.sh").expectErr(t, 3, `Interpreter "/no/such/interpreter" of the #! line of abs.sh not found`)
	p.noRows()
	ok := p.write("test_scripts/ok.sh", "#!/usr/bin/env -S sh -e\necho fine\n")
	os.Chmod(ok, 0o755)
	p.vpt("run", "ok.sh").expectOut(t, 0, "fine")
}

// The virtual device replayed the same seeded key drops on every run, so
// a retry could never recover. Without seed: each run draws its own
// seed, and records it; seed: N replays the drops of the run that
// recorded N.
func TestVirtualDropsSeededPerRun(t *testing.T) {
	p := newProject(t)
	p.write("vpt.yaml", "devices:\n  - {id: flaky, model: virtual, drop_rate: 0.5}\n")
	// Which presses the device dropped shows in the screens it reached
	// (a verification that fails fails the run: the exit code varies).
	p.write("test_scripts/press.py", `import vpt
seen = ""
for _ in range(16):
    vpt.press("OK")
    seen += "L" if vpt.verify("live") else "-"
    vpt.press("HOME")
print("SEEN " + seen)
`)
	run := func() (string, int64) {
		r := p.vpt("run", "press", "-d", "flaky")
		_, seen, _ := strings.Cut(r.stdout, "SEEN ")
		seen, _, _ = strings.Cut(seen, "\n")
		rows := p.results()
		res, err := report.ReadResultJSON(rows[0].RunDir)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := res.Metadata["device_seed"].(float64)
		if seed == 0 || seen == "" {
			t.Fatalf("seed %v, screens %q\n%s%s", res.Metadata["device_seed"], seen, r.stdout, r.stderr)
		}
		return seen, int64(seed)
	}
	seeds, screens := map[int64]bool{}, map[string]bool{}
	firstSeen, firstSeed := run()
	seeds[firstSeed], screens[firstSeen] = true, true
	for i := 0; i < 3; i++ {
		seen, seed := run()
		seeds[seed], screens[seen] = true, true
	}
	if len(seeds) < 2 || len(screens) < 2 {
		t.Fatalf("four runs drew seeds %v and dropped the same presses %v", seeds, screens)
	}
	// The recorded seed replays the first run.
	p.write("vpt.yaml", fmt.Sprintf("devices:\n  - {id: flaky, model: virtual, drop_rate: 0.5, seed: %d}\n", firstSeed))
	for i := 0; i < 2; i++ {
		if seen, seed := run(); seed != firstSeed || seen != firstSeen {
			t.Fatalf("seed %d dropped %q; the run that recorded it %q", seed, seen, firstSeen)
		}
	}
}

// A store written by a newer vpt (a lab shares one PostgreSQL between
// hosts of different versions) was used silently; it is refused, naming
// the version that wrote it.
func TestNewerStoreRefused(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/ok.py", "")
	p.vpt("run", "ok").expect(t, 0)
	db := filepath.Join(p.dir, "vpt-results", "vpt.db")
	// Each migration records the vpt that applied it.
	if out, err := exec.Command("sqlite3", db, "SELECT DISTINCT vpt_version FROM schema_migrations").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "dev") {
		t.Fatalf("recorded versions %q %v", out, err)
	}
	sql := "INSERT INTO schema_migrations (version, name, applied_at, vpt_version) VALUES (999, '999_future.sql', '2030-01-01T00:00:00Z', 'v9.9.0')"
	if out, err := exec.Command("sqlite3", db, sql).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for _, args := range [][]string{{"report", "list"}, {"run", "ok"}} {
		p.vpt(args...).expectErr(t, 3, "this store was written by vpt v9.9.0 (schema version 999", "; upgrade", "hint:")
	}
	if runs, _ := os.ReadDir(filepath.Join(p.dir, "vpt-results", "runs")); len(runs) != 1 {
		t.Fatalf("%d run folders, want the first run's only", len(runs))
	}
}

// `vpt version` said "dev" whatever was built; `vpt --version` did not
// exist. Both print the version and, when Go recorded it, the revision.
func TestVersion(t *testing.T) {
	p := newProject(t)
	long := p.vpt("version")
	long.expectOut(t, 0, "vpt ")
	p.vpt("--version").expectOut(t, 0, long.stdout)
	var info struct{ Version, Revision, Go string }
	r := p.vpt("version", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Version == "" || info.Go == "" {
		t.Fatalf("%v %s", err, r.stdout)
	}
	out, err := exec.Command("go", "version", "-m", vptBin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rev, ok := strings.CutPrefix(strings.TrimSpace(line), "build\tvcs.revision="); ok {
			if info.Revision != rev || !strings.Contains(long.stdout, "revision "+rev) {
				t.Fatalf("built from %s; vpt version says %q, --json %q", rev, long.stdout, info.Revision)
			}
		}
	}
}

// Shell completion completed commands only; it completes what the
// project has: scripts, devices, userinterfaces, statuses, parameters,
// run ids and the values of flags.
func TestShellCompletion(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/reach.py", argparseScript)
	complete := func(args ...string) []string {
		t.Helper()
		r := p.vpt(append([]string{"__complete"}, args...)...)
		r.expectOut(t, 0)
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(line, ":") {
				id, _, _ := strings.Cut(line, "\t")
				out = append(out, id)
			}
		}
		return out
	}
	has := func(got []string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("completions %q lack %q", got, w)
			}
		}
	}
	has(complete("run", ""), "goto", "zap", "reach")
	has(complete("run", "goto", "--device", ""), "device1", "device2", "device3")
	has(complete("campaign", "campaigns/nightly.yaml", "--device", "device1,"), "device1,device2")
	has(complete("run", "goto", "-u", ""), "horizon_tv")
	has(complete("ui", "show", ""), "horizon_tv", "virtual_tv")
	has(complete("run", "goto", "--video", ""), "on", "off", "retain-on-failure")
	has(complete("report", "list", "--status", "failed,"), "failed,passed", "failed,timeout")
	has(complete("run", "reach", "-p", ""), "target=", "mode=", "count=")
	has(complete("run", "reach", "-p", "mode="), "mode=fast", "mode=slow")
	has(complete("devices", ""), "device2")
	// No database is made to complete run ids; once there is one, they
	// are offered.
	if got := complete("report", "show", ""); len(got) != 0 {
		t.Fatalf("run ids without runs: %q", got)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "vpt-results")); err == nil {
		t.Fatal("completion created the results folder")
	}
	p.vpt("run", "hello").expect(t, 0)
	has(complete("report", "show", ""), "latest", p.results()[0].ID[:8])
}

// `vpt devices` exited 0 with devices that did not answer; a CI job uses
// it as a health gate now: exit 3 when a device it lists is down, one
// JSON object per device.
func TestDevicesHealthGate(t *testing.T) {
	p := newProject(t)
	p.write("vpt.yaml", `devices:
  - {id: tv, name: TV, model: stb, video: /dev/no-such-video}
  - {id: box, name: Box, model: virtual}
`)
	r := p.vpt("devices")
	r.expectOut(t, 3, "box", "tv")
	r.expectErr(t, 3, "1 of 3 devices do not answer: tv")
	p.vpt("devices", "box", "device1").expectOut(t, 0, "box", "device1")
	p.vpt("devices", "nope").expectErr(t, 2, "Device nope not found")
	r = p.vpt("devices", "--json")
	var list []struct {
		ID    string `json:"id"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 3 || len(list) != 3 {
		t.Fatalf("%d %v %s", r.code, err, r.stdout)
	}
	for _, d := range list {
		if d.OK != (d.ID != "tv") || d.ID == "tv" && d.Error == "" {
			t.Fatalf("%+v", d)
		}
	}
	// An unknown userinterface is the configuration's mistake, not a
	// device that does not answer: exit 2.
	p.write("vpt.yaml", "devices:\n  - {id: box, name: Box, model: virtual, userinterface: nope}\n")
	r = p.vpt("devices")
	r.expectOut(t, 2, "misconfigured")
	r.expectErr(t, 2, "device box: User interface 'nope' not found", "hint:")
}

// A bad IR keymap was "not answering" in vpt devices and left an error
// row for each run; it is a configuration error, found before anything
// runs. An unknown model says so and lists the known ones.
func TestDeviceConfigurationErrors(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/ok.py", "")
	p.write("vpt.yaml", `devices:
  - {id: stb, name: STB, model: stb, video: "lavfi:testsrc", ir: {device: /dev/null, keymap: nosuchkeymap}}
`)
	for _, args := range [][]string{{"devices"}, {"run", "ok", "-d", "stb"}, {"doctor"}} {
		p.vpt(args...).expectErr(t, 2, `vpt.yaml:2:`, `devices[0].ir.keymap: device stb: no IR keymap "nosuchkeymap"`)
	}
	p.noRows()
	// The field a device lacks, or names wrong, is placed too, as is the
	// scheme of the store.
	for yaml, want := range map[string]string{
		"devices:\n  - {id: box, model: stb}\n":                                 "vpt.yaml:2:5: devices[0].video: device box (model stb) needs video:",
		"devices:\n  - {id: device1, model: virtual, userinterface: nope_ui}\n": "vpt.yaml:2:50: devices[0].userinterface: User interface 'nope_ui' not found",
		"store: mysql://db.lab/vpt\n":                                           `vpt.yaml:1:8: store: "mysql://db.lab/vpt": unknown scheme "mysql"`,
	} {
		p.write("vpt.yaml", yaml)
		p.vpt("run", "ok").expectErr(t, 2, want)
	}
	p.noRows()
	p.write("vpt.yaml", `devices:
  - {id: tv, name: TV, model: androd_tv, adb: 10.0.0.2:5555}
`)
	p.vpt("devices").expectErr(t, 2, `vpt.yaml:2:31: devices[0].model: unknown model "androd_tv"`, "did you mean android_tv?",
		"known: virtual, android_mobile, android_tv")
}

// vpt doctor did not check the scripts and userinterfaces folders: a
// typo in scripts_dir failed every run by name.
func TestDoctorChecksFolders(t *testing.T) {
	p := newProject(t)
	p.write("vpt.yaml", "scripts_dir: tset_scripts\nuserinterfaces_dir: uis\n")
	r := p.vpt("doctor")
	r.expectOut(t, 3, "FAIL scripts", "tset_scripts does not exist", "FAIL userinterfaces", "uis does not exist")
	os.MkdirAll(filepath.Join(p.dir, "tset_scripts"), 0o755)
	os.MkdirAll(filepath.Join(p.dir, "uis"), 0o755)
	r = p.vpt("doctor")
	if strings.Contains(r.stdout, "FAIL scripts") || strings.Contains(r.stdout, "FAIL userinterfaces") {
		t.Fatalf("folders that exist fail:\n%s", r.stdout)
	}
	// Without configuration a missing default folder is a warning.
	q := newProject(t)
	q.vpt("doctor").expectOut(t, 0, "warn scripts", "test_scripts does not exist")
}

// Upstream DEVICE{i}_* variables were dropped silently without
// DEVICE{i}_NAME, and only 1 to 12 were read.
func TestUpstreamDeviceVariables(t *testing.T) {
	p := newProject(t)
	env := []string{"DEVICE3_MODEL=android_tv", "DEVICE3_IP=10.0.0.3", "DEVICE14_NAME=Lab TV", "DEVICE14_MODEL=virtual",
		"DEVICE14_VIDEO_STREAM_PATH=/stream"}
	r := p.vptEnv(env, "devices", "--json")
	r.expectErr(t, 0, "DEVICE3_IP, DEVICE3_MODEL are set but DEVICE3_NAME is not: device3 is left out")
	if !strings.Contains(r.stdout, `"id": "device14"`) || strings.Contains(r.stdout, `"device3"`) {
		t.Fatalf("devices:\n%s", r.stdout)
	}
	// The warning is one readable line, and variables vpt does not use
	// are said with -v only.
	if strings.Contains(r.stderr, "level=") || strings.Contains(r.stderr, "DEVICE14_VIDEO_STREAM_PATH") {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	p.vptEnv(env, "devices", "-v").expectErr(t, 0, "device14: vpt does not use DEVICE14_VIDEO_STREAM_PATH")
	// A device of the variables that is wrong names them.
	p.vptEnv([]string{"DEVICE2_NAME=Phone", "DEVICE2_MODEL=android_mobile"}, "devices").
		expectErr(t, 2, "DEVICE2_IP: device device2 (model android_mobile) needs adb:")
}

// -v and -vv changed nothing: the diagnostics they promise (the
// configuration's layers, store queries with their times, device calls)
// were never written.
func TestVerboseLevels(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/one.py", "import vpt\nvpt.press('OK')\nvpt.verdict(True)\n")
	quiet := p.vpt("run", "one", "--video", "off")
	quiet.expect(t, 0)
	quiet.notErr(t, "level=", "time=", "debug:", "store query")

	info := p.vpt("-v", "report", "list")
	info.expect(t, 0)
	info.notErr(t, "debug:")

	debug := p.vpt("-vv", "run", "one", "--video", "off")
	debug.expectErr(t, 0, "vpt: debug: ", "config: no config file", "store opened", "store query", "took=",
		"device opened and checked", "script API press")
	debug.notErr(t, "level=DEBUG")
}

// Negative or zero counts and durations were accepted, errors from flags
// and variables blamed vpt.yaml, and vpt.yaml's own errors had no line.
func TestValuesRefusedWithTheirName(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/p.py", "import vpt\nvpt.verdict(True)\n")
	p.write("c.yaml", "campaign_id: c\nname: c\nscript_configurations:\n  - script_name: p\n")
	p.vpt("run", "p", "--timeout", "-3s").expectErr(t, 2, "--timeout -3s: cannot be negative")
	p.vptEnv([]string{"VPT_TIMEOUT=-3s"}, "run", "p").expectErr(t, 2, "VPT_TIMEOUT: -3s: cannot be negative")
	p.vptEnv([]string{"VPT_VIDEO_FPS=ten"}, "run", "p").expectErr(t, 2, `VPT_VIDEO_FPS: "ten": give a whole number`)
	p.vptEnv([]string{"VPT_GRACE=-1s"}, "run", "p").expectErr(t, 2, "VPT_GRACE: -1s: cannot be negative")
	for _, args := range [][]string{{"--parallel", "-1"}, {"--parallel", "0"}, {"--retries", "-1"}, {"--max-failures", "-5"}, {"--grace", "-2s"}} {
		r := p.vpt(append([]string{"campaign", "c.yaml", "--video", "off"}, args...)...)
		r.expectErr(t, 2, args[0]+" "+args[1]+": ")
	}
	p.write("vpt.yaml", "timeout: -5s\nvideo:\n  quality: bogus\n  fps: -2\n")
	p.vpt("run", "p").expectErr(t, 2, "vpt.yaml:1:10: timeout: -5s: cannot be negative",
		`vpt.yaml:3:12: video.quality: "bogus"`, "vpt.yaml:4:8: video.fps: -2: use 1 to 60")
	// The project's environment sets VPT_VIDEO_MODE: a bad value there
	// names the variable, not the file.
	p.vptEnv([]string{"VPT_VIDEO_MODE=bogus"}, "run", "p").expectErr(t, 2, `VPT_VIDEO_MODE: "bogus": use on, off`)
	p.write("vpt.yaml", "devices:\n  - id: d1\n    model: virtual\n  - id: d1\n    model: virtul\n    key_latency: -2s\n")
	p.vpt("devices").expectErr(t, 2, `vpt.yaml:4:9: devices[1].id: "d1" is also the id of devices[0]`,
		`vpt.yaml:5:12: devices[1].model: unknown model "virtul" (did you mean virtual?`,
		"vpt.yaml:6:18: devices[1].key_latency: -2s: cannot be negative")
	p.write("vpt.yaml", "devices:\n  - model: virtual\n")
	p.vpt("devices").expectErr(t, 2, "vpt.yaml:2:5: devices[0]: has no id: give it one")
	// A device of upstream's variables: the variable is named.
	p.write("vpt.yaml", "")
	p.vptEnv([]string{"DEVICE1_NAME=tv", "DEVICE1_MODEL=toaster"}, "devices").expectErr(t, 2, `DEVICE1_MODEL: unknown model "toaster"`)
	p.write("vpt.yaml", "")
	p.vptEnv([]string{"VPT_VIDEO_MODE=OFF"}, "run", "p").expect(t, 0)
	p.vpt("run", "p", "--video", "Off").expect(t, 0)
	p.write("test_scripts/p.py", "import vpt\nvpt.press('OK', times=-5)\nvpt.verdict(True)\n")
	p.vpt("run", "p", "--video", "off").expect(t, 1, "press(times=-5): times is how often to press the key")
}

// Numbers past Go's: timeout_minutes: 200000000000 overflowed into "must
// be more than 0"; -p count=99999999999999999999 was "not a whole number",
// though Python's int takes it (and 1_000, and a float of 1e400).
func TestLargeNumbers(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/reach.py", argparseScript)
	p.write("test_scripts/big.py", `import argparse
p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=0)
p.add_argument("--x", type=float, default=0)
a = p.parse_args()
print("n=%d x=%s" % (a.n, a.x))
`)
	p.vpt("run", "big", "-p", "n=99999999999999999999", "-p", "x=1e400").expectOut(t, 0, "n=99999999999999999999 x=inf")
	p.vpt("run", "big", "-p", "n=1_000").expectOut(t, 0, "n=1000 ")
	p.vpt("run", "big", "-p", "n=1__0").expectErr(t, 2, `declares "n" as a whole number, got "1__0"`)
	for _, v := range []string{"200000000000", ".inf"} {
		p.write("c.yaml", "campaign_id: big\nname: big\nexecution_config: {timeout_minutes: "+v+"}\nscript_configurations:\n  - {script_name: big}\n")
		p.vpt("campaign", "c.yaml", "--dry-run").expectErr(t, 2, "c.yaml:3:", "execution_config.timeout_minutes: "+v+" minutes is longer than vpt can wait", "153722867")
	}
	p.write("c.yaml", "campaign_id: big\nname: big\nexecution_config: {timeout_minutes: .nan}\nscript_configurations:\n  - {script_name: big}\n")
	p.vpt("campaign", "c.yaml", "--dry-run").expectErr(t, 2, "execution_config.timeout_minutes: must be more than 0")
}

// A script's error (and summary) reached vpt's own lines raw: a
// carriage return and an escape sequence turned "FAILED forge …" into
// "PASSED forge …" on a terminal, and a newline in the summary added a
// "status passed" line to report show. What a script gives is printed
// with its control characters as escapes.
func TestScriptTextCannotForgeVptsLines(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/forge.py", "import vpt\nvpt.summary('all fine\\nstatus         passed')\n"+
		"vpt.fail('\\r\\x1b[2KPASSED forge on device1 (virtual) in 12ms\\x1b[8m')\n")
	r := p.vpt("run", "forge")
	r.expectOut(t, 1, `FAILED forge on device1 (virtual) in `, `: \r\x1b[2KPASSED forge`)
	show := p.vpt("report", "show", "latest")
	show.expectOut(t, 0, `all fine\nstatus`)
	for _, out := range []string{r.stdout, show.stdout} {
		if strings.ContainsAny(out, "\r\x1b") || strings.Contains(out, "\nstatus         passed") {
			t.Fatalf("script text reached vpt's lines raw: %q", out)
		}
	}
}

// vpt.metadata(device_id="device9") overwrote vpt's own record of the
// device (and of the interpreter): result.json said two devices. vpt's
// own keys keep vpt's values; the script's other keys are kept.
func TestScriptMetadataKeepsVptsOwnKeys(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/meta.py", "import vpt\nvpt.metadata(device_id='device9', device_model='real_stb', python='/opt/python4', python_version='4.0', build='42')\n")
	p.vpt("run", "meta").expect(t, 0)
	m := p.only().Metadata
	if m["device_id"] != "device1" || m["device_model"] != "virtual" || m["python"] == "/opt/python4" || m["python_version"] == "4.0" || m["build"] != "42" {
		t.Fatalf("metadata: %v", m)
	}
}

// DEVICE1_PORT=abc was found only by adb connect: an ERROR run in the
// history and exit 3, as if the device did not answer. A port that is no
// number is a mistake of the configuration, found before anything runs.
func TestBadADBPortIsAConfigError(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/p.py", "print('hi')\n")
	env := []string{"DEVICE1_NAME=Phone", "DEVICE1_MODEL=android_mobile", "DEVICE1_IP=127.0.0.1", "DEVICE1_PORT=abc"}
	p.vptEnv(env, "run", "p").expectErr(t, 2, `DEVICE1_PORT: "abc": give the port adb connects to, a number from 1 to 65535`)
	p.vptEnv(env, "devices").expectErr(t, 2, `DEVICE1_PORT: "abc"`)
	p.write("vpt.yaml", "devices:\n  - {id: tv, model: android_tv, adb: \"10.0.0.5:55x5\"}\n")
	p.vpt("run", "p", "--device", "tv").expectErr(t, 2, `vpt.yaml:2:`, `devices[0].adb: "10.0.0.5:55x5": give the port adb connects to`)
	p.noRows()
	// A serial, and an address with its port, are taken as they are (and
	// then do not answer: exit 3).
	p.write("vpt.yaml", "devices:\n  - {id: tv, model: android_tv, adb: \"[::1]:5555\"}\n  - {id: s, model: android_tv, adb: emulator-5554}\n")
	p.vpt("devices").expect(t, 3)
}

// What a newcomer met on the way in: typos answered with "see --help",
// wrong help topics and shells exiting 0, missing upload settings called
// an infrastructure error, variables named after flags ignored without a
// word, a typo in events --campaign, Ctrl-C on report serve exiting 130.
func TestNewcomerSurface(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/hello.py", "import vpt\n")
	p.vpt("rnu", "hello").expectErr(t, 2, `unknown command "rnu" for "vpt"`, "did you mean vpt run?")
	p.vpt("report", "lsit").expectErr(t, 2, "did you mean vpt report list?")
	p.vpt("run", "hello", "--vidoe", "off").expectErr(t, 2, "unknown flag: --vidoe", "did you mean --video?")
	p.vpt("help", "nosuch").expectErr(t, 2, `unknown command "nosuch"`)
	p.vpt("help", "run").expectOut(t, 0, "Run one script")
	p.vpt("completion", "tcsh").expectErr(t, 2, `unknown command "tcsh" for "vpt completion"`)
	p.vpt("completion", "bash").expectOut(t, 0, "bash completion")
	p.vpt("scripts", "extra").expectErr(t, 2, `vpt scripts takes no arguments (got "extra")`)

	p.vpt("run", "hello", "--upload").expectErr(t, 2, "upload: the S3 settings lack endpoint")
	p.noRows()

	p.vptEnv([]string{"VPT_VIDEO=on"}, "run", "hello").expectErr(t, 0,
		"warning: VPT_VIDEO is not a variable of vpt's: it sets nothing (the variable of --video is VPT_VIDEO_MODE)")
	p.vptEnv([]string{"VPT_TIMOUT=1s"}, "run", "hello").expectErr(t, 0, "VPT_TIMOUT", "did you mean VPT_TIMEOUT?")

	p.vpt("events", "--campaign", "nosuch").expectErr(t, 2, "--campaign nosuch: no campaign of that execution id is recorded")
	p.vpt("events", "--run", "nosuch").expectErr(t, 2, "--run nosuch: no run of that id is recorded")

	serve, out := p.background(t, nil, "serving http://", "report", "serve", "--addr", "127.0.0.1:0")
	serve.Process.Signal(os.Interrupt)
	if err := serve.Wait(); err != nil {
		t.Fatalf("report serve stopped by Ctrl-C: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "kill the scripts") {
		t.Fatalf("report serve has no scripts to kill:\n%s", out.String())
	}
}

// The campaign help's example named nightly.yaml, which is in campaigns/;
// the error was a raw stat error.
func TestCampaignFileNotFound(t *testing.T) {
	p := newProject(t)
	p.write("campaigns/nightly.yaml", "campaign_id: n\nname: N\nscript_configurations:\n  - script_name: x\n")
	p.vpt("campaign", "nightly.yaml").expectErr(t, 2, "nightly.yaml: no such campaign file (did you mean campaigns/nightly.yaml?)")
	p.vpt("campaign", "other.yaml").expectErr(t, 2, "other.yaml: no such campaign file")
	p.vpt("campaign", "--help").expectOut(t, 0, "vpt campaign campaigns/nightly.yaml")
}

// `vpt run ../other/x.py` was refused as "outside the scripts folder"
// while `vpt run other/x.py` ran: both are paths the user typed.
func TestRunPathWithDotDot(t *testing.T) {
	p := newProject(t)
	p.write("other/x.py", "import vpt\nvpt.verdict(True)\n")
	p.write("sub/.keep", "")
	r := p.command(nil, "run", "../other/x.py")
	r.Dir = filepath.Join(p.dir, "sub")
	if out, err := r.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASSED x") {
		t.Fatalf("%v\n%s", err, out)
	}
	p.write("c.yaml", "campaign_id: c\nname: c\nscript_configurations:\n  - script_name: ../other/x.py\n")
	// The hint says what a campaign takes: an absolute path is refused
	// as well, so it is no way out.
	for _, name := range []string{"../other/x.py", filepath.Join(p.dir, "other", "x.py")} {
		p.write("c.yaml", "campaign_id: c\nname: c\nscript_configurations:\n  - script_name: "+name+"\n")
		r := p.vpt("campaign", "c.yaml")
		r.expectErr(t, 2, "resolves outside the scripts folder", "a campaign's scripts are in the scripts folder")
		if strings.Contains(r.stderr, "absolute path") {
			t.Fatalf("the hint offers an absolute path, which is refused too:\n%s", r.stderr)
		}
	}
}

// --parallel 4 on a pool of one device ran on one without a word, and -q
// silently cancelled --stream.
func TestCampaignSaysWhatItMadeOfItsOptions(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/a.py", "import vpt\n")
	p.write("c.yaml", "campaign_id: c\nname: C\nscript_configurations:\n  - script_name: a\n")
	p.vpt("campaign", "c.yaml", "--parallel", "4").expectErr(t, 0, "--parallel 4: the pool has 1 device(s) (device1): running on 1 at once")
	p.vpt("campaign", "c.yaml", "--stream", "-q").expectErr(t, 2, "--stream and -q ask for opposite things")
	// A run uses one device: a second --device is a mistake, not an override.
	p.vpt("run", "a", "-d", "device1", "--device", "device2").expectErr(t, 2, "given twice (device1, then device2)")
}

// Output that cannot be written is no success: a full disk under
// vpt ... --json > out.json exits 3 and says so, where it exited 0.
func TestFullStdoutFails(t *testing.T) {
	p := newProject(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("no /dev/full: %v", err)
	}
	defer full.Close()
	noop := fixture(t, "noop.py")
	for _, args := range [][]string{{"run", noop, "--json"}, {"version", "--json"}, {"devices"}, {"report", "list"}} {
		cmd := p.command(nil, args...)
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &errb
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(errb.String(), "no space left on device") {
			t.Fatalf("vpt %v > /dev/full: exit %d, want 3\n%s", args, code, errb.String())
		}
	}
}

// --junit into something that is not a regular file writes into it: a
// FIFO stays a FIFO (and /dev/stdout would stay /dev/stdout), a symbolic
// link stays a link to the file it names.
func TestJUnitIntoAFIFOAndALink(t *testing.T) {
	p := newProject(t)
	fifo := filepath.Join(p.dir, "junit.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	p.vpt("run", fixture(t, "noop.py"), "--junit", fifo).expect(t, 0)
	if b := <-got; !strings.Contains(string(b), "<testsuites") {
		t.Fatalf("the FIFO got %q", b)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", st.Mode(), err)
	}
	target := p.write("out/junit.xml", "old\n")
	link := filepath.Join(p.dir, "junit.xml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	p.vpt("run", fixture(t, "noop.py"), "--junit", link).expect(t, 0)
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if b, _ := os.ReadFile(target); !strings.Contains(string(b), "<testsuites") {
		t.Fatalf("the linked file holds %q", b)
	}
}
