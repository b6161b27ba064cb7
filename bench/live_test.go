package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

// startServe starts vpt report serve on a free port of loopback and
// returns its URL and process.
func (p *proj) startServe(b *testing.B, storeURL string) (string, *exec.Cmd) {
	cmd := exec.Command(vptBin, "report", "serve", "--addr", "127.0.0.1:0", "--store", storeURL, "-q")
	cmd.Dir, cmd.Env = p.dir, p.env
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`serving (http://[0-9.:]+)/`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return m[1], cmd
		}
	}
	b.Fatal("vpt report serve did not start")
	return "", nil
}

// freshPostgres makes an empty database on the benchmark's server ("" when
// there is none).
func freshPostgres(b *testing.B) string {
	base := os.Getenv("VPT_TEST_POSTGRES")
	if base == "" {
		return ""
	}
	admin, err := postgres.Open(context.Background(), base)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("vpt_bench_%d", time.Now().UnixNano())
	if _, err := admin.SQL().Exec("CREATE DATABASE " + name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if a, err := postgres.Open(context.Background(), base); err == nil {
			a.SQL().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	i := strings.LastIndex(base, "/")
	q := ""
	if j := strings.Index(base[i:], "?"); j >= 0 {
		q = base[i+j:]
	}
	return base[:i+1] + name + q
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Issue "live": event latency from the runner's write (its commit) to a
// listener in a browser page of vpt report serve, p95 ≤ 250 ms on SQLite
// and ≤ 100 ms on PostgreSQL.
func BenchmarkEventLatency(b *testing.B) {
	if _, err := exec.LookPath("chromium"); err != nil {
		b.Skip("chromium not installed")
	}
	stores := map[string]string{}
	p := newProj(b)
	stores["sqlite"] = "sqlite://" + filepath.Join(p.dir, "vpt.db")
	if pg := freshPostgres(b); pg != "" {
		stores["postgres"] = pg
	}
	for name, url := range stores {
		st, err := store.Open(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		base, _ := p.startServe(b, url)
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath("/usr/bin/chromium"),
			chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.UserDataDir(b.TempDir()))
		ctx, cancel := chromedp.NewContext(actx)
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			b.Fatal(err)
		}
		for {
			on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('live').className === 'live'`))
			if on {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		const n = 200
		rng := rand.New(rand.NewSource(1))
		for i := 0; i < n; i++ {
			time.Sleep(time.Duration(20+rng.Intn(60)) * time.Millisecond)
			e := store.NewEvent(store.EventRunStep, store.RunStep{Number: i, Name: "bench"})
			e.RunID = "bench"
			if err := st.AppendEvents(context.Background(), e); err != nil {
				b.Fatal(err)
			}
		}
		var lat []float64
		deadline := time.Now().Add(10 * time.Second)
		for len(lat) < n && time.Now().Before(deadline) {
			lat, _ = chromedp.Run(ctx, chromedp.Evaluate[[]float64](`window.vptLatency`))
			time.Sleep(100 * time.Millisecond)
		}
		if len(lat) < n {
			b.Fatalf("%s: the page heard %d of %d events", name, len(lat), n)
		}
		b.ReportMetric(percentile(lat, 0.5), name+"-ms-p50")
		b.ReportMetric(percentile(lat, 0.95), name+"-ms-p95")
		cancel()
		cancelA()
		st.Close()
	}
}

// vmRSS is a process's resident memory now, in kB.
func vmRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// Issue "live": 50 SSE clients add at most 20 MB to the server's RSS.
func BenchmarkSSEClients(b *testing.B) {
	p := newProj(b)
	url := "sqlite://" + filepath.Join(p.dir, "vpt.db")
	st, err := store.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	base, cmd := p.startServe(b, url)
	get := func() {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
	}
	get()
	time.Sleep(time.Second)
	before := vmRSS(cmd.Process.Pid)
	var bodies []*http.Response
	for i := 0; i < 50; i++ {
		resp, err := http.Get(base + "/events")
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, resp)
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		e := store.NewEvent(store.EventRunStep, store.RunStep{Number: i, Name: "bench"})
		if err := st.AppendEvents(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	after := vmRSS(cmd.Process.Pid)
	for _, r := range bodies {
		r.Body.Close()
	}
	b.ReportMetric(float64(after-before)/1024, "MB-added-50-clients")
}

// Issue "live": the runs page's first byte with 100,000 stored results,
// at most 150 ms.
func BenchmarkRunsPage100k(b *testing.B) {
	p := newProj(b)
	db := filepath.Join(p.dir, "vpt.db")
	if out, err := exec.Command(loadBin, "-store", "sqlite://"+db, "-n", "100000", "-bulk").CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	base, _ := p.startServe(b, "sqlite://"+db)
	ttfb := func(path string) time.Duration {
		start := time.Now()
		resp, err := http.Get(base + path)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start) // headers: the first byte
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", path, resp.StatusCode)
		}
		return d
	}
	ttfb("/")
	for _, c := range []struct{ name, path string }{
		{"first", "/"}, {"script", "/?script=script_042"}, {"failed", "/?status=failed"},
		{"deep", "/?after=" + strconv.FormatInt(time.Now().Add(-90000*time.Minute).UnixNano(), 10) + "_0"},
	} {
		var d []time.Duration
		for i := 0; i < 20; i++ {
			d = append(d, ttfb(c.path))
		}
		b.ReportMetric(ms(median(d)), "ms-"+c.name)
	}
}

// Issue "live": events add at most 2 ms to vpt run (a no-op script, with
// and without the event log, alternated).
func BenchmarkEventsOverhead(b *testing.B) {
	p := newProj(b)
	p.write(b, "noop.py", "")
	p.timed(b, false, nil, vptBin, "run", "noop.py", "--video", "off", "-q")
	var with, without, cpuWith, cpuWithout []time.Duration
	for i := 0; i < 60; i++ {
		m := p.timed(b, false, nil, vptBin, "run", "noop.py", "--video", "off", "-q")
		with, cpuWith = append(with, m.wall), append(cpuWith, m.cpu)
		m = p.timed(b, false, nil, "env", "VPT_EVENTS=false", vptBin, "run", "noop.py", "--video", "off", "-q")
		without, cpuWithout = append(without, m.wall), append(cpuWithout, m.cpu)
	}
	b.ReportMetric(ms(median(with)), "ms-with-events")
	b.ReportMetric(ms(median(without)), "ms-without-events")
	b.ReportMetric(ms(median(with)-median(without)), "ms-added-by-events")
	b.ReportMetric(ms(median(cpuWith)-median(cpuWithout)), "ms-cpu-added-by-events")
	// The same, without the noise of whole processes: the store writes of
	// a no-op run (its row created and finished, and the screenshot the
	// outbox appends on its own) with their events and without.
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(p.dir, "writes.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	ev := func(t store.EventType) store.Event {
		e := store.NewEvent(t, store.RunData{Script: "noop", Device: "device1", RunDir: p.dir})
		e.RunID, e.DeviceID, e.HostName = "r", "device1", "h"
		return e
	}
	writes := func(events bool) time.Duration {
		start := time.Now()
		r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "noop", ScriptType: "noop", HostName: "h", DeviceID: "device1",
			DeviceName: "d", Status: store.StatusRunning, StartedAt: time.Now()}
		var evs []store.Event
		if events {
			evs = []store.Event{ev(store.EventRunQueued), ev(store.EventRunStarted), ev(store.EventDeviceBusy)}
		}
		if err := st.CreateResult(ctx, r, evs...); err != nil {
			b.Fatal(err)
		}
		if events {
			st.AppendEvents(ctx, ev(store.EventRunScreenshot))
			evs = []store.Event{ev(store.EventRunScreenshot), ev(store.EventRunVerdict), ev(store.EventRunFinished), ev(store.EventDeviceIdle)}
		}
		end := time.Now()
		r.Status, r.CompletedAt = store.StatusPassed, &end
		if err := st.UpdateResult(ctx, r, evs...); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var w, wo []time.Duration
	for i := 0; i < 300; i++ {
		w, wo = append(w, writes(true)), append(wo, writes(false))
	}
	b.ReportMetric(ms(median(w)-median(wo)), "ms-store-added-by-events")
}
