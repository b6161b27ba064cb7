// Package executor runs one script on one device and records what
// happened: the child process (contained under a supervisor, its own
// process group, environment, output, timeout, signals), the verdict, the
// script API it serves, the device's screenshots and video, the run folder,
// and the store row.
//
// A run goes through named phases (run.go orchestrates them, phases.go
// holds them): prepare, lock the device, open the run (folder, output.log,
// store row), device, capture, API, child, evidence, verdict, persist, and
// publish. Cancellation has one model: the caller's context is the graceful
// stop (first Ctrl-C, a campaign stopping), Runner.Kill the immediate one;
// each run derives from it a script context (its timeout) and an API
// context that also ends when the script exits, so no device work outlives
// its script; finalisation runs on its own bounded budget.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/ocr"
	"github.com/vpt-dev/vpt/internal/secret"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// Errors of a run that are not the script's fault.
var (
	// ErrResultsDir: the results folder cannot be written.
	ErrResultsDir = errors.New("results folder not writable")
	// ErrDevice: the device could not be opened, did not answer, or its
	// screenshots or video failed. A campaign takes such a device out of its
	// pool.
	ErrDevice = errors.New("device failed")
	// ErrCapture: the device's screenshots or video failed (an ErrDevice).
	ErrCapture = errors.New("capture failed")
	// ErrStore: the results store failed during the run.
	ErrStore = errors.New("results store failed")
	// ErrDeadline: the run's deadline passed before its script could start
	// (a campaign's limit reached while waiting for a device). Nothing was
	// recorded.
	ErrDeadline = errors.New("deadline passed before the script started")
	// ErrWaitInterrupted: the caller's context ended (a Ctrl-C) while the
	// run waited for its device. The script did not start; nothing was
	// recorded.
	ErrWaitInterrupted = errors.New("interrupted while waiting for device")
	// ErrTimedOut and ErrInterrupted are the causes of a script context's
	// end: its timeout, or a graceful stop of the caller.
	ErrTimedOut    = errors.New("timed out")
	ErrInterrupted = errors.New("interrupted")
)

// Video modes.
const (
	VideoOn              = "on"
	VideoOff             = "off"
	VideoRetainOnFailure = "retain-on-failure"
)

// Budgets of the phases after the script. A run ends within its timeout,
// its grace, and DefaultFinaliseBudget (final screenshot, video, reports,
// store row); the store row and result.json get persistBudget of their own
// even when a second Ctrl-C cuts finalisation short.
const (
	DefaultFinaliseBudget = 2 * time.Minute
	persistBudget         = 30 * time.Second
	// deviceCallTimeout bounds one device call (a key press, a screenshot,
	// an adb command) so that a hung device cannot hold a run.
	deviceCallTimeout = 30 * time.Second
	// deviceCheckTimeout bounds the check that a device answers.
	deviceCheckTimeout = 15 * time.Second
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
	// FinaliseBudget bounds the work after the script (0: the default).
	FinaliseBudget time.Duration
	// Video: on, off, retain-on-failure; VideoQuality: copy, low, medium, high.
	Video        string
	VideoQuality string
	VideoOptions capture.VideoOptions
	Shots        capture.ShotOptions
	// AutoShots takes a screenshot before the script starts and after it ends.
	AutoShots bool
	FFmpeg    string
	FFprobe   string
	// AV: the recording check's detectors and limits.
	AV AVSettings
	// Tesseract reads text on screen (vpt.ocr, match_text, text
	// verifications) in OCRLanguages (default eng).
	Tesseract    string
	OCRLanguages []string
	// PublicURL is the public bucket URL, to read upstream's upload log line.
	PublicURL string
	// BaseEnv is the environment scripts inherit (os.Environ()).
	BaseEnv []string
	// Supervisor is the executable started as each script's supervisor
	// (package contain); "" means this executable.
	Supervisor string
	// SecretEnv names the variables of BaseEnv that hold vpt's own
	// secrets: scripts do not get them, except those in EnvPassthrough.
	SecretEnv, EnvPassthrough []string
	// Secrets are values masked wherever a run shows or records them
	// (internal/secret: 8 bytes or more, never inside a word).
	Secrets []string
	// NoEvents leaves the store's event log alone (events: false).
	NoEvents bool
	// LiveFrame is how often a running run writes the device's picture to
	// live.jpg in its folder, for live views (0: every second; negative:
	// never).
	LiveFrame time.Duration
}

// RunStore is what a run needs of the results store: its row, written
// with the events that describe each change, and the events between.
type RunStore interface {
	CreateResult(ctx context.Context, r *store.Result, evs ...store.Event) error
	UpdateResult(ctx context.Context, r *store.Result, evs ...store.Event) error
	Heartbeat(ctx context.Context, ids []string, at time.Time) error
	AppendEvents(ctx context.Context, evs ...store.Event) error
}

// Uploader copies a finished run folder to remote storage and fills the
// result's URLs. Run calls it after the result is final and its device is
// released; the row is already marked pending.
type Uploader interface {
	UploadRun(ctx context.Context, res *store.Result) error
}

// Runner runs scripts. One Runner serves a whole vpt process: one run, or
// every run of a campaign, several at once.
type Runner struct {
	Store    RunStore
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
	// Kill closes on the second Ctrl-C: scripts are killed at once and
	// finalisation is cut short. The first Ctrl-C is the cancellation of
	// the context given to Run.
	Kill <-chan struct{}

	terminalMu sync.Mutex
	maskOnce   sync.Once
	mask       *secret.Masker
	ocrOnce    sync.Once
	ocr        *ocr.Engine
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
	// its own timeout is longer (a campaign's overall limit); it also bounds
	// the wait for the device.
	Deadline time.Time
	// Prefix of live output lines; default "[<script>] ".
	Prefix     string
	CampaignID string
	// Entry is the index of the campaign entry (from 0) the run is an
	// attempt of; with CampaignID and Attempt it names the attempt, for
	// executors that run it elsewhere.
	Entry   int
	Attempt int
	// Env adds variables to the script's environment.
	Env []string
	// Raw streams output without the prefix; Quiet does not stream it.
	Raw, Quiet bool
	// WholeLines writes output to the terminal a whole line at a time
	// (several runs share it).
	WholeLines bool
	// NoWait fails at once when the device is busy instead of waiting.
	NoWait bool
	// Started, when set, hears of the run's row as soon as it exists
	// (a campaign links the run to itself then).
	Started func(res *store.Result)
	// Ended, when set, hears that the script has ended, before the run's
	// record is finished (a late Ctrl-C no longer stops it).
	Ended func()
	// CheckVideo and CheckAudio: after the script, check its part of the
	// run's recording for black and frozen picture, silent sound (a
	// campaign entry's check_video / check_audio); the run fails when a
	// stretch is longer than Settings.AV allows. The video is recorded
	// for the check even with video: off.
	CheckVideo, CheckAudio bool
}

// Run makes one run. Usage errors (unknown device, bad script) return an
// error and no result: nothing was recorded; so do ErrDeadline and a
// context that ended while waiting for the device. Once the store row
// exists, Run always finalises it and returns the result; its error is then
// an infrastructure failure (status error) or nil. The script's own verdict
// is the result's status: passed, failed, timeout, interrupted.
func (r *Runner) Run(ctx context.Context, req Request) (*store.Result, error) {
	p, err := r.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	// The supervisor (an idle one of this process's, or a new one that
	// boots while the device is locked and the run opened). Close gives it
	// back for the next run when its script ended on its own.
	sup, supErr := r.spawnSupervisor()
	if sup != nil {
		defer sup.Close()
	}
	ev := r.newOutbox(p.id, p, req)
	defer ev.close()
	ev.emit(store.EventRunQueued, runData(p, req, ""))
	lock, err := r.lockDevice(ctx, p, req)
	if err != nil {
		ev.emit(store.EventRunFinished, notRun(p, req, err))
		return nil, err
	}
	defer lock.Release()
	opening := r.openDevice(ctx, p)
	run, err := r.open(ctx, p, req, ev)
	if err != nil {
		opening.discard()
		return nil, err
	}
	defer run.close()
	if supErr != nil {
		run.fail(supErr)
	}
	run.device(opening)
	run.capture(ctx)
	run.child(ctx, sup)
	if req.Ended != nil {
		req.Ended()
	}
	fin, cancel := run.finaliseContext(ctx)
	defer cancel()
	run.evidence(fin)
	run.checkRecording(fin)
	run.decide()
	run.finaliseVideo(fin)
	run.persist(ctx)
	lock.Release()
	run.publish(ctx)
	return run.res, run.err()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) notice(format string, args ...any) {
	msg := r.masker().String(fmt.Sprintf(format, args...))
	if r.Notice != nil {
		r.Notice("%s", msg)
		return
	}
	r.log().Info(msg)
}
