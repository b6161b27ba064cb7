// Package executor runs one script on one device and records what
// happened: the child process (its own process group, environment, merged
// output, timeout, signals), the verdict, the script API it serves, the
// device's screenshots and video, the run folder, and the store row.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Errors of a run that are not the script's fault.
var (
	// ErrResultsDir: the results folder cannot be written.
	ErrResultsDir = errors.New("results folder not writable")
	// ErrCapture: the device's screenshots or video failed.
	ErrCapture = errors.New("capture failed")
	// ErrStore: the results store failed during the run.
	ErrStore = errors.New("results store failed")
)

// Video modes.
const (
	VideoOn              = "on"
	VideoOff             = "off"
	VideoRetainOnFailure = "retain-on-failure"
)

// Settings are the run settings of a vpt process, from its configuration.
type Settings struct {
	ResultsDir  string
	Python      string // interpreter when the project has no venv
	ProjectRoot string
	TeamID      string
	HostName    string
	Timeout     time.Duration
	Grace       time.Duration
	// Video: on, off, retain-on-failure; VideoQuality: copy, low, medium, high.
	Video        string
	VideoQuality string
	VideoOptions capture.VideoOptions
	Shots        capture.ShotOptions
	// AutoShots takes a screenshot before the script starts and after it ends.
	AutoShots bool
	FFmpeg    string
	// Raw streams output without the [script] prefix; Quiet does not
	// stream it at all (it still goes to output.log).
	Raw, Quiet bool
	// WholeLines writes script output to the terminal a whole line at a
	// time (several runs stream at once).
	WholeLines bool
	// NoWait fails at once when the device is busy instead of waiting.
	NoWait    bool
	TailBytes int
	// PublicURL is the public bucket URL, to read upstream's upload log line.
	PublicURL string
	// BaseEnv is the environment scripts inherit (os.Environ()).
	BaseEnv []string
}

// Uploader copies a finished run folder to remote storage and fills the
// result's URLs. Run calls it after the result is final.
type Uploader interface {
	UploadRun(ctx context.Context, res *store.Result) error
}

// Runner runs scripts. One Runner serves a whole vpt process: one run, or
// every run of a campaign, several at once.
type Runner struct {
	Store    store.Store
	Devices  *capture.Registry
	UIs      ui.Library
	Settings Settings
	// Terminal receives the live output of scripts (nil: none).
	Terminal io.Writer
	// Notice receives vpt's own messages for the person at the terminal
	// (waiting for a device, timeouts); nil: Log only.
	Notice   func(format string, args ...any)
	Log      *slog.Logger
	Uploader Uploader
	// Stop asks runs to stop gracefully (first Ctrl-C); Kill at once.
	Stop, Kill <-chan struct{}

	terminalMu sync.Mutex
}

// Request is one run to make.
type Request struct {
	Script        Script
	Args          []string
	DeviceID      string
	UserInterface string
	// Timeout overrides the settings' timeout when positive.
	Timeout time.Duration
	// Deadline, when set, ends the run as a timeout at that time even if
	// its own timeout is longer (a campaign's overall limit).
	Deadline time.Time
	// Prefix of live output lines; default "[<script>] ".
	Prefix     string
	CampaignID string
	Attempt    int
	// Env adds variables to the script's environment.
	Env []string
}

// Run makes one run. Usage errors (unknown device, bad script) return an
// error and no result: nothing was recorded. Once the store row exists,
// Run always finalises it and returns the result; its error is then an
// infrastructure failure (status error) or nil. The script's own verdict
// is the result's status: passed, failed, timeout, interrupted.
func (r *Runner) Run(ctx context.Context, req Request) (*store.Result, error) {
	s := r.Settings
	devCfg, err := r.Devices.Config(req.DeviceID)
	if err != nil {
		return nil, err
	}
	python := s.Python
	if venv := filepath.Join(s.ProjectRoot, "venv", "bin", "python"); s.ProjectRoot != "" && isExecFile(venv) {
		python = venv
	}
	argv, err := Command(python, req.Script, req.Args)
	if err != nil {
		return nil, err
	}
	uiName := req.UserInterface
	if uiName == "" {
		uiName = devCfg.UserInterface
	}
	var nav *ui.UI
	if uiName != "" {
		if nav, err = r.UIs.Find(uiName); err != nil {
			return nil, err
		}
	}

	// The device, exclusively.
	lock, err := capture.AcquireLock(ctx, devCfg, !s.NoWait, "script "+req.Script.Name, func(holder string) {
		r.notice("device %s is busy (%s); waiting for it (use --no-wait to fail instead)", devCfg.ID, holder)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("interrupted while waiting for device %s: %w", devCfg.ID, err)
		}
		return nil, err
	}
	defer lock.Release()

	id := store.NewID()
	runsDir := filepath.Join(s.ResultsDir, "runs")
	dir := filepath.Join(runsDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w (choose another with --results-dir)", ErrResultsDir, err)
	}
	absDir, _ := filepath.Abs(dir)
	logFile, err := os.OpenFile(filepath.Join(dir, report.OutputLog), os.O_CREATE|os.O_RDWR|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w (choose another with --results-dir)", ErrResultsDir, err)
	}
	defer logFile.Close()
	// vpt reads the file as the script writes it, through its own descriptor.
	logReader, err := os.Open(logFile.Name())
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w (choose another with --results-dir)", ErrResultsDir, err)
	}

	pidStart, _ := store.ProcessStart(os.Getpid())
	start := time.Now()
	res := &store.Result{
		ID: id, TeamID: s.TeamID, ScriptName: req.Script.Name, ScriptType: req.Script.Name,
		ScriptPath: req.Script.Path, Parameters: nonNilStrings(req.Args), UserInterface: uiName,
		HostName: s.HostName, DeviceID: devCfg.ID, DeviceName: devCfg.Name, DeviceModel: devCfg.Model,
		Status: store.StatusRunning, StartedAt: start.UTC(), RunDir: absDir,
		PID: os.Getpid(), PIDStart: pidStart, HeartbeatAt: start.UTC(),
		Metadata: map[string]any{"device_id": devCfg.ID, "device_model": devCfg.Model},
	}
	res.Details.CampaignID, res.Details.Attempt = req.CampaignID, req.Attempt
	if err := r.Store.CreateResult(ctx, res); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	run := &runState{r: r, res: res, dir: absDir, start: start, ui: nav, log: r.log().With("run", id[:8])}
	return run.execute(ctx, req, devCfg, argv, logFile, logReader)
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (r *Runner) notice(format string, args ...any) {
	if r.Notice != nil {
		r.Notice(format, args...)
		return
	}
	r.log().Info(fmt.Sprintf(format, args...))
}

// runState is one run in progress; the script API works on it.
type runState struct {
	r     *Runner
	res   *store.Result
	dir   string
	start time.Time
	log   *slog.Logger
	ui    *ui.UI

	dev   capture.Device
	shots *capture.Shots
	out   *sink
	// videoStart is when the recorder had its first picture.
	videoStart time.Time

	mu       sync.Mutex
	verdict  *bool // from the script API
	reason   string
	summary  string
	steps    []store.Step
	shotList []store.Screenshot
	meta     map[string]any
	ended    bool
	nav      navState
	open     map[int]*openStep
	openN    int
}

func (run *runState) execute(ctx context.Context, req Request, devCfg capture.DeviceConfig, argv []string, logFile, logReader *os.File) (*store.Result, error) {
	r, s, res := run.r, run.r.Settings, run.res
	tailBytes := s.TailBytes
	if tailBytes <= 0 {
		tailBytes = DefaultTailBytes
	}
	prefix := req.Prefix
	if prefix == "" && !s.Raw {
		prefix = "[" + req.Script.Name + "] "
	}
	run.out = newSink(NewTail(tailBytes), &markerScanner{publicURL: s.PublicURL}, r.terminal(prefix, s), &r.terminalMu)
	run.out.follow(logFile, logReader)
	defer run.out.stop()

	// Keep the row's heartbeat fresh while the script runs, so that other
	// hosts sharing the store can tell a live run from an abandoned one.
	hbCtx, hbStop := context.WithCancel(context.Background())
	defer hbStop()
	go func() {
		t := time.NewTicker(store.HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case now := <-t.C:
				if err := r.Store.Heartbeat(hbCtx, []string{res.ID}, now); err != nil {
					run.log.Warn("heartbeat", "err", err)
				}
			}
		}
	}()

	var infraErr error
	var rec capture.Recorder
	videoDir := filepath.Join(run.dir, "video")
	// The device shows the run's userinterface (the virtual device renders it).
	dev, err := r.Devices.OpenWithUI(devCfg, run.ui)
	if err == nil {
		run.dev = dev
		defer dev.Close()
		err = dev.Check(ctx)
	}
	if err != nil {
		infraErr = fmt.Errorf("device %s: %w", devCfg.ID, err)
	} else {
		run.shots = capture.NewShots(run.dir, s.Shots)
		if s.Video != VideoOff && dev.Info().Has(capture.CapVideo) {
			if err := os.MkdirAll(videoDir, 0o755); err != nil {
				infraErr = fmt.Errorf("%w: %w", ErrResultsDir, err)
			} else if rec, err = dev.StartVideo(context.Background(), videoDir, s.VideoOptions); err != nil {
				infraErr = fmt.Errorf("%w: video of %s: %w", ErrCapture, devCfg.ID, err)
			} else {
				run.videoStart = time.Now()
			}
		}
		if infraErr == nil && s.AutoShots && dev.Info().Has(capture.CapScreenshot) {
			if _, err := run.screenshotLater(ctx, "initial"); err != nil {
				infraErr = fmt.Errorf("%w: initial screenshot of %s: %w", ErrCapture, devCfg.ID, err)
			}
		}
	}

	var end Ending
	var startErr error
	runDone := make(chan struct{})
	defer close(runDone)
	if infraErr == nil {
		api, err := run.serveAPI()
		if err != nil {
			infraErr = fmt.Errorf("script API: %w", err)
		} else {
			defer api.Close()
			env := run.environment(req, devCfg, api.Address())
			timeout := s.Timeout
			if req.Timeout > 0 {
				timeout = req.Timeout
			}
			if !req.Deadline.IsZero() {
				if left := time.Until(req.Deadline); timeout <= 0 || left < timeout {
					timeout = max(left, time.Millisecond)
				}
			}
			grace := s.Grace
			if grace <= 0 {
				grace = DefaultGrace
			}
			c := &child{argv: argv, env: env, out: logFile, timeout: timeout, grace: grace,
				stop: mergeDone(ctx.Done(), r.Stop, runDone), kill: r.Kill,
				logf: func(format string, args ...any) { run.note(format, args...) }}
			end, startErr = c.run()
			if startErr != nil {
				infraErr = fmt.Errorf("could not start %s: %w", argv[0], startErr)
			}
			if end.TimedOut {
				run.note("timed out after %s", timeout.Round(time.Millisecond))
			}
			if end.Leftovers {
				run.note("the script left processes running in its group; vpt stopped them")
			}
		}
	}
	run.out.stop()
	run.out.endLine()
	run.mu.Lock()
	run.ended = true
	run.mu.Unlock()

	// Evidence of the end state, then the video.
	if run.dev != nil && run.shots != nil && s.AutoShots && run.dev.Info().Has(capture.CapScreenshot) {
		if _, err := run.screenshot(context.Background(), "final"); err != nil {
			run.log.Warn("final screenshot", "err", err)
			run.note("final screenshot failed: %v", err)
		}
	}
	if rec != nil {
		if err := rec.Stop(context.Background()); err != nil {
			run.note("video recording: %v", err)
		}
	}

	if run.shots != nil {
		if err := run.shots.Wait(); err != nil {
			run.note("writing a screenshot failed: %v", err)
		}
	}
	markers := run.out.scanner.finish()
	run.verdict_(end, markers, infraErr)
	if rec != nil {
		run.finaliseVideo(videoDir)
	}
	now := time.Now()
	completed := now.UTC()
	res.CompletedAt = &completed
	res.ExecutionTimeMs = now.Sub(run.start).Milliseconds()
	res.HeartbeatAt = completed
	res.Details.OutputBytes = run.out.tail.Total()
	res.Details.OutputLines = markers.Lines
	if err := run.out.close(); err != nil {
		run.log.Warn("output.log", "err", err)
	}

	// Files first, then the row: a crash between the two leaves a running
	// row with complete files, which the next vpt marks abandoned.
	if err := report.WriteResultJSON(res); err != nil {
		run.log.Warn("result.json", "err", err)
	}
	if err := report.WriteRunReport(res, run.out.tail.Bytes()); err != nil {
		run.log.Warn("report.html", "err", err)
		run.note("report.html: %v", err)
	}
	storeErr := r.Store.UpdateResult(context.Background(), res)
	if storeErr != nil {
		storeErr = fmt.Errorf("%w: could not record the result: %v", ErrStore, storeErr)
	}
	if r.Uploader != nil && storeErr == nil {
		// A failed upload leaves every local file as it was and marks the
		// row pending; a successful one records the URLs.
		if err := r.Uploader.UploadRun(context.Background(), res); err != nil {
			res.UploadStatus = store.UploadPending
			r.notice("upload of run %s failed: %v (the run folder is intact; retry with: vpt report upload --pending)", res.ID[:8], err)
		}
		if err := r.Store.UpdateResult(context.Background(), res); err != nil {
			storeErr = fmt.Errorf("%w: could not record the upload: %v", ErrStore, err)
		}
	}
	updateLatest(r.Settings.ResultsDir, res.ID)
	if infraErr != nil {
		return res, infraErr
	}
	return res, storeErr
}

// verdict_ decides the result's status, in DESIGN.md's order: a timeout or
// interrupt; an infrastructure error; what the script reported through the
// script API; the last SCRIPT_SUCCESS line; the exit code.
func (run *runState) verdict_(end Ending, m Markers, infraErr error) {
	res := run.res
	run.mu.Lock()
	defer run.mu.Unlock()
	code := end.ExitCode
	if infraErr == nil {
		res.ExitCode = &code
	}
	res.Details.ReportURL, res.Details.LogsURL = m.ReportURL, m.LogsURL
	res.Details.Summary = run.summary
	res.Details.Steps = run.steps
	res.Details.Screenshots = run.shotList
	for k, v := range run.meta {
		res.Metadata[k] = v
	}
	failedStep := ""
	for i := range run.steps {
		if run.steps[i].Status == store.StatusRunning {
			run.steps[i].Status = store.StatusFailed
			run.steps[i].Error = firstNonEmpty(run.steps[i].Error, "the step did not finish: the script ended inside it")
			run.steps[i].DurationMs = time.Since(run.steps[i].StartedAt).Milliseconds()
		}
	}
	for _, st := range run.steps {
		// Steps the script declared fail the run; navigation steps and
		// verifications are the script's to judge (a goto that recovered
		// has a failed step and still arrived).
		if st.Kind == "step" && st.Status == store.StatusFailed && failedStep == "" {
			failedStep = fmt.Sprintf("step %d (%s) failed", st.Number, st.Name)
			if st.Error != "" {
				failedStep += ": " + st.Error
			}
		}
	}
	switch {
	case end.TimedOut:
		res.Status = store.StatusTimeout
		res.ErrorMsg = "timed out"
		if end.Killed {
			res.ErrorMsg += "; the script ignored SIGTERM and was killed"
		}
	case end.Interrupted:
		res.Status = store.StatusInterrupted
		res.ErrorMsg = "interrupted"
	case infraErr != nil:
		res.Status = store.StatusError
		res.ErrorMsg = infraErr.Error()
	case run.verdict != nil:
		res.Details.VerdictSource = "api"
		res.Status = passFail(*run.verdict)
		if !*run.verdict {
			res.ErrorMsg = firstNonEmpty(run.reason, failedStep, "the script reported failure")
		}
	case failedStep != "":
		res.Details.VerdictSource = "api"
		res.Status = store.StatusFailed
		res.ErrorMsg = failedStep
	case m.Success != nil:
		res.Details.VerdictSource = "marker"
		res.Status = passFail(*m.Success)
		if !*m.Success {
			res.ErrorMsg = "the script printed SCRIPT_SUCCESS:false"
		}
	default:
		res.Details.VerdictSource = "exit_code"
		res.Status = passFail(code == 0)
		if code != 0 {
			res.ErrorMsg = fmt.Sprintf("exit code %d", code)
			if end.Signal != 0 {
				res.ErrorMsg = fmt.Sprintf("killed by signal %d (%s)", end.Signal, end.Signal)
			}
		}
	}
	res.Details.FailReason = res.ErrorMsg
	res.Success = res.Status == store.StatusPassed
}

func passFail(ok bool) store.Status {
	if ok {
		return store.StatusPassed
	}
	return store.StatusFailed
}

// finaliseVideo turns the segments into video.mp4; with retain-on-failure a
// passed run keeps no video.
func (run *runState) finaliseVideo(videoDir string) {
	s := run.r.Settings
	v := &store.Video{State: "recorded", OffsetMs: run.videoStart.Sub(run.start).Milliseconds()}
	run.res.Details.Video = v
	if s.Video == VideoRetainOnFailure && run.res.Status == store.StatusPassed {
		v.State = "discarded"
		os.RemoveAll(videoDir)
		return
	}
	out := filepath.Join(run.dir, report.VideoMP4)
	if err := capture.Finalise(context.Background(), s.FFmpeg, videoDir, out, s.VideoQuality); err != nil {
		v.State, v.Error = "failed", err.Error()
		run.note("video: %v (segments kept in %s)", err, videoDir)
		return
	}
	v.Path, v.State = report.VideoMP4, "finalised"
	if st, err := os.Stat(out); err == nil {
		v.SizeBytes = st.Size()
	}
	v.DurationMs = time.Since(run.videoStart).Milliseconds()
	if d, err := capture.ProbeDuration(context.Background(), out); err == nil {
		v.DurationMs = d.Milliseconds()
	}
	os.RemoveAll(videoDir)
}

// screenshot takes, saves and records a screenshot.
func (run *runState) screenshot(ctx context.Context, label string) (store.Screenshot, error) {
	return run.takeScreenshot(ctx, label, false)
}

// screenshotLater takes a screenshot now and writes it in the background.
func (run *runState) screenshotLater(ctx context.Context, label string) (store.Screenshot, error) {
	return run.takeScreenshot(ctx, label, true)
}

func (run *runState) takeScreenshot(ctx context.Context, label string, later bool) (store.Screenshot, error) {
	if run.dev == nil || run.shots == nil {
		return store.Screenshot{}, fmt.Errorf("no device")
	}
	var shot capture.Shot
	if f, ok := run.dev.(capture.Freezer); ok && later {
		// The screen is taken now and drawn while the script starts.
		draw, size := f.Freeze()
		shot = run.shots.SaveLaterFrom(draw, size, label)
	} else {
		img, err := run.dev.Screenshot(ctx)
		if err != nil {
			return store.Screenshot{}, err
		}
		if later {
			shot = run.shots.SaveLater(img, label)
		} else if shot, err = run.shots.Save(img, label); err != nil {
			return store.Screenshot{}, err
		}
	}
	sc := store.Screenshot{Label: label, Path: shot.Path, Thumbnail: shot.Thumbnail, TakenAt: shot.TakenAt.UTC(),
		OffsetMs: shot.TakenAt.Sub(run.start).Milliseconds(), Width: shot.Width, Height: shot.Height}
	run.mu.Lock()
	run.shotList = append(run.shotList, sc)
	run.mu.Unlock()
	return sc, nil
}

// note writes one of vpt's own lines into the output (terminal and
// output.log), on a line of its own.
func (run *runState) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	run.log.Info(msg)
	run.out.note(notePrefix + msg)
}

// environment is the script's: the caller's, plus vpt's variables.
func (run *runState) environment(req Request, dev capture.DeviceConfig, control string) []string {
	s := run.r.Settings
	env := append([]string(nil), s.BaseEnv...)
	set := func(k, v string) { env = setEnv(env, k, v) }
	set("TEAM_ID", s.TeamID)
	if s.ProjectRoot != "" {
		set("PROJECT_ROOT", s.ProjectRoot)
	}
	set("PYTHONUNBUFFERED", "1")
	set("VPT_RUN_ID", run.res.ID)
	set("VPT_DEVICE", dev.ID)
	set("VPT_DEVICE_NAME", dev.Name)
	set("VPT_DEVICE_MODEL", dev.Model)
	set("VPT_USERINTERFACE", run.res.UserInterface)
	set("VPT_RESULTS_DIR", run.dir)
	set("VPT_SCRIPT", req.Script.Name)
	set("VPT_HOST", s.HostName)
	set("VPT_CONTROL", control)
	if exe, err := os.Executable(); err == nil {
		set("VPT_BIN", exe)
	}
	if req.Script.AIScriptName != "" {
		set("AI_SCRIPT_NAME", req.Script.AIScriptName)
	}
	if lib, err := PythonLibDir(); err == nil {
		pp := lib
		if old := getEnv(env, "PYTHONPATH"); old != "" {
			pp = lib + string(os.PathListSeparator) + old
		}
		set("PYTHONPATH", pp)
	} else {
		run.log.Warn("python library", "err", err)
	}
	for _, kv := range req.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	return env
}

func setEnv(env []string, k, v string) []string {
	prefix := k + "="
	for i, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			env[i] = prefix + v
			return env
		}
	}
	return append(env, prefix+v)
}

func getEnv(env []string, k string) string {
	prefix := k + "="
	for _, kv := range env {
		if strings.HasPrefix(kv, prefix) {
			return kv[len(prefix):]
		}
	}
	return ""
}

// terminal returns the writer for live output, or nil.
func (r *Runner) terminal(prefix string, s Settings) *prefixWriter {
	if r.Terminal == nil || s.Quiet {
		return nil
	}
	p := newPrefixWriter(r.Terminal, prefix)
	p.whole = s.WholeLines
	return p
}

// updateLatest points <results>/latest at the run, replacing the link
// atomically (a new link under a temporary name, renamed over the old).
func updateLatest(resultsDir, id string) {
	link := filepath.Join(resultsDir, "latest")
	tmp := link + ".tmp-" + id[:8]
	if err := os.Symlink(filepath.Join("runs", id), tmp); err != nil {
		return
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
	}
}

// mergeDone is closed when a or b is; its goroutine ends with quit.
func mergeDone(a, b, quit <-chan struct{}) <-chan struct{} {
	if b == nil {
		return a
	}
	out := make(chan struct{})
	go func() {
		select {
		case <-a:
		case <-b:
		case <-quit:
			return
		}
		close(out)
	}()
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
