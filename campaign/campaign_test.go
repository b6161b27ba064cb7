package campaign

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// testEnv plans against the examples: their scripts, userinterfaces and
// devices.
func testEnv(t *testing.T) Environment {
	t.Helper()
	reg, err := capture.NewRegistry([]capture.DeviceConfig{
		{ID: "device1", Name: "STB", Model: "virtual", UserInterface: "horizon_tv"},
		{ID: "device2", Name: "STB 2", Model: "virtual", UserInterface: "horizon_tv"},
		{ID: "device3", Name: "STB 3", Model: "virtual", UserInterface: "horizon_tv"},
		{ID: "phone", Name: "Phone", Model: "android_mobile", ADB: "emulator-5554", UserInterface: "android_home"},
	}, capture.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	return Environment{
		Resolver: executor.Resolver{Dir: "../examples/test_scripts"}, Devices: reg,
		UIs: ui.Library{Dir: "../examples/userinterfaces"}, DefaultTimeout: time.Hour,
	}
}

var noOpts = Options{Retries: -1}

// The bad input corpus: every file fails with a clear message, before
// anything runs.
func TestBadCampaigns(t *testing.T) {
	big := filepath.Join(t.TempDir(), "21_huge.yaml")
	f, _ := os.Create(big)
	f.WriteString("campaign_id: bad\nname: Huge\nscript_configurations:\n")
	line := []byte("  - {script_name: goto, parameters: {node: live}}\n")
	for n := 0; n < 50<<20; n += len(line) {
		f.Write(line)
	}
	f.Close()
	want := map[string]string{
		"01_wrong_type_timeout.yaml":     `01_wrong_type_timeout.yaml:3:37: execution_config.timeout_minutes: expected a number, got "soon"`,
		"02_wrong_type_parallel.yaml":    `02_wrong_type_parallel.yaml:3:30: execution_config.parallel: expected true or false, got "maybe"`,
		"03_missing_name.yaml":           "name: missing",
		"04_missing_campaign_id.yaml":    "campaign_id: missing",
		"05_missing_script_name.yaml":    "05_missing_script_name.yaml:4:5: script_configurations[0].script_name: missing",
		"06_unknown_top_key.yaml":        "06_unknown_top_key.yaml:3:1: scrpit_configurations: unknown key (did you mean script_configurations?)",
		"07_unknown_entry_key.yaml":      "07_unknown_entry_key.yaml:4:5: script_configurations[0].script_nam: unknown key (did you mean script_name?)",
		"08_unknown_exec_key.yaml":       "execution_config.continue_on_failur: unknown key (did you mean continue_on_failure?)",
		"09_duplicate_key.yaml":          "09_duplicate_key.yaml:3:1: name: appears twice",
		"10_duplicate_parameter.yaml":    `10_duplicate_parameter.yaml:7: parameters: "node" appears twice`,
		"11_empty_script_list.yaml":      "script_configurations: no scripts to run",
		"12_unknown_script.yaml":         "12_unknown_script.yaml:4:18: script_configurations[0].script_name: Script not found: ",
		"13_unknown_device.yaml":         "13_unknown_device.yaml:3:9: device: Device device9 not found. Available: [device1, device2, device3, phone]",
		"14_unknown_entry_device.yaml":   "script_configurations[0].device: Device device9 not found",
		"15_unknown_parameter.yaml":      `15_unknown_parameter.yaml:5:23: script_configurations[0].parameters.nod: goto does not declare "nod" (did you mean node?)`,
		"16_wrong_parameter_type.yaml":   `validation declares "max-iteration" as a whole number, got "lots"`,
		"17_unknown_userinterface.yaml":  "userinterface_name: User interface 'horizon_radio' not found. Available: ['horizon_tv', 'virtual_tv']",
		"18_directory.yaml":              "18_directory.yaml: is a directory",
		"19_empty.yaml":                  "19_empty.yaml: is empty",
		"20_binary.yaml":                 "20_binary.yaml:2:7: is binary",
		"21_huge.yaml":                   "21_huge.yaml: is 50 MB, more than the 4 MB",
		"22_invalid_utf8.yaml":           "22_invalid_utf8.yaml:2:10: is not valid UTF-8",
		"23_anchor_bomb.yaml":            "expands too much",
		"24_script_escape.yaml":          "resolves outside the scripts folder",
		"25_not_a_mapping.yaml":          "25_not_a_mapping.yaml:1:1: expected a mapping of keys, got a list",
		"26_syntax_error.yaml":           "26_syntax_error.yaml:3: did not find expected '-' indicator",
		"27_negative_retries.yaml":       "script_configurations[0].retries: cannot be negative",
		"28_bad_entry_timeout.yaml":      `script_configurations[0].timeout: "5 minutes" is not a duration`,
		"29_testcase_entry.yaml":         "testcase_id: test case entries are not supported by vpt",
		"30_parameters_not_mapping.yaml": "parameters: expected a mapping of names to values",
		"31_zero_timeout.yaml":           "execution_config.timeout_minutes: must be more than 0",
		"32_device_not_in_pool.yaml":     "device device3 is not in this campaign's pool (device1)",
		"33_list_of_wrong_things.yaml":   "script_configurations: expected a list, got \"goto\"",
		"34_nested_parameter.yaml":       "parameters.node: expected a single value",
		"35_flag_not_bool.yaml":          `zap declares "channels" as a whole number, got "three"`,
		"36_trailing_comma.json":         "36_trailing_comma.json:6:3: not valid JSON",
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{big}
	for _, e := range entries {
		files = append(files, filepath.Join("testdata/bad", e.Name()))
	}
	if len(files) < 25 {
		t.Fatalf("the corpus has %d files", len(files))
	}
	env := testEnv(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			f, err := Load(path)
			if err == nil {
				_, err = Prepare(f, env, noOpts)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("not ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("got:\n%v\nwant it to contain:\n%s", err, w)
			}
		})
	}
}

// All problems of a file come back together.
func TestAllProblemsAtOnce(t *testing.T) {
	f, err := Parse("c.yaml", []byte(`campaign_id: c
name: C
device: device9
userinterface_name: nope
script_configurations:
  - script_name: gotoo
  - {script_name: goto, parameters: {nod: live}}
  - {script_name: validation, parameters: {max-iteration: x}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(f, testEnv(t), noOpts)
	var ps yamlfile.Problems
	if !errors.As(err, &ps) || len(ps) != 5 {
		t.Fatalf("want 5 problems, got %v", err)
	}
}

func TestPlan(t *testing.T) {
	f, err := Parse("c.yaml", []byte(`campaign_id: c
name: C
userinterface_name: horizon_tv
device: auto
execution_config: {parallel: true, retries: 2}
script_configurations:
  - {script_name: goto, parameters: {node: live}}
  - {script_name: zap.py, parameters: {channels: 3, dwell: 0.5}, retries: 0, timeout: 90s}
  - {script_name: goto, device: device2, parameters: {node: guide}}
  - {script_name: hello}
  - {script_name: validation, parameters: {max-iteration: 2, edges: "home-live"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t)
	p, err := Prepare(f, env, noOpts)
	if err != nil {
		t.Fatal(err)
	}
	// The phone shows another userinterface: auto leaves it out.
	if strings.Join(p.Pool, ",") != "device1,device2,device3" || p.Workers != 3 {
		t.Fatalf("pool %v workers %d", p.Pool, p.Workers)
	}
	if got := strings.Join(p.Entries[1].Args, " "); got != "--channels 3 --dwell 0.5" {
		t.Fatalf("args %q", got)
	}
	if p.Entries[0].Retries != 2 || p.Entries[1].Retries != 0 || p.Entries[1].Timeout != 90*time.Second || p.Entries[0].Timeout != time.Hour {
		t.Fatalf("entries %+v", p.Entries[:2])
	}
	if p.Entries[2].Device != "device2" || p.Entries[0].UserInterface != "horizon_tv" {
		t.Fatalf("entry 3 %+v", p.Entries[2])
	}
	// --parallel 2 keeps two devices; --retries wins over the file.
	p, _ = Prepare(f, env, Options{Parallel: 2, Retries: 1})
	if p.Workers != 2 || len(p.Pool) != 2 || p.Entries[1].Retries != 1 {
		t.Fatalf("workers %d pool %v retries %d", p.Workers, p.Pool, p.Entries[1].Retries)
	}
	// Shards split deterministically and cover everything once.
	seen := map[int]int{}
	for i := 1; i <= 3; i++ {
		p, err := Prepare(f, env, Options{Retries: -1, Shard: i, Shards: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			seen[e.Index]++
			if e.Index%3 != i-1 {
				t.Fatalf("entry %d in shard %d", e.Index, i)
			}
		}
	}
	if len(seen) != 5 {
		t.Fatalf("shards cover %v", seen)
	}
	if _, err := Prepare(f, env, Options{Retries: -1, Shard: 4, Shards: 3}); err == nil {
		t.Fatal("shard 4/3 accepted")
	}
	if _, err := Prepare(f, env, Options{Retries: -1, Devices: []string{"phone"}}); err == nil || !strings.Contains(err.Error(), "not in this campaign's pool") {
		t.Fatalf("a pinned device outside the pool: %v", err)
	}
}

func TestUpstreamJSON(t *testing.T) {
	f, err := Load("../examples/campaigns/upstream.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(f, testEnv(t), noOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 2 || p.Settings.Parallel || !p.Settings.ContinueOnFailure || p.Settings.Timeout != time.Hour {
		t.Fatalf("plan %+v", p)
	}
}

func TestParamArgs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.py")
	os.WriteFile(path, []byte("import argparse\np=argparse.ArgumentParser()\np.add_argument('--fast', action='store_true')\np.add_argument('--n', type=int)\n"), 0o644)
	args, problems := paramArgs(executor.Script{Name: "s", Path: path}, Params{{Key: "fast", Value: true}, {Key: "n", Value: 3}, {Key: "device", Value: "x"}})
	if len(problems) != 0 || strings.Join(args, " ") != "--fast --n 3 --device x" {
		t.Fatalf("%v %v", args, problems)
	}
	args, _ = paramArgs(executor.Script{Name: "s", Path: path}, Params{{Key: "fast", Value: false}})
	if len(args) != 0 {
		t.Fatalf("a false flag is left out: %v", args)
	}
	// Scripts that declare nothing take anything, booleans as true/false.
	plain := filepath.Join(dir, "p.py")
	os.WriteFile(plain, []byte("print(1)\n"), 0o644)
	args, _ = paramArgs(executor.Script{Name: "p", Path: plain}, Params{{Key: "goto-live", Value: true}, {Key: "ratio", Value: 0.25}})
	if strings.Join(args, " ") != "--goto-live true --ratio 0.25" {
		t.Fatalf("%v", args)
	}
}

// check_video and check_audio are vpt's: read as true or false, given to
// the script only when it declares them (as upstream's may).
func TestAVCheckParams(t *testing.T) {
	dir := t.TempDir()
	declares := filepath.Join(dir, "d.py")
	os.WriteFile(declares, []byte("_script_args = ['--check_audio:bool:false', '--n:int:1']\n"), 0o644)
	plain := filepath.Join(dir, "p.py")
	os.WriteFile(plain, []byte("print(1)\n"), 0o644)
	params := Params{{Key: "check_video", Value: true}, {Key: "check_audio", Value: "true"}, {Key: "n", Value: 2}}
	video, audio, problems := avChecks(params)
	if !video || !audio || len(problems) != 0 {
		t.Fatalf("video %v, audio %v, %v", video, audio, problems)
	}
	args, problems := paramArgs(executor.Script{Name: "d", Path: declares}, params)
	if len(problems) != 0 || strings.Join(args, " ") != "--check_audio true --n 2" {
		t.Fatalf("declared: %v %v", args, problems)
	}
	args, _ = paramArgs(executor.Script{Name: "p", Path: plain}, params)
	if strings.Join(args, " ") != "--n 2" {
		t.Fatalf("undeclared: %v", args)
	}
	if _, _, problems := avChecks(Params{{Key: "check_video", Value: "yes"}}); len(problems) != 1 || !strings.Contains(problems[0].Msg, "true or false") {
		t.Fatalf("bad value: %v", problems)
	}
}
