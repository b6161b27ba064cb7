package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue "fast by default": each figure beside the same one for the
// baseline binary (VPT_BENCH_BASE, bench/run builds it from main), measured
// interleaved in the same run. Without a baseline its figures are left out.
var baseBin = os.Getenv("VPT_BENCH_BASE")

func quick() bool { return os.Getenv("VPT_BENCH_QUICK") != "" }

// binaries are this tree's vpt and, when given, the baseline's, with the
// suffix of their metrics.
func binaries() [][2]string {
	out := [][2]string{{vptBin, ""}}
	if baseBin != "" {
		out = append(out, [2]string{baseBin, "-base"})
	}
	return out
}

// Target 1: vpt run noop.py --video off adds <= 10 ms without automatic
// screenshots, <= 15 ms with them.
func BenchmarkFastRun(b *testing.B) {
	p := newProj(b)
	p.write(b, "noop.py", "")
	bins := binaries()
	for _, bin := range bins {
		p.timed(b, false, nil, bin[0], "run", "noop.py", "--video", "off", "-q") // the store, the library
	}
	var py []time.Duration
	with, without := map[string][]time.Duration{}, map[string][]time.Duration{}
	n := 30
	if quick() {
		n = 15
	}
	for i := 0; i < n; i++ {
		py = append(py, p.timed(b, false, nil, python, "noop.py").wall)
		for _, bin := range bins {
			with[bin[1]] = append(with[bin[1]], p.timed(b, false, nil, bin[0], "run", "noop.py", "--video", "off", "-q").wall)
			without[bin[1]] = append(without[bin[1]], p.timed(b, false, nil, "env", "VPT_SCREENSHOTS_AUTO=false", bin[0], "run", "noop.py", "--video", "off", "-q").wall)
		}
	}
	b.ReportMetric(ms(median(py)), "ms-python")
	for _, bin := range bins {
		b.ReportMetric(ms(median(with[bin[1]])-median(py)), "ms-added"+bin[1])
		b.ReportMetric(ms(median(without[bin[1]])-median(py)), "ms-added-no-screenshots"+bin[1])
	}
}

// Target 2: 1 GiB of short lines and one 100 MiB line with the prefixed
// terminal output on: <= 1.05x the script writing to a file, < 50 MiB.
func BenchmarkFastStreaming(b *testing.B) {
	p := newProj(b)
	p.write(b, "short.py", `import sys
block = "".join("line %06d of a script's output, short\n" % i for i in range(1000))
data = block.encode()
out = sys.stdout.buffer
for _ in range((1 << 30) // len(data)):
    out.write(data)
`)
	p.write(b, "long.py", "import sys\nsys.stdout.buffer.write(b'x' * (100 << 20))\n")
	devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devnull.Close()
	rounds := 5
	if quick() {
		rounds = 3
	}
	bins := binaries()
	for _, s := range []string{"short", "long"} {
		var toFile []time.Duration
		runs, peak := map[string][]time.Duration{}, map[string]int64{}
		for round := 0; round < rounds; round++ {
			exec.Command("sync").Run()
			out := filepath.Join(p.dir, s+".out")
			file, _ := os.Create(out)
			toFile = append(toFile, p.timed(b, false, file, python, "-u", s+".py").wall)
			file.Close()
			os.Remove(out)
			for _, bin := range bins {
				exec.Command("sync").Run()
				v := p.timed(b, true, devnull, bin[0], "run", s+".py", "--video", "off")
				runs[bin[1]] = append(runs[bin[1]], v.wall)
				peak[bin[1]] = max(peak[bin[1]], v.peak)
				os.RemoveAll(filepath.Join(p.dir, "vpt-results", "runs"))
			}
		}
		b.ReportMetric(median(toFile).Seconds(), s+"-s-to-file")
		for _, bin := range bins {
			b.ReportMetric(median(runs[bin[1]]).Seconds()/median(toFile).Seconds(), s+"-ratio"+bin[1])
			b.ReportMetric(float64(peak[bin[1]])/1024, s+"-MiB-peak"+bin[1])
		}
	}
}

// Target 3: a 200-entry sequential campaign: <= 5 ms per entry beyond the
// shell loop with capture off, <= 12 ms with the automatic screenshots.
func BenchmarkFastCampaign(b *testing.B) {
	p := newProj(b, "VPT_VIDEO_MODE=off")
	const n = 200
	var entries strings.Builder
	for i := 0; i < n; i++ {
		p.write(b, fmt.Sprintf("test_scripts/noop_%03d.py", i), "")
		fmt.Fprintf(&entries, "  - {script_name: noop_%03d}\n", i)
	}
	p.write(b, "c.yaml", "campaign_id: seq\nname: Sequential\ndevice: device1\nscript_configurations:\n"+entries.String())
	rounds := 3
	if quick() {
		rounds = 1
	}
	var loop []time.Duration
	added := map[string][]time.Duration{}
	for r := 0; r < rounds; r++ {
		loop = append(loop, p.timed(b, false, nil, "sh", "-c", "for f in test_scripts/noop_*.py; do "+python+" \"$f\"; done").wall)
		for _, bin := range binaries() {
			for _, shots := range []string{"false", "true"} {
				key := bin[1]
				if shots == "true" {
					key = "-screenshots" + bin[1]
				}
				added[key] = append(added[key], p.timed(b, false, nil, "env", "VPT_SCREENSHOTS_AUTO="+shots, bin[0], "campaign", "c.yaml", "-q").wall)
			}
		}
	}
	b.ReportMetric(ms(median(loop))/n, "ms-per-entry-loop")
	for key, d := range added {
		b.ReportMetric((ms(median(d))-ms(median(loop)))/n, "ms-per-entry-added"+key)
	}
}

// Target 4: vpt report list at 100,000 and 1,000,000 results <= 50 ms; a
// campaign report of 10,000 entries <= 300 ms end to end.
func BenchmarkFastHistory(b *testing.B) {
	sizes := []int{100000, 1000000}
	if quick() {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		p := newProj(b)
		db := filepath.Join(p.dir, "vpt-results", "vpt.db")
		os.MkdirAll(filepath.Dir(db), 0o755)
		if out, err := exec.Command(loadBin, "-store", "sqlite://"+db, "-n", fmt.Sprint(size), "-bulk").CombinedOutput(); err != nil {
			b.Fatalf("%v %s", err, out)
		}
		d := map[string][]time.Duration{}
		for i := 0; i < 11; i++ {
			for _, bin := range binaries() {
				d[bin[1]] = append(d[bin[1]], p.timed(b, false, nil, bin[0], "report", "list").wall)
			}
		}
		for key, v := range d {
			b.ReportMetric(ms(median(v)), fmt.Sprintf("ms-list-%dk%s", size/1000, key))
		}
	}
	p := newProj(b)
	db := filepath.Join(p.dir, "vpt-results", "vpt.db")
	// Run folders are recorded relative to the results folder (a baseline
	// older than that reads them from the working directory).
	os.MkdirAll(filepath.Join(p.dir, "vpt-results", "runs", "bench-00000"), 0o755)
	os.MkdirAll(filepath.Join(p.dir, "runs", "bench-00000"), 0o755)
	cmd := exec.Command(loadBin, "-store", "sqlite://"+db, "-n", "10000", "-campaign")
	cmd.Dir = p.dir
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	d := map[string][]time.Duration{}
	for i := 0; i < 7; i++ {
		for _, bin := range binaries() {
			d[bin[1]] = append(d[bin[1]], p.timed(b, false, nil, bin[0], "report", "regenerate", id).wall)
		}
	}
	for key, v := range d {
		b.ReportMetric(ms(median(v)), "ms-campaign-report-10k"+key)
	}
}

// Target 5: recovery never holds a command up more than 100 ms. A run
// killed while recording (its video left as segments) is restored before
// each measured `vpt run noop.py`; what that run takes beyond the same run
// in a project with nothing to recover is what recovery held it up.
func BenchmarkFastRecovery(b *testing.B) {
	needTool(b, "ffmpeg")
	p := newProj(b)
	p.write(b, "slow.py", "import os, time\nopen('slow.pid', 'w').write(str(os.getpid()))\ntime.sleep(600)\n")
	p.write(b, "noop.py", "")
	cmd := exec.Command(vptBin, "run", "slow.py", "--video", "on")
	cmd.Dir, cmd.Env = p.dir, p.env
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		segs, _ := filepath.Glob(filepath.Join(p.dir, "vpt-results", "runs", "*", "video", "seg_*.ts"))
		if len(segs) >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// The script (in a process group of its own) goes too.
	if pid, err := os.ReadFile(filepath.Join(p.dir, "slow.pid")); err == nil {
		if n, err := strconv.Atoi(string(pid)); err == nil {
			syscall.Kill(n, syscall.SIGKILL)
		}
	}
	snap := filepath.Join(p.dir, "snap")
	if out, err := exec.Command("cp", "-a", filepath.Join(p.dir, "vpt-results"), snap).CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	clean := newProj(b)
	clean.write(b, "noop.py", "")
	rounds := 7
	if quick() {
		rounds = 3
	}
	after, plain := map[string][]time.Duration{}, map[string][]time.Duration{}
	for _, bin := range binaries() {
		clean.timed(b, false, nil, bin[0], "run", "noop.py", "--video", "off", "-q")
	}
	for r := 0; r < rounds; r++ {
		for _, bin := range binaries() {
			os.RemoveAll(filepath.Join(p.dir, "vpt-results"))
			if out, err := exec.Command("cp", "-a", snap, filepath.Join(p.dir, "vpt-results")).CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
			after[bin[1]] = append(after[bin[1]], p.timed(b, false, nil, bin[0], "run", "noop.py", "--video", "off", "-q").wall)
			plain[bin[1]] = append(plain[bin[1]], clean.timed(b, false, nil, bin[0], "run", "noop.py", "--video", "off", "-q").wall)
		}
	}
	for _, bin := range binaries() {
		b.ReportMetric(ms(median(after[bin[1]])-median(plain[bin[1]])), "ms-blocked"+bin[1])
	}
}
