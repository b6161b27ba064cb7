package executor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor/contain"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// prepared is what a run is made of before anything is recorded.
type prepared struct {
	id     string // of the run, chosen before its row exists
	dev    capture.DeviceConfig
	argv   []string
	python Interpreter // of a .py script
	ui     *ui.UI
}

// prepare checks the request: device, interpreter, userinterface. Its
// errors are the caller's (usage); nothing is recorded.
func (r *Runner) prepare(ctx context.Context, req Request) (prepared, error) {
	devCfg, err := r.Devices.Config(req.DeviceID)
	if err != nil {
		return prepared{}, err
	}
	argv, python, err := r.command(ctx, req)
	if err != nil {
		return prepared{}, err
	}
	p := prepared{id: store.NewID(), dev: devCfg, argv: argv, python: python}
	switch {
	case req.UserInterface != "":
		p.ui, err = r.UIs.Find(req.UserInterface)
	case devCfg.UserInterface != "":
		// The device's own: a mistake of its configuration.
		p.ui, err = r.UIs.Find(devCfg.UserInterface)
		err = capture.Field(devCfg.ID, "userinterface", err)
	}
	if err != nil {
		return prepared{}, err
	}
	return p, nil
}

// command is the script's argv: a .py script runs on the interpreter
// ResolveInterpreter finds (the project's venv first).
func (r *Runner) command(ctx context.Context, req Request) ([]string, Interpreter, error) {
	s := r.Settings
	python := Interpreter{Path: s.Python}
	if strings.HasSuffix(req.Script.Path, ".py") {
		var err error
		if python, err = ResolveInterpreter(ctx, s.Python, s.ProjectRoot); err != nil {
			return nil, Interpreter{}, err
		}
	}
	argv, err := Command(python.Path, req.Script, req.Args)
	return argv, python, err
}

func (r *Runner) spawnSupervisor() (*contain.Supervisor, error) {
	exe, err := r.supervisorExe()
	if err != nil {
		return nil, err
	}
	return contain.Spawn(exe)
}

func (r *Runner) supervisorExe() (string, error) {
	if exe := r.Settings.Supervisor; exe != "" {
		return exe, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding vpt's own binary to supervise the script: %w", err)
	}
	return exe, nil
}

// WarmSupervisor starts the supervisor of the next run of this binary
// ahead of it (see contain.Warm), once per process: a command calls it as
// soon as it knows it will run a script, so the supervisor boots while the
// configuration, the store and the device are opened.
var WarmSupervisor = sync.OnceFunc(func() {
	if exe, err := os.Executable(); err == nil {
		contain.Warm(exe)
	}
})

// lockDevice takes the device exclusively, waiting (unless NoWait) at most
// until the request's deadline.
func (r *Runner) lockDevice(ctx context.Context, p prepared, req Request) (*capture.Lock, error) {
	if !req.Deadline.IsZero() {
		if !time.Now().Before(req.Deadline) {
			return nil, ErrDeadline
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, req.Deadline, ErrDeadline)
		defer cancel()
	}
	how := " (use --no-wait to fail instead)"
	if req.CampaignID != "" {
		how = ", at most until the campaign's time limit"
	}
	lock, err := r.Devices.Lock(ctx, p.dev, !req.NoWait, "script "+req.Script.Name, func(holder string) {
		r.notice("device %s is busy (%s); waiting for it%s", p.dev.ID, holder, how)
	})
	switch {
	case err == nil:
		return lock, nil
	case errors.Is(context.Cause(ctx), ErrDeadline):
		return nil, fmt.Errorf("%w: device %s was busy until then", ErrDeadline, p.dev.ID)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w %s: %w", ErrWaitInterrupted, p.dev.ID, context.Cause(ctx))
	}
	return nil, err
}

// runState is one run in progress; the phases and the script API work on it.
type runState struct {
	r     *Runner
	req   Request
	p     prepared
	res   *store.Result
	dir   string
	start time.Time
	log   *slog.Logger
	ui    *ui.UI
	// unverified is a node navigation goes to without verifying it: the
	// one whose reference picture is being captured (it may be the broken
	// one being replaced). "" in runs.
	unverified string

	logFile *os.File
	ev      *outbox
	dev     capture.Device
	rec     capture.Recorder
	shots   *capture.Shots
	out     *sink
	api     *apiServer
	// apiCtx is the context of the script API's device work: it ends when
	// the script times out, is interrupted, or exits.
	apiCtx context.Context
	// videoStart is when the recorder had its first picture.
	videoStart time.Time
	end        Ending
	markers    Markers
	stopBeat   context.CancelFunc
	// seed is the device's random seed (capture.Seeded; 0: none).
	seed int64

	// scriptStart and scriptEnd: the script's time window.
	scriptStart, scriptEnd time.Time

	mu sync.Mutex
	// infra is the first infrastructure error of the run.
	infra    error
	lost     error // the device stopped answering (deviceLost)
	recErr   error // how the video recording ended, when it failed
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

// fail records an infrastructure error; the first one is the run's.
func (run *runState) fail(err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.infra == nil {
		run.infra = err
	}
}

func (run *runState) err() error {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.infra
}

// open creates the run folder, output.log and the store row.
func (r *Runner) open(ctx context.Context, p prepared, req Request, ev *outbox) (*runState, error) {
	s := r.Settings
	id := p.id
	dir, err := filepath.Abs(filepath.Join(s.ResultsDir, "runs", id))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w (choose another with --results-dir)", ErrResultsDir, err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, report.OutputLog), os.O_CREATE|os.O_RDWR|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w (choose another with --results-dir)", ErrResultsDir, err)
	}
	start := time.Now()
	res := newResult(id, s, req, p, dir, start)
	res.Parameters = nonNilStrings(r.masker().Strings(req.Args))
	started := ev.event(store.EventRunStarted, runData(p, req, dir))
	busy := ev.event(store.EventDeviceBusy, store.DeviceData{Script: req.Script.Name})
	if err := ev.rowWrite(func(evs ...store.Event) error { return r.Store.CreateResult(ctx, res, evs...) }, started, busy); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	run := &runState{r: r, req: req, p: p, res: res, dir: dir, start: start, ui: p.ui, logFile: logFile, ev: ev,
		log: r.log().With("run", id[:8])}
	if err := run.startOutput(); err != nil {
		run.fail(fmt.Errorf("%w: %w", ErrResultsDir, err))
	}
	run.heartbeat(ctx)
	if req.Started != nil {
		req.Started(res)
	}
	return run, nil
}

func newResult(id string, s Settings, req Request, p prepared, dir string, start time.Time) *store.Result {
	owner := store.ThisProcess()
	res := &store.Result{
		ID: id, TeamID: s.TeamID, ScriptName: req.Script.Name, ScriptType: req.Script.Name,
		ScriptPath: req.Script.Path, Parameters: nonNilStrings(req.Args), HostName: s.HostName,
		DeviceID: p.dev.ID, DeviceName: p.dev.Name, DeviceModel: p.dev.Model,
		Status: store.StatusRunning, StartedAt: start.UTC(), RunDir: dir,
		PID: owner.PID, PIDStart: owner.Start, Owner: owner.String(), HeartbeatAt: start.UTC(),
		Metadata: map[string]any{"device_id": p.dev.ID, "device_model": p.dev.Model},
	}
	p.python.Record(res.Metadata)
	if p.ui != nil {
		res.UserInterface = p.ui.Name
	}
	res.Details.CampaignID, res.Details.Attempt = req.CampaignID, req.Attempt
	if req.CampaignID != "" {
		res.Details.Entry = &req.Entry
	}
	return res
}

// startOutput follows output.log for the terminal, the tail and the markers.
func (run *runState) startOutput() error {
	s, req := run.r.Settings, run.req
	// The end of the output the report and JUnit show inline; the whole
	// of it is in output.log.
	tailBytes := report.TailBytes
	prefix := req.Prefix
	if prefix == "" && !req.Raw {
		prefix = "[" + req.Script.Name + "] "
	}
	run.out = newSink(NewTail(tailBytes), &markerScanner{publicURL: s.PublicURL}, run.r.terminal(prefix, req), &run.r.terminalMu)
	run.out.mask = run.r.masker()
	// vpt reads the file as the script writes it, through its own descriptor.
	logReader, err := os.Open(run.logFile.Name())
	if err != nil {
		return err
	}
	run.out.follow(run.logFile, logReader)
	return nil
}

// heartbeat keeps the row's heartbeat fresh while the run goes, so that
// other processes can tell a live run from an abandoned one.
func (run *runState) heartbeat(ctx context.Context) {
	run.stopBeat = store.Beat(ctx, func(ctx context.Context, now time.Time) {
		if err := run.r.Store.Heartbeat(ctx, []string{run.res.ID}, now); err != nil {
			run.log.Warn("heartbeat", "err", err)
		}
	})
}

// deviceOpening is the run's device, opened and checked while the run's
// row is written: neither needs the other, and the row waits on the disk.
type deviceOpening struct {
	done chan struct{}
	dev  capture.Device // nil when it could not be opened
	err  error
	took time.Duration
}

// openDevice starts opening the device, showing the run's userinterface,
// and checking it.
func (r *Runner) openDevice(ctx context.Context, p prepared) *deviceOpening {
	o := &deviceOpening{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		start := time.Now()
		o.dev, o.err = r.Devices.OpenWithUI(p.dev, p.ui)
		if o.err == nil {
			cctx, cancel := context.WithTimeout(ctx, deviceCheckTimeout)
			o.err = o.dev.Check(cctx)
			cancel()
		}
		o.took = time.Since(start)
	}()
	return o
}

// discard closes the device of a run that did not open.
func (o *deviceOpening) discard() {
	<-o.done
	if o.dev != nil {
		o.dev.Close()
	}
}

// device waits for the device the run opens and checks (openDevice).
func (run *runState) device(o *deviceOpening) {
	<-o.done
	run.dev = o.dev // closed with the run, even when its check failed
	if run.err() != nil {
		return
	}
	run.log.Debug("device opened and checked", "device", run.p.dev.ID, "took", o.took, "err", errText(o.err))
	if s, ok := o.dev.(capture.Seeded); ok {
		run.seed = s.Seed()
	}
	if o.err != nil {
		run.fail(fmt.Errorf("%w: %s: %w", ErrDevice, run.p.dev.ID, o.err))
	}
}

// capture starts the video and takes the initial screenshot.
func (run *runState) capture(ctx context.Context) {
	if run.err() != nil {
		return
	}
	s, dev := run.r.Settings, run.dev
	run.shots = capture.NewShots(run.dir, s.Shots)
	if s.Video != VideoOff && dev.Info().Has(capture.CapVideo) || run.recordsForCheck(dev) {
		videoDir := filepath.Join(run.dir, "video")
		if err := os.MkdirAll(videoDir, 0o755); err != nil {
			run.fail(fmt.Errorf("%w: %w", ErrResultsDir, err))
			return
		}
		// The recording lasts until the evidence phase stops it.
		rec, err := dev.StartVideo(context.WithoutCancel(ctx), videoDir, s.VideoOptions)
		if err != nil {
			run.fail(fmt.Errorf("%w: %w: video of %s: %w", ErrDevice, ErrCapture, run.p.dev.ID, err))
			return
		}
		run.rec, run.videoStart = rec, time.Now()
	}
	if s.AutoShots && dev.Info().Has(capture.CapScreenshot) {
		if _, err := run.screenshotLater(ctx, "initial"); err != nil {
			run.fail(fmt.Errorf("%w: %w: initial screenshot of %s: %w", ErrDevice, ErrCapture, run.p.dev.ID, err))
		}
	}
}

// child serves the script API and runs the script under its supervisor
// until it and everything it started have ended.
func (run *runState) child(ctx context.Context, sup *contain.Supervisor) {
	defer run.endOutput()
	if run.err() != nil {
		return
	}
	timeout := run.timeout()
	scriptCtx, cancelScript := context.WithTimeoutCause(ctx, timeout, ErrTimedOut)
	defer cancelScript()
	apiCtx, endAPI := context.WithCancel(scriptCtx)
	defer endAPI()
	run.apiCtx = apiCtx
	api, err := run.serveAPI()
	if err != nil {
		run.fail(fmt.Errorf("script API: %w", err))
		return
	}
	run.api = api
	stopLive := run.startLiveFrames(apiCtx)
	defer stopLive()
	// The API ends with the script itself: a process it left behind can
	// neither drive the device nor change the verdict while it is stopped.
	exited := func() {
		run.mu.Lock()
		run.ended = true
		run.mu.Unlock()
		endAPI()
		api.Close()
	}
	c := &child{sup: sup, argv: run.p.argv, env: run.environment(api.Address()), out: run.logFile, grace: run.grace(),
		kill: run.r.Kill, logf: run.note, exited: exited,
		// The report's first-use work, while vpt waits for the script.
		started: report.Prepare}
	run.scriptStart = time.Now()
	run.end, err = c.run(scriptCtx, timeout)
	run.scriptEnd = time.Now()
	endAPI()
	if err != nil {
		run.fail(fmt.Errorf("could not start %s: %w", run.p.argv[0], err))
	}
	if run.end.Leftovers > 0 {
		run.note("the script left %d process(es) running; vpt stopped them", run.end.Leftovers)
	}
}

func (run *runState) timeout() time.Duration {
	s, req := run.r.Settings, run.req
	timeout := s.Timeout
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	if !req.Deadline.IsZero() {
		if left := time.Until(req.Deadline); timeout <= 0 || left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	if timeout <= 0 {
		timeout = 100 * 365 * 24 * time.Hour
	}
	return timeout
}

func (run *runState) grace() time.Duration {
	if g := run.r.Settings.Grace; g > 0 {
		return g
	}
	return DefaultGrace
}

// endOutput reads the output to its end and closes the script API.
func (run *runState) endOutput() {
	if run.api != nil {
		run.api.Close()
	}
	if run.out != nil {
		run.out.stop()
		run.out.endLine()
	}
	run.mu.Lock()
	run.ended = true
	run.mu.Unlock()
}

// finaliseContext is the bounded budget of the work after the script: it
// does not end with the caller's context (the first Ctrl-C must still
// leave a complete record) but with the budget or the second Ctrl-C.
func (run *runState) finaliseContext(ctx context.Context) (context.Context, context.CancelFunc) {
	budget := run.r.Settings.FinaliseBudget
	if budget <= 0 {
		budget = DefaultFinaliseBudget
	}
	fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	if kill := run.r.Kill; kill != nil {
		go func() {
			select {
			case <-kill:
				cancel()
			case <-fin.Done():
			}
		}()
	}
	return fin, cancel
}

// evidence takes the final screenshot, stops the video, waits for the
// screenshots being written, and closes the device.
func (run *runState) evidence(ctx context.Context) {
	s := run.r.Settings
	if run.dev != nil && run.shots != nil && s.AutoShots && run.dev.Info().Has(capture.CapScreenshot) && ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, deviceCallTimeout)
		if _, err := run.screenshot(sctx, "final"); err != nil {
			run.evidenceError("final screenshot", err)
		}
		cancel()
	}
	if run.rec != nil {
		if err := run.rec.Stop(ctx); err != nil {
			run.note("video recording: %v", err)
			run.recErr = err
			run.deviceLost("video recording", err)
		}
	}
	if run.shots != nil {
		if err := run.shots.Wait(); err != nil {
			run.evidenceError("writing a screenshot", err)
		}
	}
	if run.dev != nil {
		run.dev.Close()
		run.dev = nil
	}
	run.markers = run.out.scanner.finish()
}

// evidenceError notes a failure to record evidence; one that comes from the
// results folder (a full or read-only disk) or from a device gone away
// is an infrastructure error.
func (run *runState) evidenceError(what string, err error) {
	run.log.Warn(what, "err", err)
	run.note("%s failed: %v", what, err)
	if isDiskError(err) {
		run.fail(fmt.Errorf("%w: %s: %w", ErrResultsDir, what, err))
	}
	run.deviceLost(what, err)
}

// deviceLost records a device that stopped answering during the run (it
// is unreachable, its capture gives no frames). A run that then fails
// ends in error instead (decide): it failed after its device went away,
// which is a failure of the lab, not a verdict on the software under test,
// and an agent takes the device out of its pool. A script that waited for
// its device to come back (a reboot test) and passed, passed.
func (run *runState) deviceLost(what string, err error) {
	if !errors.Is(err, capture.ErrUnreachable) && !errors.Is(err, capture.ErrStalled) {
		return
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.lost == nil {
		run.lost = fmt.Errorf("%w: %s stopped answering (%s): %w", ErrDevice, run.p.dev.ID, what, err)
	}
}

// isDiskError tells errors of the disk holding the results (full,
// read-only, not permitted) from others.
func isDiskError(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EIO)
}

// decide sets the result's status from the evidence (see Decide).
func (run *runState) decide() {
	res := run.res
	run.mu.Lock()
	defer run.mu.Unlock()
	closeOpenSteps(run.steps)
	if run.infra == nil && run.end.ExitCode != 0 && diskFull(run.dir) {
		// The script's own writes failed for want of space: not its fault.
		run.infra = fmt.Errorf("%w: the disk holding %s is full", ErrResultsDir, run.dir)
	}
	ev := Evidence{End: run.end, APIVerdict: run.verdict, APIReason: run.reason, Steps: run.steps,
		Markers: run.markers, Infra: run.infra, AV: res.Details.AV}
	v := Decide(ev)
	if run.infra == nil && run.lost != nil && v.Status == store.StatusFailed {
		run.infra, ev.Infra = run.lost, run.lost
		v = Decide(ev)
	}
	if run.infra == nil {
		code := run.end.ExitCode
		res.ExitCode = &code
	}
	res.Status, res.ErrorMsg, res.Details.VerdictSource = v.Status, v.Reason, v.Source
	res.Details.FailReason = v.Reason
	res.Success = v.Status == store.StatusPassed
	res.Details.ReportURL, res.Details.LogsURL = run.markers.ReportURL, run.markers.LogsURL
	res.Details.Summary = run.summary
	res.Details.Steps = run.steps
	res.Details.Screenshots = run.shotList
	if run.seed != 0 {
		res.Metadata["device_seed"] = run.seed
	}
	// The script's own keys; vpt's (the device, the interpreter, the
	// seed) are facts of the run, and keep vpt's values.
	for k, v := range run.meta {
		if _, own := res.Metadata[k]; !own {
			res.Metadata[k] = v
		}
	}
	run.ev.emit(store.EventRunVerdict, store.RunVerdict{Status: v.Status, Reason: v.Reason, Source: v.Source})
}

// closeOpenSteps fails the `with vpt.step()` blocks the script never ended.
func closeOpenSteps(steps []store.Step) {
	for i := range steps {
		if steps[i].Status == store.StatusRunning {
			steps[i].Status = store.StatusFailed
			steps[i].Error = cmp.Or(steps[i].Error, "the step did not finish: the script ended inside it")
			steps[i].DurationMs = time.Since(steps[i].StartedAt).Milliseconds()
		}
	}
}

// diskFull tells whether the filesystem holding dir has (almost) no room
// left: less than what a script needs to write a line and exit.
func diskFull(dir string) bool {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return false
	}
	return st.Bavail*uint64(st.Bsize) < 64<<10
}

// close releases what the run holds, on every path.
func (run *runState) close() {
	if run.stopBeat != nil {
		run.stopBeat()
	}
	if run.api != nil {
		run.api.Close()
	}
	if run.dev != nil {
		run.dev.Close()
	}
	if run.out != nil {
		run.out.stop()
	}
	run.logFile.Close()
}

// note writes one of vpt's own lines into the output (terminal and
// output.log), on a line of its own.
func (run *runState) note(format string, args ...any) {
	msg := run.r.masker().String(fmt.Sprintf(format, args...))
	run.log.Info(msg)
	run.out.note(notePrefix + msg)
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
