// Package bench measures vpt against the baselines its goals name, side by
// side in one run: the interpreter alone, a script writing to a file, a
// shell loop, pytest-xdist, one-file-at-a-time uploads. Each benchmark runs
// its own repetitions (use -benchtime 1x) and reports the figures and their
// ratio with b.ReportMetric; bench/run prints them with the goals.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/hdmi"
	"github.com/vpt-dev/vpt/capture/virtual"
	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/report/artifact"
	"github.com/vpt-dev/vpt/report/upload"
)

var (
	vptBin, loadBin string
	// python is the interpreter both vpt and the baselines run: the real
	// binary, not a wrapper such as a pyenv shim that adds its own startup.
	python = envOr("VPT_BENCH_PYTHON", realPython())
)

func realPython() string {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "python3"
	}
	return strings.TrimSpace(string(out))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// go test ./... without -bench: nothing to build.
		os.Exit(m.Run())
	}
	dir, _ := os.MkdirTemp("", "vpt-bench-")
	vptBin, loadBin = filepath.Join(dir, "vpt"), filepath.Join(dir, "storeload")
	for out, pkg := range map[string]string{vptBin + ".built": "..", loadBin: "./storeload"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			panic(err)
		}
	}
	// Both binaries are measured as copies made here, the same way: how a
	// file came into the page cache (written by the linker, read from
	// disk, written by a copy) changes how much of it a process maps on
	// each fault, and with it the peak RSS, by 10 MB for a 43 MB binary,
	// while vpt's own memory is the same.
	copyBin(vptBin+".built", vptBin)
	if baseBin != "" {
		copyBin(baseBin, filepath.Join(dir, "vpt-base"))
		baseBin = filepath.Join(dir, "vpt-base")
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func copyBin(from, to string) {
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o755)
	}
	if err != nil {
		panic(err)
	}
}

// proj is a scratch folder with its own results and locks.
type proj struct {
	dir string
	env []string
}

func newProj(b *testing.B, extra ...string) *proj {
	dir := b.TempDir()
	env := append(os.Environ(), "VPT_LOCK_DIR="+filepath.Join(dir, ".locks"), "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"),
		"VPT_PYTHON="+python)
	return &proj{dir: dir, env: append(env, extra...)}
}

func (p *proj) write(b *testing.B, name, content string) string {
	path := filepath.Join(p.dir, name)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// measured is one timed command.
type measured struct {
	wall time.Duration
	cpu  time.Duration // user+system of it and the children it waited for
	peak int64         // peak RSS of the command itself (kB), when sampled
	out  string
}

// timed runs a command and measures it; stdout goes to out (nil: kept).
func (p *proj) timed(b *testing.B, sampleRSS bool, stdout *os.File, name string, args ...string) measured {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	var out bytes.Buffer
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = &out
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var peak int64
	done := make(chan struct{})
	if sampleRSS {
		go func() {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				if v := vmHWM(cmd.Process.Pid); v > peak {
					peak = v
				}
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
	}
	err := cmd.Wait()
	close(done)
	wall := time.Since(start)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			b.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return measured{wall: wall, cpu: cpu, peak: peak, out: out.String() + errb.String()}
}

// vmHWM is a process's peak resident memory in kB.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func needTool(b *testing.B, tools ...string) {
	b.Helper()
	testenv.NeedTools(b, tools...)
}

// Issue "vpt run": 10,000 start+finish pairs from 4 processes at once:
// no error, and the throughput. Issue "PostgreSQL": 1,000 from 4.
func BenchmarkStoreConcurrent(b *testing.B) {
	stores := map[string]string{"sqlite": "sqlite://" + filepath.Join(b.TempDir(), "vpt.db")}
	if pg := os.Getenv("VPT_TEST_POSTGRES"); pg != "" {
		stores["postgres"] = pg
	}
	for name, url := range stores {
		per := 2500
		if name == "postgres" {
			per = 250
		}
		p := newProj(b)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := exec.Command(loadBin, "-store", url, "-n", strconv.Itoa(per)).CombinedOutput()
				if err != nil {
					errs <- string(out)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			b.Fatalf("%s: %s", name, e)
		}
		_ = p
		b.ReportMetric(float64(4*per)/time.Since(start).Seconds(), name+"-pairs/s")
	}
}

// Issue "devices": a 10-second script with video on vs off: vpt adds at
// most 0.5 s, the recorder uses at most 25% of one core (10 fps, 720p).
func BenchmarkCaptureOverhead(b *testing.B) {
	needTool(b, "ffmpeg")
	p := newProj(b)
	p.write(b, "ten.py", "import time\ntime.sleep(10)\n")
	off := p.timed(b, false, nil, vptBin, "run", "ten.py", "--video", "off", "-q")
	on := p.timed(b, false, nil, vptBin, "run", "ten.py", "--video", "on", "-q")
	b.ReportMetric((on.wall - off.wall).Seconds(), "s-added")
	b.ReportMetric(100*(on.cpu-off.cpu).Seconds()/on.wall.Seconds(), "recorder-%core")
}

// Issue "devices": 10 minutes of segments to MP4 by remux in at most
// 1.5 s; the medium re-encode beside it.
func BenchmarkFinalise(b *testing.B) {
	needTool(b, "ffmpeg")
	dir := b.TempDir()
	gen := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=10",
		"-t", "600", "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
		"-hls_segment_filename", filepath.Join(dir, "seg_%05d.ts"), filepath.Join(dir, "index.m3u8"))
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	start := time.Now()
	if err := capture.Finalise(context.Background(), "ffmpeg", dir, filepath.Join(dir, "copy.mp4"), "copy"); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "s-remux-10min")
	if os.Getenv("VPT_BENCH_QUICK") == "" {
		start = time.Now()
		if err := capture.Finalise(context.Background(), "ffmpeg", dir, filepath.Join(dir, "medium.mp4"), "medium"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-medium-10min")
	}
}

// Issue "devices": screenshot latency: the virtual device at most 20 ms,
// the HDMI pipeline's latest frame at most 50 ms.
func BenchmarkScreenshotLatency(b *testing.B) {
	ctx := context.Background()
	shots := capture.NewShots(b.TempDir(), capture.ShotOptions{})
	measure := func(take func() (image.Image, error), between func(i int)) time.Duration {
		var d []time.Duration
		for i := 0; i < 40; i++ {
			if between != nil {
				between(i)
			}
			start := time.Now()
			img, err := take()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := shots.Save(img, "bench"); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		return median(d)
	}
	v := virtual.New(capture.DeviceConfig{ID: "v", Model: "virtual"}, nil, "ffmpeg")
	b.ReportMetric(ms(measure(func() (image.Image, error) { return v.Screenshot(ctx) }, nil)), "ms-virtual")
	// A screen unlike the one before (home and live TV in turn): nothing
	// of the last picture can be reused.
	b.ReportMetric(ms(measure(func() (image.Image, error) { return v.Screenshot(ctx) }, func(i int) {
		key := "OK"
		if i%2 == 1 {
			key = "HOME"
		}
		if err := v.Press(ctx, key); err != nil {
			b.Fatal(err)
		}
	})), "ms-virtual-new-screen")
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		h, err := hdmi.New(capture.DeviceConfig{ID: "h", Model: "stb", Video: "lavfi:testsrc2=size=1280x720:rate=10"}, capture.Environment{})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		h.Screenshot(ctx) // starts the pipeline
		b.ReportMetric(ms(measure(func() (image.Image, error) { return h.Screenshot(ctx) }, nil)), "ms-hdmi")
	}
}

// Issue "script API": a no-op call round trip at most 1 ms at the median;
// goto across a 50-node userinterface at most 100 ms plus its screenshots.
func BenchmarkScriptAPI(b *testing.B) {
	p := newProj(b)
	var nodes, edges strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&nodes, "  - {id: n%d, label: Screen %d}\n", i, i)
		if i > 0 {
			fmt.Fprintf(&edges, "  - {from: n%d, to: n%d, actions: [{action: press_key, key: RIGHT}]}\n", i-1, i)
		}
	}
	p.write(b, "userinterfaces/chain.yaml", "entry: n0\nnodes:\n"+nodes.String()+"edges:\n"+edges.String())
	p.write(b, "vpt.yaml", "devices: [{id: device1, name: V, model: virtual, userinterface: chain}]\n")
	p.write(b, "api.py", `import time, json, vpt
t = []
for _ in range(2000):
    s = time.perf_counter(); vpt.call("ping"); t.append(time.perf_counter() - s)
t.sort()
s = time.perf_counter(); r = vpt.goto("n49"); g = time.perf_counter() - s
print("RESULT", json.dumps({"ping_us": t[len(t)//2] * 1e6, "goto_ms": g * 1000, "steps": len(r["steps"])}))
`)
	out := p.timed(b, false, nil, vptBin, "run", "api.py", "--video", "off").out
	var r struct {
		PingUS float64 `json:"ping_us"`
		GotoMS float64 `json:"goto_ms"`
		Steps  int     `json:"steps"`
	}
	i := strings.Index(out, "RESULT ")
	if i < 0 {
		b.Fatalf("no result:\n%s", out)
	}
	json.Unmarshal([]byte(strings.SplitN(out[i+7:], "\n", 2)[0]), &r)
	res, err := report.ReadResultJSON(filepath.Join(p.dir, "vpt-results", "latest"))
	if err != nil {
		b.Fatal(err)
	}
	// Screenshots the goto took, at the measured cost of one.
	shots := 0
	for _, s := range res.Details.Screenshots {
		if s.Label != "initial" && s.Label != "final" {
			shots++
		}
	}
	b.ReportMetric(r.PingUS/1000, "ms-ping")
	b.ReportMetric(r.GotoMS, "ms-goto-49-steps")
	b.ReportMetric(float64(shots), "screenshots")
	// The same goto without its screenshots, in process: BenchmarkGoto in
	// executor/ (bench/run runs it).
}

// Issue "campaigns": 40 scripts sleeping 1 s on 4 virtual devices: at
// most 1.15x the ideal 10 s; pytest-xdist -n 4 on 40 such tests beside it.
func BenchmarkCampaignParallel(b *testing.B) {
	p := newProj(b, "VPT_VIDEO_MODE=off")
	p.write(b, "vpt.yaml", `devices:
  - {id: device1, name: A, model: virtual}
  - {id: device2, name: B, model: virtual}
  - {id: device3, name: C, model: virtual}
  - {id: device4, name: D, model: virtual}
`)
	p.write(b, "test_scripts/sleep1.py", "import time\ntime.sleep(1)\n")
	var entries, tests strings.Builder
	for i := 0; i < 40; i++ {
		entries.WriteString("  - {script_name: sleep1}\n")
		fmt.Fprintf(&tests, "def test_sleep_%02d():\n    time.sleep(1)\n\n", i)
	}
	p.write(b, "c.yaml", "campaign_id: par\nname: Parallel\ndevice: auto\nexecution_config: {parallel: true}\nscript_configurations:\n"+entries.String())
	p.write(b, "test_sleep.py", "import time\n\n"+tests.String())
	v := p.timed(b, false, nil, vptBin, "campaign", "c.yaml", "-q")
	b.ReportMetric(v.wall.Seconds(), "s-vpt")
	b.ReportMetric(v.wall.Seconds()/10, "ratio-to-ideal")
	if err := exec.Command("/usr/bin/python3", "-c", "import xdist").Run(); err == nil {
		x := p.timed(b, false, nil, "/usr/bin/python3", "-m", "pytest", "-q", "-n", "4", "-p", "no:cacheprovider", "test_sleep.py")
		b.ReportMetric(x.wall.Seconds(), "s-pytest-xdist")
	}
}

// Issue "upload": a run folder of 200 screenshots and a 50 MB video at
// least 4x faster than one file at a time in a single part each.
func BenchmarkUpload(b *testing.B) {
	ep := testenv.Server(b, "VPT_TEST_S3_ENDPOINT", "versitygw, an S3 server (bench/run starts it)")
	cfg := artifact.S3Config{Endpoint: ep, Bucket: os.Getenv("VPT_TEST_S3_BUCKET"), Region: "auto",
		AccessKeyID: os.Getenv("VPT_TEST_S3_ACCESS_KEY"), SecretAccessKey: os.Getenv("VPT_TEST_S3_SECRET_KEY"),
		PathStyle: true, Concurrency: 8, Presign: time.Hour}
	dir := filepath.Join(b.TempDir(), "runs", "0b5e4f6a-0000-4000-8000-000000000000")
	os.MkdirAll(filepath.Join(dir, "screenshots"), 0o755)
	rnd := newRand()
	var files []string
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("screenshots/%03d-shot.png", i)
		os.WriteFile(filepath.Join(dir, name), rnd.bytes(60_000), 0o644)
		files = append(files, name)
	}
	os.WriteFile(filepath.Join(dir, "video.mp4"), rnd.bytes(50<<20), 0o644)
	files = append(files, "video.mp4")

	// On loopback both sides share this machine's two cores, so the
	// round trip a real bucket adds (R2 is tens of milliseconds away) is
	// emulated too: the same comparison through a proxy that delays each
	// request by 20 ms.
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		endpoint := ep
		if rtt > 0 {
			endpoint = latencyProxy(b, ep, rtt)
		}
		base := uploadOneByOne(b, endpoint, cfg, dir, files)
		c := cfg
		c.Endpoint = endpoint
		st, err := artifact.NewS3(c)
		if err != nil {
			b.Fatal(err)
		}
		up := upload.New(st, upload.Options{Concurrency: c.Concurrency})
		res := benchResult(dir)
		start := time.Now()
		if err := up.UploadRun(context.Background(), res); err != nil {
			b.Fatal(err)
		}
		vpt := time.Since(start)
		suffix := ""
		if rtt > 0 {
			suffix = fmt.Sprintf("-rtt%dms", rtt.Milliseconds())
		}
		b.ReportMetric(base.Seconds(), "s-one-at-a-time"+suffix)
		b.ReportMetric(vpt.Seconds(), "s-vpt"+suffix)
		b.ReportMetric(base.Seconds()/vpt.Seconds(), "x-faster"+suffix)
	}
}

// uploadOneByOne is the baseline: the same SDK, one file after another,
// each in a single PUT.
func uploadOneByOne(b *testing.B, endpoint string, cfg artifact.S3Config, dir string, files []string) time.Duration {
	client := s3.New(s3.Options{Region: "auto", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
	start := time.Now()
	for _, f := range files {
		fh, _ := os.Open(filepath.Join(dir, f))
		st, _ := fh.Stat()
		_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(cfg.Bucket),
			Key: aws.String("baseline/" + f), Body: fh, ContentLength: aws.Int64(st.Size())})
		fh.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// latencyProxy forwards to target after a delay per request.
func latencyProxy(b *testing.B, target string, delay time.Duration) string {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}
