package main

// Reports checked in a real browser: Debian's chromium, driven through
// chromedriver's WebDriver protocol (plain HTTP and JSON).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type webDriver struct {
	t       *testing.T
	base    string
	session string
}

func startBrowser(t *testing.T) *webDriver {
	t.Helper()
	needTools(t, "chromedriver", "chromium")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("chromedriver", fmt.Sprintf("--port=%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	wd := &webDriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	waitFor(t, func() bool {
		resp, err := http.Get(wd.base + "/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"binary": "/usr/bin/chromium", "args": []string{
			"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
			"--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
			"--window-size=1280,2200", "--user-data-dir=" + t.TempDir()}},
		"goog:loggingPrefs": map[string]any{"browser": "ALL"},
	}}}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	wd.call("POST", "/session", caps, &created)
	wd.session = created.SessionID
	t.Cleanup(func() { wd.call("DELETE", "/session/"+wd.session, nil, nil) })
	return wd
}

func (wd *webDriver) call(method, path string, body, out any) {
	wd.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, wd.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	if resp.StatusCode != 200 {
		wd.t.Fatalf("webdriver %s %s: %s", method, path, env.Value)
	}
	if out != nil {
		if path == "/session" {
			json.Unmarshal(env.Value, out)
			return
		}
		if err := json.Unmarshal(env.Value, out); err != nil {
			wd.t.Fatalf("webdriver %s %s: %v: %s", method, path, err, env.Value)
		}
	}
}

func (wd *webDriver) s(path string) string { return "/session/" + wd.session + path }

// pageState is what the page reports about itself.
type pageState struct {
	Title         string   `json:"title"`
	Pwned         bool     `json:"pwned"`
	Images        int      `json:"images"`
	BrokenImages  []string `json:"broken"`
	VideoDuration float64  `json:"videoDuration"`
	VideoError    string   `json:"videoError"`
	Steps         int      `json:"steps"`
	Markers       int      `json:"markers"`
	ViewerOpens   bool     `json:"viewerOpens"`
}

const inspect = `
var done = arguments[arguments.length - 1];
var deadline = Date.now() + 20000;
(function wait() {
  var v = document.querySelector("video");
  var imgs = Array.prototype.slice.call(document.images).filter(function (i) { return i.id !== "viewer-img"; });
  var loaded = imgs.every(function (i) { return i.complete; });
  var videoReady = !v || v.readyState >= 1 || v.error;
  if ((!loaded || !videoReady) && Date.now() < deadline) { return setTimeout(wait, 100); }
  var shot = document.querySelector(".gallery .shot");
  if (shot) shot.click();
  var viewer = document.getElementById("viewer");
  var opened = viewer && !viewer.hidden && document.getElementById("viewer-img").getAttribute("src") !== null;
  if (viewer) document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"}));
  done({
    title: document.title, pwned: !!window.pwned || document.title.indexOf("pwned") >= 0,
    images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.src; }),
    videoDuration: v ? v.duration : -1, videoError: v && v.error ? String(v.error.code) : "",
    steps: document.querySelectorAll(".step").length, markers: document.querySelectorAll("#markers button").length,
    viewerOpens: !!opened
  });
})();`

func (wd *webDriver) load(t *testing.T, file string) pageState {
	t.Helper()
	wd.call("POST", wd.s("/url"), map[string]string{"url": "file://" + file}, nil)
	var st pageState
	wd.call("POST", wd.s("/execute/async"), map[string]any{"script": inspect, "args": []any{}}, &st)
	return st
}

func (wd *webDriver) consoleErrors(t *testing.T) []string {
	var logs []struct {
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	wd.call("POST", wd.s("/se/log"), map[string]string{"type": "browser"}, &logs)
	var errs []string
	for _, l := range logs {
		if l.Level == "SEVERE" {
			errs = append(errs, l.Message)
		}
	}
	return errs
}

func (wd *webDriver) screenshot(t *testing.T, name string) string {
	var b64 string
	wd.call("GET", wd.s("/screenshot"), nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("VPT_TEST_ARTIFACTS")
	if dir == "" {
		dir, _ = filepath.Abs("test-artifacts")
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page screenshot kept at %s", path)
	return path
}

const payload = `<script>window.pwned=1;document.title="pwned"</script><img src=x onerror="window.pwned=1"><svg onload="window.pwned=1">`

func TestReportInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	p := examplesProject(t)
	p.write("test_scripts/hostile.py", `import vpt, time
P = '''`+payload+`'''
print("output:", P)
print("\x1b[31mred\x1b[0m and a link javascript:alert(1)")
vpt.goto("live")
with vpt.step("step " + P):
    vpt.screenshot("shot " + P)
vpt.step(P, True, P)
vpt.metadata(payload=P, **{"key " + P: 1})
vpt.summary("summary " + P)
time.sleep(1)
vpt.fail("reason " + P)
`)
	p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "run", "hostile").expect(t, 1)
	res := p.only()
	wd := startBrowser(t)
	st := wd.load(t, filepath.Join(res.RunDir, "report.html"))
	wd.screenshot(t, "run-report.png")
	if st.Pwned {
		t.Fatal("script output ran in the report")
	}
	if len(st.BrokenImages) > 0 || st.Images < 5 {
		t.Fatalf("%d images, broken: %v", st.Images, st.BrokenImages)
	}
	if st.VideoError != "" || !(st.VideoDuration > 0) {
		t.Fatalf("video: duration %v, error %q", st.VideoDuration, st.VideoError)
	}
	if st.Steps < 3 || st.Markers != st.Steps || !st.ViewerOpens {
		t.Fatalf("page: %+v", st)
	}
	if errs := wd.consoleErrors(t); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
	if !strings.Contains(st.Title, "hostile") {
		t.Fatalf("title %q", st.Title)
	}
}

// campaignInspect reads what the campaign page shows once its script has
// rendered the entries.
const campaignInspect = `
var done = arguments[arguments.length - 1];
function bg(sel) { var e = document.querySelector(sel); return e ? getComputedStyle(e).backgroundColor : ""; }
var rows = Array.prototype.slice.call(document.querySelectorAll("#rows tr")).map(function (tr) {
  return { id: tr.id, text: tr.textContent, why: (tr.querySelector("td.why") || {}).textContent || "",
    links: Array.prototype.slice.call(tr.querySelectorAll("a.att")).map(function (a) { return a.getAttribute("href"); }) };
});
done({
  headers: Array.prototype.slice.call(document.querySelectorAll("table.entries th")).map(function (th) { return th.textContent; }),
  rows: rows,
  legend: Array.prototype.slice.call(document.querySelectorAll("#legend li")).map(function (li) { return li.textContent; }),
  flaky: bg("#rows .badge.st-flaky"), timeout: bg("#rows .badge.st-timeout"), failed: bg("#rows .badge.st-failed"),
  swatchFlaky: bg("#legend .swatch.st-flaky"), swatchTimeout: bg("#legend .swatch.st-timeout"),
  timelineHeight: document.getElementById("timeline").clientHeight
});`

type campaignPageState struct {
	Headers []string `json:"headers"`
	Rows    []struct {
		ID    string   `json:"id"`
		Text  string   `json:"text"`
		Why   string   `json:"why"`
		Links []string `json:"links"`
	} `json:"rows"`
	Legend        []string `json:"legend"`
	Flaky         string   `json:"flaky"`
	Timeout       string   `json:"timeout"`
	Failed        string   `json:"failed"`
	SwatchFlaky   string   `json:"swatchFlaky"`
	SwatchTimeout string   `json:"swatchTimeout"`
	Height        int      `json:"timelineHeight"`
}

// The campaign report says why each entry did not pass, with its
// parameters; flaky and timeout have colours of their own, the timeline a
// legend; a run's report links back to its campaign and its other attempts.
func TestCampaignReportInBrowser(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: page
name: Page
device: device1
script_configurations:
  - {script_name: ok}
  - {script_name: bad, name: the bad one}
  - {script_name: nap, parameters: {s: 0.1}}
  - {script_name: second_try, retries: 1}
  - {script_name: nap, parameters: {s: 5}, timeout: 1s}
`)
	p.vpt("campaign", "c.yaml").expect(t, 1)
	sum := p.campaignSummary(t)
	dir := filepath.Join(p.dir, "vpt-results", "campaigns", sum.Campaign.ExecutionID)
	wd := startBrowser(t)
	wd.call("POST", wd.s("/url"), map[string]string{"url": "file://" + filepath.Join(dir, "index.html")}, nil)
	var st campaignPageState
	wd.call("POST", wd.s("/execute/async"), map[string]any{"script": campaignInspect, "args": []any{}}, &st)
	wd.screenshot(t, "campaign-report.png")
	if strings.Join(st.Headers, ",") != "#,Test,Device,Status,Duration,Why,Attempts" || len(st.Rows) != 5 {
		t.Fatalf("headers %v, %d rows", st.Headers, len(st.Rows))
	}
	bad, nap, flaky, slow := st.Rows[1], st.Rows[2], st.Rows[3], st.Rows[4]
	if !strings.Contains(bad.Text, "the bad one") || !strings.Contains(bad.Why, "exit code 1") {
		t.Fatalf("the failed entry: %+v", bad)
	}
	if !strings.Contains(nap.Text, "nap[s=0.1]") || !strings.Contains(nap.Text, "s=0.1") || nap.Why != "" {
		t.Fatalf("the parametrised entry: %+v", nap)
	}
	if !strings.Contains(flaky.Why, "recovered from") || len(flaky.Links) != 2 || flaky.ID != "entry-4" {
		t.Fatalf("the flaky entry: %+v", flaky)
	}
	if !strings.Contains(slow.Why, "timeout") && !strings.Contains(slow.Why, "timed out") {
		t.Fatalf("the entry that timed out: %+v", slow)
	}
	if st.Flaky == "" || st.Timeout == "" || st.Flaky == st.Timeout || st.Flaky == st.Failed || st.Timeout == st.Failed {
		t.Fatalf("badge colours: flaky %q, timeout %q, failed %q", st.Flaky, st.Timeout, st.Failed)
	}
	if st.SwatchFlaky != st.Flaky || st.SwatchTimeout != st.Timeout || len(st.Legend) < 6 {
		t.Fatalf("legend %v: flaky %q timeout %q", st.Legend, st.SwatchFlaky, st.SwatchTimeout)
	}
	if errs := wd.consoleErrors(t); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}

	// The flaky entry's first attempt: its report links the campaign and
	// the attempt that passed.
	first := filepath.Join(dir, filepath.FromSlash(flaky.Links[0]))
	wd.call("POST", wd.s("/url"), map[string]string{"url": "file://" + first}, nil)
	var links struct {
		Campaign string   `json:"campaign"`
		Attempts []string `json:"attempts"`
	}
	wd.call("POST", wd.s("/execute/async"), map[string]any{"script": `var done = arguments[arguments.length - 1];
var c = document.getElementById("campaign-link");
done({campaign: c ? c.href : "", attempts: Array.prototype.slice.call(document.querySelectorAll(".attempts a")).map(function (a) { return a.href; })});`,
		"args": []any{}}, &links)
	if links.Campaign != "file://"+filepath.Join(dir, "index.html") {
		t.Fatalf("the run report links its campaign as %q", links.Campaign)
	}
	second := filepath.Join(dir, filepath.FromSlash(flaky.Links[1]))
	if len(links.Attempts) != 1 || links.Attempts[0] != "file://"+second {
		t.Fatalf("the run report links its other attempts as %v, want %s", links.Attempts, second)
	}
}
