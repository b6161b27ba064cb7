package main

// vpt report serve in a real browser: Debian's chromium driven through
// the DevTools protocol (chromedp). Each page loads without a console
// error and runs none of the payloads a hostile script records; a run
// appears on the runs page and finishes there without a reload; a running
// run's page shows its output and its device's screen; the video plays.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a headless chromium with a fresh profile, and the errors its
// pages reported (console errors, uncaught exceptions, the browser log's
// errors: failed loads, refused by the Content-Security-Policy…).
type browser struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	needTools(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1600),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// errors returns and forgets the errors so far.
func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errs
	b.errs = nil
	return e
}

func (b *browser) navigate(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression, awaiting a promise it returns.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is true in the page.
func (b *browser) waitJS(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if eval[bool](t, b, "!!("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			html := eval[string](t, b, "document.getElementById('main') ? document.getElementById('main').innerText : document.body.innerText")
			t.Fatalf("waiting for %s: %s\npage:\n%s", what, expr, html)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// open loads a page and checks it: no payload ran, no error.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	b.navigate(t, url)
	b.waitJS(t, "the page", "document.readyState === 'complete'")
	// The stream is connected (the live badge turns on).
	b.waitJS(t, "the event stream", "document.getElementById('live').className === 'live'")
	b.checkClean(t, url)
}

func (b *browser) checkClean(t *testing.T, where string) {
	t.Helper()
	if eval[bool](t, b, "!!window.pwned || document.title === 'pwned' || !!document.querySelector('#main script, #main img[src=x]')") {
		t.Fatalf("%s: a recorded payload ran or became markup", where)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Fatalf("%s: console errors: %v", where, errs)
	}
}

func TestServeInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	p := examplesProject(t)
	p.write("test_scripts/hostile.py", `import vpt
P = '''`+payload+`'''
print("output:", P)
vpt.goto("live")
vpt.step("step " + P, True, P)
vpt.metadata(payload=P)
vpt.summary("summary " + P)
vpt.fail("reason " + P)
`)
	p.write("test_scripts/slow.py", `import time, vpt
print("slow starts", flush=True)
vpt.goto("live")
time.sleep(5)
vpt.step("waited", True)
print("slow ends", flush=True)
`)
	p.write("hostile.yaml", `campaign_id: hostile
name: "Nightly `+strings.ReplaceAll(payload, `"`, `\"`)+`"
device: [device1, device2]
execution_config: {parallel: true}
script_configurations:
  - {script_name: hostile}
  - {script_name: goto, parameters: {node: live}}
`)
	p.vptEnv([]string{"VPT_VIDEO_MODE=on"}, "run", "hostile").expect(t, 1)
	p.vpt("campaign", "hostile.yaml", "--execution-id", "campaign_exec_2_hostile").expect(t, 1)
	hostile := p.results()[2]
	url := p.serve(t, nil)
	b := newBrowser(t)

	for _, page := range []string{"/", "/runs/" + hostile.ID, "/campaigns", "/campaigns/campaign_exec_2_hostile", "/devices", "/trends"} {
		b.open(t, url+page)
	}
	// The payloads are there, as text.
	for _, page := range []string{"/runs/" + hostile.ID, "/campaigns/campaign_exec_2_hostile"} {
		b.open(t, url+page)
		if !eval[bool](t, b, "document.getElementById('main').innerText.indexOf('<svg onload=') >= 0") {
			t.Fatalf("%s does not show the recorded text", page)
		}
	}

	// The runs page: a run another process starts appears, then finishes,
	// without a reload.
	b.open(t, url+"/")
	eval[bool](t, b, "window.notReloaded = true")
	run, _ := p.background(t, []string{"VPT_VIDEO_MODE=on"}, "", "run", "slow")
	b.waitJS(t, "the run pinned as running", "document.querySelector('#running tr.run td:nth-child(2)') && document.querySelector('#running tr.run td:nth-child(2)').textContent === 'slow'")
	runID := eval[string](t, b, "document.querySelector('#running tr.run').getAttribute('data-run')")

	// Its page, while it runs: output, and the device's screen.
	b.open(t, url+"/runs/"+runID)
	eval[bool](t, b, "window.notReloaded = true")
	b.waitJS(t, "the live output", "document.getElementById('output') && document.getElementById('output').textContent.indexOf('slow starts') >= 0")
	b.waitJS(t, "a live frame", "(function(){var i=document.getElementById('frame'); return i && i.complete && i.naturalWidth === 480 && i.getAttribute('src').indexOf('?v=') > 0})()")
	// It ends on the page: the report and the video replace the live view.
	b.waitJS(t, "the finished run", "document.getElementById('status').textContent === 'passed' && document.getElementById('video')")
	if !eval[bool](t, b, "window.notReloaded === true") {
		t.Fatal("the run page was reloaded")
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("the run: %v", err)
	}
	b.checkClean(t, "the run page")

	// The video plays.
	eval[bool](t, b, "(function(){var v=document.getElementById('video'); v.muted=true; return v.play().then(function(){return true})})()")
	b.waitJS(t, "the video playing", "document.getElementById('video').currentTime > 0.3 && !document.getElementById('video').error")
	b.checkClean(t, "the video")

	// Back on the runs page, another run goes from running to finished
	// without a reload.
	b.open(t, url+"/")
	eval[bool](t, b, "window.notReloaded = true")
	run2, _ := p.background(t, nil, "", "run", "slow")
	b.waitJS(t, "the second run pinned", "document.querySelector('#running tr.run')")
	runID = eval[string](t, b, "document.querySelector('#running tr.run').getAttribute('data-run')")
	b.waitJS(t, "the second run finished in the list", fmt.Sprintf(
		"!document.querySelector('#running tr.run') && document.querySelector('#results tr[data-run=%q] .st').textContent === 'passed'", runID))
	if !eval[bool](t, b, "window.notReloaded === true") {
		t.Fatal("the runs page was reloaded")
	}
	events := eval[int](t, b, "window.vptEvents.length")
	if events < 3 {
		t.Fatalf("the page heard %d events", events)
	}
	run2.Wait()
	b.checkClean(t, "the runs page")
}

// A page a script leaves in its run folder is served inert: its script
// does not run and its form is not sent (it could have cancelled a
// campaign as the person browsing), while vpt's own report keeps its
// script, its screenshots and its theme button, in a sandbox of its own.
func TestServeRunFolderPages(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/leaves_page.py", `import os, vpt
vpt.goto("live")
open(os.path.join(os.environ["VPT_RESULTS_DIR"], "notes.html"), "w").write("""<!doctype html>
<title>notes</title><form id=f method=post action="/campaigns/x/cancel"></form>
<script>window.pwned = true; document.title = "pwned"; document.getElementById("f").submit();</script>""")
# Pages by other names and types: a script of the same origin, an
# extensionless page (sniffed as HTML), capitals, SVG.
for name, text in [("p.js", "window.pwned = true; document.title = 'pwned';"),
                   ("x.HTML", "<title>notes</title><script src=p.js></script>"),
                   ("noext", "<!doctype html><title>notes</title><script src=p.js></script>"),
                   ("evil.svg", "<svg xmlns='http://www.w3.org/2000/svg'><title>notes</title><script>window.pwned = true</script></svg>")]:
    open(os.path.join(os.environ["VPT_RESULTS_DIR"], name), "w").write(text)
`)
	p.vpt("run", "leaves_page").expect(t, 0)
	res := p.only()
	url := p.serve(t, nil)
	b := newBrowser(t)

	for _, page := range []string{"notes.html", "x.HTML", "noext", "evil.svg"} {
		b.navigate(t, url+"/files/runs/"+res.ID+"/"+page)
		b.waitJS(t, "the page", "document.readyState === 'complete'")
		time.Sleep(300 * time.Millisecond) // a form sent would have navigated by now
		if eval[bool](t, b, "!!window.pwned || document.title === 'pwned' || location.pathname.indexOf('/cancel') >= 0") {
			t.Fatalf("the script of %s, left in a run folder, ran", page)
		}
		b.errors() // the refused script is reported; that is the point
	}

	b.navigate(t, url+"/files/runs/"+res.ID+"/report.html")
	b.waitJS(t, "the report", "document.readyState === 'complete'")
	if origin := eval[string](t, b, "window.origin"); origin != "null" {
		t.Fatalf("the report runs with the server's origin %q, not in a sandbox", origin)
	}
	b.waitJS(t, "its screenshots", "(function () { var shown = Array.prototype.filter.call(document.images, function (i) { return i.getAttribute('src') });"+
		" return shown.length > 0 && shown.every(function (i) { return i.complete && i.naturalWidth > 0 }) })()")
	if !eval[bool](t, b, "document.getElementById('theme').click(), !!document.documentElement.dataset.theme") {
		t.Fatal("the report's script did not run")
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Fatalf("the report: console errors: %v", errs)
	}
}
