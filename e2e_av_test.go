package main

// End-to-end tests of seeing and hearing the device: the analysis calls of
// the script API on the virtual device's misbehaving screens, the check of
// a run's recording, userinterfaces verified without reference pictures,
// and bad input.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// avUI is a virtual TV whose screens misbehave on purpose: a zap with a
// 600 ms black gap, a frozen screen, a black one, a silent one, a loud one.
const avUI = `name: avtv
nodes:
  - {id: live, label: Live TV}
  - {id: still, label: Still, picture: frozen}
  - {id: dark, label: Dark, picture: black}
  - {id: quiet, label: Quiet, sound: silent}
  - {id: loud, label: Loud, sound: loud}
edges:
  - {from: live, to: live, actions: [{action: press_key, key: CH_UP}], black: 600ms, banner: "2 BBC Two"}
  - {from: live, to: still, actions: [{action: press_key, key: "1"}]}
  - {from: live, to: dark, actions: [{action: press_key, key: "2"}]}
  - {from: live, to: quiet, actions: [{action: press_key, key: "3"}]}
  - {from: live, to: loud, actions: [{action: press_key, key: "4"}]}
  - {from: still, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: dark, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: quiet, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: loud, to: live, actions: [{action: press_key, key: BACK}]}
`

func avProject(t *testing.T) *project {
	t.Helper()
	needTools(t, "ffmpeg", "ffprobe", "tesseract")
	p := newProject(t)
	p.write("userinterfaces/avtv.yaml", avUI)
	p.write("vpt.yaml", `devices:
  - {id: device1, name: Virtual STB, model: virtual, userinterface: avtv}
  - {id: card, name: Capture card, model: stb, video: "lavfi:testsrc2=size=1280x720:rate=10"}
`)
	return p
}

// results reads the RESULT lines a script printed: name → its JSON.
func resultLines(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, "RESULT ")
		if !ok {
			continue
		}
		name, js, _ := strings.Cut(rest, " ")
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatalf("%s: %v: %s", name, err, js)
		}
		got[name] = m
	}
	return got
}

const avCalls = `import json, time, vpt

def out(name, r):
    print("RESULT", name, json.dumps(dict(r.to_dict(), truth=bool(r))))

def on(key):
    vpt.press(key)
    time.sleep(0.3)

out("black_live", vpt.is_black())
out("motion_live", vpt.wait_for_motion(timeout=5))
out("zap", vpt.measure_zap("CH_UP", region=[0, 0, 1280, 120], stable=0.5))
out("clean", vpt.check_video(2))
out("clean_short", vpt.check_video(0.1))
out("clean_fine", vpt.check_video(1, freeze=0.1))
out("sound", vpt.check_audio(1.5))
out("title", vpt.ocr(region=[0, 0, 700, 120]))
out("match", vpt.match_text("live tv", region=[0, 0, 700, 120]))
out("nomatch", vpt.match_text("Guide", region=[0, 0, 700, 120], timeout=0.5))
out("regex", vpt.match_text(r"^Live\s+TV$", region=[0, 0, 700, 120], regex=True, case_sensitive=True))
out("still_enter", vpt.press_and_wait("1", stable=0.5, timeout=3))
out("motion_still", vpt.wait_for_motion(timeout=1.5, consecutive="1/1"))
out("frozen", vpt.check_video(2.5, freeze=1))
out("frozen_short", vpt.check_video(1))
on("BACK")
on("2")
out("black_dark", vpt.is_black())
out("dark", vpt.check_video(1.5))
out("dark_short", vpt.check_video(1, min_black=2))
on("BACK")
on("3")
out("silent", vpt.check_audio(1))
out("silent_short", vpt.check_audio(0.1))
on("BACK")
out("louder", vpt.wait_for_volume_change(direction="louder", key="4", timeout=3))
`

// Every analysis call on the virtual device, its misbehaving screens
// included; the zap's gap within one frame of the configured 600 ms.
func TestAVCallsOnTheVirtualDevice(t *testing.T) {
	p := avProject(t)
	p.write("test_scripts/calls.py", avCalls)
	r := p.vpt("run", "calls")
	r.expect(t, 0, "PASSED calls")
	got := resultLines(t, r.stdout)
	truth := func(name string, want bool) {
		t.Helper()
		if got[name]["truth"] != want {
			t.Errorf("%s: truth %v, want %v: %v", name, got[name]["truth"], want, got[name])
		}
	}
	num := func(name, key string) float64 {
		t.Helper()
		v, ok := got[name][key].(float64)
		if !ok {
			t.Fatalf("%s.%s = %v", name, key, got[name][key])
		}
		return v
	}
	for name, want := range map[string]bool{"black_live": false, "motion_live": true, "zap": true, "clean": true, "sound": true,
		"title": true, "match": true, "nomatch": false, "regex": true, "still_enter": true, "motion_still": false, "frozen": false,
		"black_dark": true, "dark": false, "silent": false, "louder": true,
		// Windows shorter than freeze, min_black, min_silence: a stretch
		// that lasts all of it counts (these passed: checks that could not fail).
		"frozen_short": false, "dark_short": false, "silent_short": false,
		// A moving picture is not frozen: not when one frame is watched, nor
		// when freeze is a frame period (each frame moved).
		"clean_short": true, "clean_fine": true} {
		truth(name, want)
	}
	if gap, period := num("zap", "black_gap"), num("zap", "period"); math.Abs(gap-0.6) > period || period != 0.1 {
		t.Errorf("zap: black gap %gs, configured 600ms, frame period %gs", gap, period)
	}
	if z := num("zap", "zap_time"); z < 0.6 || z > 0.6+2*num("zap", "period") {
		t.Errorf("zap time %gs", z)
	}
	if got["title"]["text"] != "Live TV" || num("black_dark", "dark") != 1 || num("black_live", "dark") > 0.5 {
		t.Errorf("title %v, dark %v / %v", got["title"]["text"], got["black_dark"]["dark"], got["black_live"]["dark"])
	}
	if frozen := got["frozen"]["frozen"].([]any); len(frozen) != 1 || frozen[0].(map[string]any)["duration"].(float64) < 1.4 {
		t.Errorf("frozen stretches %v", frozen)
	}
	if black := got["dark"]["black"].([]any); len(black) != 1 || black[0].(map[string]any)["duration"].(float64) < 1.4 {
		t.Errorf("black stretches %v", black)
	}
	if rms := num("sound", "rms"); math.Abs(rms+23) > 1 {
		t.Errorf("the tone at %g dBFS, want -23", rms)
	}
	if rms := num("silent", "rms"); rms > -100 || len(got["silent"]["silent"].([]any)) != 1 {
		t.Errorf("silence: %v", got["silent"])
	}
	// Found at the first window 10 dB louder, partly before the loud tone.
	if d := num("louder", "difference"); d < 10 || d > 20 || got["louder"]["direction"] != "louder" {
		t.Errorf("volume change %v", got["louder"])
	}
	// Each call is a step of kind av with its evidence; its frames are
	// screenshots, thumbnails beside them.
	res := p.only()
	avSteps := 0
	for _, st := range res.Details.Steps {
		if st.Kind != "av" {
			continue
		}
		avSteps++
		if st.AV == nil || st.AV.Method == "" || st.AV.Result == nil {
			t.Errorf("step %d (%s) has no evidence", st.Number, st.Name)
		}
		for _, i := range st.Screenshots {
			sc := res.Details.Screenshots[i]
			for _, f := range []string{sc.Path, sc.Thumbnail} {
				if _, err := os.Stat(filepath.Join(res.RunDir, f)); err != nil {
					t.Errorf("step %d: %v", st.Number, err)
				}
			}
		}
	}
	if avSteps != 21 {
		t.Errorf("%d av steps, want 21", avSteps)
	}
	zap := res.Details.Steps[2]
	if zap.AV.Method != "measure_zap" || len(zap.AV.Intervals) != 1 || zap.AV.Intervals[0].Kind != "black" || len(zap.Screenshots) < 2 ||
		fmt.Sprint(zap.AV.Region) != "[0 0 1280 120]" {
		t.Errorf("zap step %+v %+v", zap, zap.AV)
	}
	html, _ := os.ReadFile(filepath.Join(res.RunDir, "report.html"))
	if !strings.Contains(string(html), "<code>measure_zap</code>") {
		t.Error("the report lacks the zap's evidence")
	}
}

// Bad input: regions outside the frame, negative or missing durations,
// options out of range, wrong types (the library's TypeError), a device
// without sound or frames.
func TestAVBadInput(t *testing.T) {
	p := avProject(t)
	p.write("test_scripts/bad.py", `import vpt

def code(f, *a, **kw):
    try:
        f(*a, **kw)
        return "ok"
    except vpt.VptError as e:
        return e.code + ": " + e.message
    except TypeError as e:
        return "TypeError: " + str(e)

for line in [
    code(vpt.is_black, region=[0, 0, 1281, 10]),
    code(vpt.is_black, region=[1200, 700, 100, 100]),
    code(vpt.is_black, region=[0, 0, 0, 10]),
    code(vpt.wait_for_motion, timeout=-1),
    code(vpt.wait_for_motion, consecutive="5/3"),
    code(vpt.press_and_wait, "OK", stable=-0.5),
    code(vpt.check_video, -2),
    code(vpt.check_audio, 2, threshold=3),
    code(vpt.call, "check_video"),
    code(vpt.wait_for_volume_change, direction="up"),
    code(vpt.ocr, mode="poem"),
    code(vpt.match_text, "(", regex=True),
    code(vpt.is_black, region=[0, 0, "10", 10]),
    code(vpt.is_black, region=[0, 0, 0, 0]),
    code(vpt.wait_for_motion, timeout="5"),
    code(vpt.match_text, "x", regex="yes"),
    code(vpt.press_and_wait, 5),
    code(vpt.is_black, threshold=0),
    code(vpt.is_black, ratio=0),
    code(vpt.wait_for_motion, noise=0),
    code(vpt.wait_for_volume_change, window=0),
    code(vpt.ocr, languages=["../../etc/passwd"]),
    code(vpt.match_text, "x", languages=[""]),
    code(vpt.ocr, languages="--help"),
    code(vpt.wait_for_volume_change, window=100, timeout=1),
    code(vpt.wait_for_volume_change, window=-1),
    code(vpt.check_video, 1, freeze=-0.5),
]:
    print("CODE", line)
`)
	r := p.vpt("run", "bad")
	r.expect(t, 0)
	for _, want := range []string{
		"CODE bad_params: is_black: bad region: region [0, 0, 1281, 10] is outside the 1280x720 frame",
		"CODE bad_params: is_black: bad region: region [1200, 700, 100, 100] is outside the 1280x720 frame",
		"CODE bad_params: is_black: bad region: region [0, 0, 0, 10] has no area",
		"CODE bad_params: is_black: bad region: region [0, 0, 0, 0] has no area",
		"CODE bad_params: wait_for_motion: timeout -1 is negative",
		`CODE bad_params: wait_for_motion: bad analysis option: consecutive 5/3 needs 1 <= N <= M <= 1000`,
		"CODE bad_params: press_and_wait: stable -0.5 is negative",
		`CODE bad_params: check_video needs a "duration" in seconds, more than 0`,
		"CODE bad_params: check_audio: threshold 3 dBFS must be below 0",
		`CODE bad_params: check_video needs a "duration"`,
		`CODE bad_params: wait_for_volume_change: bad sound option: direction "up" (use louder, quieter or either)`,
		`CODE bad_params: ocr: mode "poem": use line, block, page or sparse`,
		"CODE bad_params: match_text: text pattern \"(\" is not a regular expression",
		"CODE TypeError: vpt.is_black(): region must be [x, y, width, height], four integers, got [0, 0, '10', 10]",
		"CODE TypeError: vpt.wait_for_motion(): timeout must be a number, got '5' (str)",
		"CODE TypeError: vpt.match_text(): regex must be True or False, got 'yes' (str)",
		"CODE bad_params: is_black: threshold 0: give the lightest grey that still counts as dark, 1 to 254",
		"CODE bad_params: is_black: ratio 0: give the share of dark pixels that makes the picture black, more than 0 and at most 1",
		"CODE bad_params: wait_for_motion: noise 0: give the smallest change of grey that counts as motion, 1 to 254",
		"CODE bad_params: wait_for_volume_change: window 0: how long each level is measured over: give more than 0 seconds",
		"CODE bad_params: wait_for_volume_change: window -1: how long each level is measured over: give more than 0 seconds",
		"CODE bad_params: check_video: freeze -0.5: how long a still picture lasts to count as frozen: give more than 0 seconds",
		`CODE bad_params: ocr: not an OCR language code: "../../etc/passwd": give tesseract language codes such as eng, deu, chi_sim`,
		`CODE bad_params: match_text: not an OCR language code: "": give tesseract language codes such as eng, deu, chi_sim`,
		`CODE bad_params: ocr: not an OCR language code: "--help": give tesseract language codes such as eng, deu, chi_sim`,
		"CODE bad_params: wait_for_volume_change: window 1m40s is longer than timeout 1s: not even the first level would be heard",
		"CODE TypeError: vpt.press_and_wait(): key must be a string, got 5 (int)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	// Nothing was measured: no step recorded.
	for _, st := range p.only().Details.Steps {
		if st.Kind == "av" {
			t.Errorf("a refused call recorded step %d (%s)", st.Number, st.Name)
		}
	}
	// A capture card without sound: the picture is analysed, sound is not
	// supported.
	p.write("test_scripts/nosound.py", `import vpt
print("BLACK", bool(vpt.is_black()))
try:
    vpt.check_audio(1)
except vpt.VptError as e:
    print("AUDIO", e.code, e.message)
try:
    vpt.wait_for_volume_change(timeout=1)
except vpt.VptError as e:
    print("VOLUME", e.code)
`)
	r = p.vpt("run", "nosound", "--device", "card")
	r.expect(t, 0, "BLACK False", "AUDIO not_supported check_audio: device card (hdmi) gives no live sound", "VOLUME not_supported")
}

// A run whose screen froze fails its recording check, from vpt run and
// from a campaign entry's parameters; the same script without the check
// passes, and a check that cannot be made is an error.
func TestCheckVideoFailsAFrozenRun(t *testing.T) {
	p := avProject(t)
	p.write("vpt.yaml", `devices:
  - {id: device1, name: Virtual STB, model: virtual, userinterface: avtv}
  - {id: card, name: Capture card, model: stb, video: "lavfi:testsrc2=size=1280x720:rate=10"}
av: {max_freeze: 1s}
`)
	p.write("test_scripts/stall.py", `import time, vpt
_script_args = ["--check_audio:bool:false"]
vpt.press("1")
time.sleep(3)
vpt.press("BACK")
time.sleep(0.5)
`)
	p.vpt("run", "stall").expect(t, 0, "PASSED stall")
	r := p.vpt("run", "stall", "--check-video")
	r.expect(t, 1, "FAILED stall", "A/V check: the picture was frozen for")
	rows := p.results()
	res, err := report.ReadResultJSON(rows[0].RunDir)
	if err != nil {
		t.Fatal(err)
	}
	av := res.Details.AV
	if res.Status != store.StatusFailed || res.Details.VerdictSource != "av_check" || av == nil || av.Passed || !av.Video || av.Audio ||
		len(av.Frozen) != 1 || av.Frozen[0].EndMs-av.Frozen[0].StartMs < 2500 || av.Limits.MaxFreezeMs != 1000 {
		t.Fatalf("status %s from %s, check %+v", res.Status, res.Details.VerdictSource, av)
	}
	if res.Details.Video == nil || res.Details.Video.State != "finalised" {
		t.Errorf("the failed run's video (recorded for the check, video: off) is not kept: %+v", res.Details.Video)
	}
	html, _ := os.ReadFile(filepath.Join(res.RunDir, "report.html"))
	if !strings.Contains(string(html), "Picture and sound") || !strings.Contains(string(html), "frozen for") {
		t.Error("the report lacks its A/V section")
	}
	// A campaign entry asks with its parameters; the script declares
	// check_audio and receives it, not check_video.
	p.write("campaigns/av.yaml", `campaign_id: av
name: A/V
userinterface_name: avtv
device: device1
execution_config: {timeout_minutes: 5}
script_configurations:
  - {script_name: stall, parameters: {check_video: true, check_audio: true}}
`)
	r = p.vpt("campaign", "campaigns/av.yaml")
	r.expect(t, 1, "A/V check: the picture was frozen for")
	rows = p.results()
	res, _ = report.ReadResultJSON(rows[0].RunDir)
	if av := res.Details.AV; av == nil || !av.Video || !av.Audio || strings.Join(res.Parameters, " ") != "--check_audio true" {
		t.Fatalf("campaign run: parameters %q, check %+v", res.Parameters, av)
	}
	// The capture card records no sound: its check cannot be made.
	p.write("test_scripts/short.py", "import time\ntime.sleep(1)\n")
	r = p.vpt("run", "short", "--device", "card", "--check-audio")
	r.expect(t, 3, "the A/V check could not be made", "no sound track")
	if res := p.results()[0]; res.Status != store.StatusError {
		t.Fatalf("status %s", res.Status)
	}
}

// Screens verified without reference pictures: by their title's text, a
// black picture, motion, sound; a wrong text fails the goto with what was
// read; a bad verification is refused with its line.
func TestUserInterfaceVerifiedByTextAndPicture(t *testing.T) {
	p := avProject(t)
	p.write("userinterfaces/avtv.yaml", `name: avtv
nodes:
  - {id: live, label: Live TV, verifications: [{type: text, text: Live TV, region: [0, 0, 700, 120]}, {type: motion}, {type: audio}]}
  - {id: dark, label: Dark, picture: black, verifications: [{type: black}]}
  - {id: still, label: Still, picture: frozen, verifications: [{type: text, text: "^st", regex: true, region: [0, 0, 700, 120]}]}
  - {id: quiet, label: Quiet, sound: silent, verifications: [{type: text, text: Quiet, region: [0, 0, 700, 120]}]}
  - {id: wrong, label: Wrong, verifications: [{type: text, text: Right, region: [0, 0, 700, 120]}]}
edges:
  - {from: live, to: dark, actions: [{action: press_key, key: "2"}]}
  - {from: dark, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: live, to: still, actions: [{action: press_key, key: "1"}]}
  - {from: still, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: live, to: quiet, actions: [{action: press_key, key: "3"}]}
  - {from: quiet, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: live, to: wrong, actions: [{action: press_key, key: "5"}]}
  - {from: wrong, to: live, actions: [{action: press_key, key: BACK}]}
`)
	p.write("test_scripts/walk.py", `import vpt
for node in ["dark", "live", "still", "live", "quiet", "live"]:
    vpt.goto(node)
try:
    vpt.goto("wrong")
except vpt.NavigationError as e:
    print("WRONG", e.message)
`)
	r := p.vpt("run", "walk")
	r.expect(t, 0, `WRONG`, `read "Wrong", expected "Right"`)
	res := p.only()
	seen := map[string]bool{}
	for _, st := range res.Details.Steps {
		for _, v := range st.Verifications {
			if v.Passed {
				seen[v.Type] = true
				if v.Detail == "" {
					t.Errorf("step %d: %s verification without what it measured", st.Number, v.Type)
				}
			}
		}
		if st.Kind == "navigation" && st.To != "wrong" && !st.Recovered && st.Status != store.StatusPassed {
			t.Errorf("step %d (%s) %s: %s", st.Number, st.Name, st.Status, st.Error)
		}
	}
	for _, ty := range []string{"text", "black", "motion", "audio"} {
		if !seen[ty] {
			t.Errorf("no %s verification passed", ty)
		}
	}
	p.write("userinterfaces/bad.yaml", `nodes:
  - {id: a, verifications: [{type: text, text: "(", regex: true}]}
  - {id: b, verifications: [{type: motion, consecutive: "9/3"}]}
`)
	p.vpt("ui", "check", "bad").expect(t, 2, `bad.yaml:2:48: nodes[0].verifications[0].text: "(" is not a regular expression`,
		`bad.yaml:3:57: nodes[1].verifications[0].consecutive: "9/3" is not N/M`)
}

// Without tesseract: doctor fails when a userinterface reads text, and
// says what to install; an OCR call answers tool_missing with the hint.
func TestOCRWithoutTesseract(t *testing.T) {
	p := avProject(t)
	missing := []string{"VPT_TOOLS_TESSERACT=/nonexistent/tesseract"}
	r := p.vptEnv(missing, "doctor")
	r.expect(t, 0, "tesseract", "not found (vpt.ocr, match_text and text verifications need it)", "apt-get install tesseract-ocr tesseract-ocr-eng")
	p.write("userinterfaces/reads.yaml", "nodes: [{id: home, verifications: [{type: text, text: Home}]}]\n")
	r = p.vptEnv(missing, "doctor")
	r.expect(t, 3, "FAIL tesseract", "the text verifications of reads need it")
	p.write("test_scripts/read.py", `import vpt
try:
    vpt.ocr()
except vpt.VptError as e:
    print("OCR", e.code, e.message)
`)
	p.vptEnv(missing, "run", "read").expect(t, 0, "OCR tool_missing ocr: required program not found: tesseract (/nonexistent/tesseract)",
		"apt-get install tesseract-ocr tesseract-ocr-eng")
}
