package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/store"
)

// checkVideo opens the run's video with ffprobe: it plays and lasts as
// long as the run, within a second.
func checkVideo(t *testing.T, res *store.Result) {
	t.Helper()
	if res.Details.Video == nil || res.Details.Video.State != "finalised" {
		t.Fatalf("video: %+v", res.Details.Video)
	}
	got, err := capture.ProbeDuration(context.Background(), filepath.Join(res.RunDir, res.Details.Video.Path))
	if err != nil {
		t.Fatal(err)
	}
	// The video starts once the device is open and recording, and lasts
	// until the run ends.
	run := time.Duration(res.ExecutionTimeMs) * time.Millisecond
	offset := time.Duration(res.Details.Video.OffsetMs) * time.Millisecond
	if offset < 0 || offset > run {
		t.Fatalf("video starts %s into a run of %s", offset, run)
	}
	// It covers the run up to its final screenshot (taken once the script
	// ended); what comes after — stopping the recorder, finalising the video,
	// writing the reports — takes longer on a loaded machine and is not filmed.
	end := run
	if shots := res.Details.Screenshots; len(shots) > 0 {
		end = time.Duration(shots[len(shots)-1].OffsetMs) * time.Millisecond
	}
	if got < end-offset-500*time.Millisecond || got > run-offset+time.Second {
		t.Fatalf("video lasts %s; the run %s, its final screenshot at %s, the video's start at %s", got, run, end, offset)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "video")); err == nil {
		t.Fatal("segments left after the MP4 was made")
	}
}

func TestVideoOfVirtualRun(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	p := newProject(t)
	p.write("test_scripts/zap.py", "import vpt, time\nvpt.goto('live')\ntime.sleep(2)\nvpt.press('INFO')\ntime.sleep(1)\n")
	p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "run", "zap").expect(t, 0)
	checkVideo(t, p.only())
}

func TestVideoModes(t *testing.T) {
	needTools(t, "ffmpeg")
	p := newProject(t)
	p.write("test_scripts/pass.py", "")
	p.write("test_scripts/fail.py", "raise SystemExit(1)\n")
	p.vpt("run", "pass", "--video", "retain-on-failure").expect(t, 0)
	p.vpt("run", "fail", "--video", "retain-on-failure").expect(t, 1)
	p.vpt("run", "pass", "--video", "off").expect(t, 0)
	byScript := map[string][]store.Result{}
	for _, r := range p.results() {
		byScript[r.ScriptName] = append(byScript[r.ScriptName], r)
	}
	for _, r := range append(byScript["pass"], byScript["fail"]...) {
		full, _ := os.ReadFile(filepath.Join(r.RunDir, "result.json"))
		_, err := os.Stat(filepath.Join(r.RunDir, "video.mp4"))
		hasVideo := err == nil
		switch {
		case r.ScriptName == "fail" && !hasVideo:
			t.Errorf("a failed run with retain-on-failure kept no video: %s", full)
		case r.ScriptName == "pass" && hasVideo:
			t.Errorf("a passed run kept its video (retain-on-failure or off)")
		}
	}
	p.vpt("run", "pass", "--video", "sometimes").expectErr(t, 2, `--video: "sometimes": use on, off or retain-on-failure`)
}

func TestJPEGScreenshots(t *testing.T) {
	p := newProject(t)
	p.write("vpt.yaml", "screenshots: {format: jpeg, quality: 60}\n")
	p.write("test_scripts/s.py", "import vpt\nvpt.screenshot('x')\n")
	p.vpt("run", "s").expect(t, 0)
	res := p.only()
	if len(res.Details.Screenshots) != 3 || !strings.HasSuffix(res.Details.Screenshots[1].Path, "002-x.jpg") {
		t.Fatalf("screenshots: %+v", res.Details.Screenshots)
	}
	for _, s := range res.Details.Screenshots {
		for _, f := range []string{s.Path, s.Thumbnail} {
			b, err := os.ReadFile(filepath.Join(res.RunDir, f))
			if err != nil || len(b) < 3 || b[0] != 0xff || b[1] != 0xd8 {
				t.Fatalf("%s is not a JPEG", f)
			}
		}
	}
}

// A whole run on an Android device: the stand-in adb answers like a phone
// and streams real H.264.
func TestRunOnAndroidStandIn(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	p := newProject(t)
	standin, _ := filepath.Abs(filepath.Join("capture", "adb", "testdata"))
	log := filepath.Join(p.dir, "adb.log")
	p.env = append(p.env, "PATH="+standin+string(os.PathListSeparator)+os.Getenv("PATH"), "ADB_STANDIN_LOG="+log,
		"ADB_STANDIN_STATE="+filepath.Join(p.dir, "adb-state"))
	p.write("vpt.yaml", "devices:\n  - {id: phone, name: Pixel 7, model: android_mobile, adb: 192.168.1.20:5555}\n")
	p.write("test_scripts/tap.py", "import vpt, time\nvpt.press('HOME')\nvpt.tap(10, 20)\nvpt.text('hi there')\nvpt.screenshot('home')\ntime.sleep(2)\n")
	p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "run", "tap", "--device", "phone").expectOut(t, 0, "PASSED tap on phone")
	res := p.only()
	checkVideo(t, res)
	if len(res.Details.Screenshots) != 3 {
		t.Fatalf("screenshots %+v", res.Details.Screenshots)
	}
	b, _ := os.ReadFile(log)
	for _, want := range []string{"connect 192.168.1.20:5555", "input keyevent KEYCODE_HOME", "input tap 10 20", "input text hi%sthere", "screenrecord"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("adb not asked %q", want)
		}
	}
}

// An HDMI capture run with ffmpeg's test source standing in for the card.
func TestRunOnCaptureCardStandIn(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	p := newProject(t)
	p.write("vpt.yaml", "devices:\n  - {id: stb, name: STB, model: stb, video: \"lavfi:testsrc2=size=1280x720:rate=10\"}\n")
	p.write("test_scripts/watch.py", "import vpt, time\ntime.sleep(2)\nvpt.screenshot('picture')\n")
	p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "run", "watch", "--device", "stb").expect(t, 0)
	res := p.only()
	checkVideo(t, res)
	if s := res.Details.Screenshots; len(s) != 3 || s[1].Width != 1280 {
		t.Fatalf("screenshots %+v", s)
	}
	// Keys need an IR blaster or ADB: a clear error reaches the script.
	p.write("test_scripts/press.py", "import vpt\ntry:\n    vpt.press('OK')\nexcept vpt.VptError as e:\n    print('ERR', e.code)\n")
	p.vpt("run", "press", "--device", "stb").expect(t, 0, "ERR not_supported")
}

func TestUnreachableDeviceIsAnError(t *testing.T) {
	p := newProject(t)
	p.write("vpt.yaml", "devices:\n  - {id: stb, name: STB, model: stb, video: /dev/video97}\n")
	p.write("test_scripts/x.py", "")
	p.vpt("run", "x", "--device", "stb").expect(t, 3, "ERROR x on stb", "/dev/video97")
	if res := p.only(); res.Status != store.StatusError {
		t.Fatalf("status %s", res.Status)
	}
}

func TestDevicesAndDoctor(t *testing.T) {
	p := newProject(t)
	p.write("vpt.yaml", "devices:\n  - {id: stb, name: STB, model: stb, video: /dev/video97}\n  - {id: d2, name: Second, model: virtual, userinterface: virtual_tv}\n")
	var list []map[string]any
	// A device that does not answer fails the health gate (exit 3).
	r := p.vpt("devices", "--json")
	r.expect(t, 3)
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 3 {
		t.Fatalf("devices: %v %s", err, r.stdout)
	}
	if list[0]["id"] != "device1" || list[0]["ok"] != true || list[1]["ok"] != false {
		t.Fatalf("devices: %v", list)
	}
	p.vpt("devices").expectOut(t, 3, "device1", "not answering", "/dev/video97")
	p.vpt("devices", "device1", "d2").expectOut(t, 0, "device1", "d2")
	r = p.vpt("doctor")
	r.expectOut(t, 3, "python", "ffmpeg", "store", "upload", "FAIL device stb")
	p.vpt("doctor", "-q").notOut(t, "ok   python")
	// A required tool that is missing fails the doctor with exit 3.
	p.write("vpt.yaml", "tools: {ffmpeg: /no/such/ffmpeg}\n")
	p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "doctor").expectOut(t, 3, "needed by device1", "apt-get install ffmpeg")
	// Upstream's environment adds devices.
	p.write("vpt.yaml", "")
	standin, _ := filepath.Abs(filepath.Join("capture", "adb", "testdata"))
	p.vptEnv([]string{"DEVICE2_NAME=Upstream STB", "DEVICE2_MODEL=android_mobile", "DEVICE2_IP=10.255.0.9",
		"PATH=" + standin + string(os.PathListSeparator) + os.Getenv("PATH"), "ADB_STANDIN_STATE=" + filepath.Join(p.dir, "state")},
		"devices", "--json").expectOut(t, 3, "10.255.0.9:5555", "Upstream STB", "failed to connect")
}

// A device that stops answering during the run (the display's server
// dies) ends the run in error, exit 3: the script failed because its
// device went away, which says nothing of the software under test. It was
// FAILED, exit 1, as if the test had found a defect.
func TestDeviceLostDuringTheRun(t *testing.T) {
	p, _, server := deskProject(t)
	p.write("test_scripts/shots.py", `import time, vpt
for i in range(100):
    vpt.screenshot("s%d" % i)
    print("shot", i, flush=True)
    time.sleep(0.2)
`)
	cmd, out := p.background(t, nil, "shot 1", "run", "shots", "--device", "desk", "--video", "off")
	server.Kill()
	if code := waitExit(t, cmd, time.Minute); code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, out.String())
	}
	res := p.only()
	if res.Status != store.StatusError || !strings.Contains(res.ErrorMsg, "desk") {
		t.Fatalf("status %s, error %q\n%s", res.Status, res.ErrorMsg, out.String())
	}
}

// A recording whose device went away during the run says so: its video
// holds the run up to then, and details.video.error says the recording
// stopped before the run ended (it was recorded as the whole run's video).
func TestRecordingStoppedByTheDevice(t *testing.T) {
	p, _, server := deskProject(t)
	p.write("test_scripts/nap.py", "import time\nprint('napping', flush=True)\ntime.sleep(3)\n")
	cmd, out := p.background(t, nil, "napping", "run", "nap", "--device", "desk", "--video", "on")
	time.Sleep(time.Second) // a second of video before the display dies
	server.Kill()
	waitExit(t, cmd, time.Minute)
	res := p.only()
	v := res.Details.Video
	if v == nil || !strings.Contains(v.Error, "the recording stopped before the run ended") {
		t.Fatalf("video %+v\n%s", v, out.String())
	}
	if !strings.Contains(out.String(), "the recording stopped before the run ended") {
		t.Fatalf("not said:\n%s", out.String())
	}
}

// A display that restarts during the run answers again: a script that
// waits for its device to come back, as a reboot test does, gets its
// screenshots and passes (vpt kept the dead capture and failed every
// call after the restart).
func TestDeviceComesBack(t *testing.T) {
	p, display, server := deskProject(t)
	p.write("test_scripts/wait.py", `import time, vpt
vpt.screenshot("before")
print("first", flush=True)
lost = False
for i in range(120):
    try:
        vpt.screenshot("again")
        if lost:
            print("back", flush=True)
            break
    except vpt.VptError:
        if not lost:
            print("lost", flush=True)
        lost = True
    time.sleep(0.25)
else:
    raise SystemExit("the display never answered again")
`)
	cmd, out := p.background(t, nil, "first", "run", "wait", "--device", "desk", "--video", "off")
	server.Kill()
	server.Wait()
	waitFor(t, func() bool { return strings.Contains(out.String(), "lost") })
	again := exec.Command("Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset")
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Process.Kill(); again.Wait() })
	if code := waitExit(t, cmd, 2*time.Minute); code != 0 || !strings.Contains(out.String(), "back") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}

// deskProject is a project whose device desk is the host display of an
// Xvfb server of its own; it returns the display and the server.
func deskProject(t *testing.T) (*project, string, *os.Process) {
	t.Helper()
	testenv.NeedTools(t, "ffmpeg", "xdotool", "xdpyinfo")
	display, server := testenv.Xvfb(t)
	p := newProject(t)
	p.write("vpt.yaml", "devices:\n  - {id: desk, name: Desk, model: host, display: \""+display+"\"}\n")
	return p, display, server
}
