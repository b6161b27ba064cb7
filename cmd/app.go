package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/vpt-dev/vpt/agent"
	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/report/artifact"
	"github.com/vpt-dev/vpt/report/upload"
	"github.com/vpt-dev/vpt/store"

	// Device drivers and stores, registered by scheme.
	_ "github.com/vpt-dev/vpt/capture/adb"
	_ "github.com/vpt-dev/vpt/capture/hdmi"
	_ "github.com/vpt-dev/vpt/capture/host"
	_ "github.com/vpt-dev/vpt/capture/virtual"
	_ "github.com/vpt-dev/vpt/store/postgres"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

// App holds what commands share, built lazily: `vpt version` and
// `vpt --help` never read the configuration or open the database.
type App struct {
	IO      *IOStreams
	Version string
	Environ []string
	// Kill closes on the second Ctrl-C/SIGTERM; the first cancels the
	// commands' context.
	Kill <-chan struct{}

	// Global flags.
	configPath string
	verbose    int
	quiet      bool
	jsonOut    bool

	// flags are the flags of the command that runs, set once before it
	// runs (root's PersistentPreRun); Config decodes with them.
	flags *pflag.FlagSet
	// commandPath is the command that runs ("vpt campaign"), for messages.
	commandPath string
	// stopMsg is what the first Ctrl-C says for that command.
	stopMsg atomic.Pointer[string]
	// scriptEnded: the script of `vpt run` has ended, and a Ctrl-C now
	// only shortens the finishing of its record.
	scriptEnded atomic.Bool

	cfg   *Config
	store store.Store
	// emptyStore is the folder of the empty database a reading command
	// opened where none exists yet (see readOnlyCommands), removed on Close.
	emptyStore string
	log        *slog.Logger
	lab        *agent.Coordinator
	// background stops and waits for the finalisation of abandoned runs'
	// videos that Recover started (nil: none).
	background func()
}

// flagKeys binds configuration keys to the flags that set them.
var flagKeys = map[string]string{
	"results_dir":    "results-dir",
	"store":          "store",
	"timeout":        "timeout",
	"video.mode":     "video",
	"upload.enabled": "upload",
	"python":         "python",
	"grace":          "grace",
}

// Config decodes the configuration, once, with the flags of the command
// that runs. Only the commands that need it call it: `vpt version` and
// `vpt --help` work beside a broken vpt.yaml.
func (a *App) Config() (*Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	flags := a.flags
	if flags == nil {
		flags = pflag.NewFlagSet("vpt", pflag.ContinueOnError)
	}
	cfg, err := loadConfig(a.configPath, flags, flagKeys, a.Environ)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	log := a.Log()
	for _, l := range cfg.Layers {
		log.Debug("config: " + l)
	}
	log.Debug("config: in use", "scripts_dir", cfg.ScriptsDir, "userinterfaces_dir", cfg.UserInterfacesDir,
		"results_dir", cfg.ResultsDir, "store", store.Redact(cfg.Store), "devices", len(cfg.Devices))
	for _, n := range cfg.EnvNotes {
		if n.Ignored {
			a.Log().Warn(n.Msg)
		} else {
			a.Log().Info(n.Msg)
		}
	}
	return cfg, nil
}

// Log is the diagnostics logger (stderr; -v for info, -vv for debug).
func (a *App) Log() *slog.Logger {
	if a.log == nil {
		level := slog.LevelWarn
		switch {
		case a.quiet:
			level = slog.LevelError
		case a.verbose == 1:
			level = slog.LevelInfo
		case a.verbose > 1:
			level = slog.LevelDebug
		}
		a.log = slog.New(newLogHandler(a.IO.Err, level))
	}
	return a.log
}

// Notice prints a message for the person at the terminal on stderr.
func (a *App) Notice(format string, args ...any) {
	if a.quiet {
		return
	}
	fmt.Fprintf(a.IO.Err, "vpt: "+format+"\n", args...)
}

// batchRunner is the runner of the commands that run many scripts
// (campaign, agent), its store, and what dead vpt processes left
// recovered. Script output is not streamed unless asked (each run keeps it
// in its folder); with --stream runs share stderr a line at a time.
func (a *App) batchRunner(ctx context.Context, stream bool) (*executor.Runner, store.Store, error) {
	var terminal io.Writer
	if stream && !a.quiet {
		terminal = a.IO.Err
	}
	runner, err := a.Runner(ctx, terminal)
	if err != nil {
		return nil, nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, nil, err
	}
	return runner, st, a.Recover(ctx, true)
}

// ConfigAndStore is the configuration and the store, for the commands
// that read both.
func (a *App) ConfigAndStore(ctx context.Context) (*Config, store.Store, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, nil, err
	}
	st, err := a.Store(ctx)
	return cfg, st, err
}

// Store opens the results store, once.
func (a *App) Store(ctx context.Context) (store.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	url := cfg.Store
	if empty, ok := a.noDatabaseYet(url); ok {
		url = empty
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	log := a.Log()
	log.Debug("store opened", "url", store.Redact(cfg.Store), "took", time.Since(start))
	if l, ok := st.(interface{ SetLog(*slog.Logger) }); ok && log.Enabled(ctx, slog.LevelDebug) {
		l.SetLog(log)
	}
	if !cfg.Events {
		st = store.WithoutEvents(st)
	}
	// Rows record run folders relative to the results folder, so that a
	// moved or copied one (a CI artifact) keeps working; in a store hosts
	// share, as absolute paths of the host that has them.
	st = store.Rooted(st, cfg.ResultsDir, isPostgres(cfg.Store))
	a.store = st
	return st, nil
}

// Recover finishes the runs and campaigns of vpt processes that died (see
// executor.Recover and campaign.Recover), and says which. The video they
// left as segments (ffmpeg: seconds) is noted as pending; with video (the
// commands that run scripts) it is finalised in the background of the
// command, which never waits for it: Close stops it, and the next such
// command takes it up again.
func (a *App) Recover(ctx context.Context, video bool) error {
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	o := recoverOptions(cfg, video)
	runs, err := executor.Recover(ctx, st, o)
	if err != nil {
		a.Log().Warn("recovering abandoned runs", "err", err)
	}
	for _, r := range runs {
		if r.FromFiles {
			a.Notice("run %s (%s on %s) had finished but its row had not been updated; recorded it as %s from its result.json", r.ID[:8], r.ScriptName, r.DeviceID, r.Status)
			continue
		}
		then := ""
		if r.VideoPending && video {
			then = "; finalising its video in the background (else the next run or campaign will, or vpt report finalise now)"
		} else if r.VideoPending {
			then = "; the next run or campaign will finalise its video (vpt report finalise does it now)"
		}
		a.Notice("run %s (%s on %s) was abandoned by a vpt process that died; marked abandoned%s", r.ID[:8], r.ScriptName, r.DeviceID, then)
	}
	if video {
		a.finaliseInBackground(st, o)
	}
	camps, err := campaign.Recover(ctx, st, cfg.ResultsDir)
	if err != nil {
		a.Log().Warn("recovering abandoned campaigns", "err", err)
	}
	for _, c := range camps {
		a.Notice("campaign %s (%s) was abandoned by a vpt process that died; marked abandoned, report written", c.ExecutionID, c.Name)
	}
	return nil
}

// recoverOptions are the settings of recovery and of the finalising of
// the videos it leaves pending.
func recoverOptions(cfg *Config, video bool) executor.RecoverOptions {
	return executor.RecoverOptions{FFmpeg: cfg.Tools.FFmpeg, Quality: cfg.Video.Quality, Video: video,
		Pending: executor.PendingDir(cfg.ResultsDir)}
}

// Registry builds the device registry from the configuration, and returns
// that configuration too (the commands that need one need the other).
func (a *App) Registry() (*Config, *capture.Registry, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, nil, err
	}
	lib := ui.Library{Dir: cfg.UserInterfacesDir}
	env := capture.Environment{
		UserInterfaces: lib.Find,
		FFmpeg:         cfg.Tools.FFmpeg, ADB: cfg.Tools.ADB, IRCtl: cfg.Tools.IRCtl, IRSend: cfg.Tools.IRSend,
		XDoTool: cfg.Tools.XDoTool, LockDir: cfg.LockDir,
	}
	if cfg.KeymapsDir != "" {
		env.KeymapDirs = []string{cfg.KeymapsDir}
	}
	reg, err := capture.NewRegistry(cfg.Devices, env)
	if err != nil {
		return nil, nil, &configError{err}
	}
	return cfg, reg, nil
}

// Runner builds the script runner (with the uploader when uploads are on).
func (a *App) Runner(ctx context.Context, terminal io.Writer) (*executor.Runner, error) {
	cfg, reg, err := a.Registry()
	if err != nil {
		return nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	secrets := cfg.secrets(a.Environ)
	runner := &executor.Runner{
		Store: st, Devices: reg, UIs: ui.Library{Dir: cfg.UserInterfacesDir},
		Settings: executor.Settings{
			ResultsDir: cfg.ResultsDir, Python: cfg.Python, ProjectRoot: cfg.ProjectRoot,
			TeamID: cfg.TeamID, HostName: cfg.HostName, Timeout: cfg.Timeout, Grace: cfg.Grace,
			Video: cfg.Video.Mode, VideoQuality: cfg.Video.Quality,
			VideoOptions: capture.VideoOptions{FPS: cfg.Video.FPS, SegmentSeconds: cfg.Video.Segment},
			Shots:        capture.ShotOptions{Format: cfg.Screenshots.Format, Quality: cfg.Screenshots.Quality},
			AutoShots:    cfg.Screenshots.Auto,
			FFmpeg:       cfg.Tools.FFmpeg, FFprobe: cfg.Tools.FFprobe, PublicURL: cfg.Upload.PublicURL, BaseEnv: a.Environ,
			AV: cfg.AV.AVSettings(), Tesseract: cfg.Tools.Tesseract, OCRLanguages: cfg.OCR.Languages,
			SecretEnv: secrets.Vars, EnvPassthrough: cfg.EnvPassthrough, Secrets: secrets.Values,
			NoEvents: !cfg.Events,
		},
		Terminal: terminal,
		Notice:   a.Notice,
		Log:      a.Log(),
		Kill:     a.Kill,
	}
	if cfg.Upload.Enabled {
		up, err := a.Uploader(ctx)
		if err != nil {
			return nil, err
		}
		runner.Uploader = up
	}
	return runner, nil
}

// Resolver finds scripts as the configuration says.
func (a *App) Resolver(cfg *Config) executor.Resolver {
	return executor.Resolver{Dir: cfg.ScriptsDir, AIExecutor: cfg.AIExecutor}
}

// Close releases what was opened.
// finaliseInBackground finalises the videos of abandoned runs while the
// command does its own work: ffmpeg may take seconds, which no command
// should wait for. Close stops it; what is left is finished by the next
// run or campaign.
func (a *App) finaliseInBackground(st store.Store, o executor.RecoverOptions) {
	if a.background != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := executor.FinalisePending(ctx, st, o, func(r *store.Result) {
			if v := r.Details.Video; v != nil && v.State == "failed" {
				a.Log().Warn("could not finalise the video of an abandoned run", "run", r.ID[:8], "err", v.Error)
				return
			}
			a.Log().Info("finalised the video of an abandoned run", "run", r.ID[:8])
		})
		if err != nil {
			a.Log().Warn("finalising abandoned runs' videos", "err", err)
		}
	}()
	a.background = func() {
		cancel()
		<-done
	}
}

func (a *App) Close() {
	if a.background != nil {
		a.background()
	}
	if a.lab != nil {
		a.lab.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
	if a.emptyStore != "" {
		os.RemoveAll(a.emptyStore)
	}
}

// readOnlyCommands only read the results.
var readOnlyCommands = map[string]bool{"vpt report list": true, "vpt report show": true, "vpt report open": true,
	"vpt report campaigns": true, "vpt report trends": true}

// noDatabaseYet gives, for a command that only reads, an empty database
// in a folder of its own when url is a SQLite file that does not exist:
// vpt report list in the wrong folder says there are no results and
// leaves no vpt-results folder behind.
func (a *App) noDatabaseYet(url string) (string, bool) {
	path, ok := strings.CutPrefix(url, "sqlite://")
	if !ok || !readOnlyCommands[a.commandPath] {
		return "", false
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	dir, err := os.MkdirTemp("", "vpt-empty-")
	if err != nil {
		return "", false
	}
	a.emptyStore = dir
	return "sqlite://" + filepath.Join(dir, "vpt.db"), true
}

func environ() []string { return os.Environ() }

// Uploader builds the uploader from the upload settings: an S3 bucket, or
// a folder when upload.endpoint is a file:// URL.
func (a *App) Uploader(ctx context.Context) (*upload.Uploader, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	u := cfg.Upload
	var st artifact.Store
	if dir, ok := strings.CutPrefix(u.Endpoint, "file://"); ok {
		if st, err = artifact.NewFolder(dir, u.PublicURL); err != nil {
			return nil, fmt.Errorf("%w: %s", upload.ErrFailed, artifact.Reason(err))
		}
	} else {
		st, err = artifact.NewS3(artifact.S3Config{
			Endpoint: u.Endpoint, Bucket: u.Bucket, Region: u.Region, AccessKeyID: u.AccessKeyID,
			SecretAccessKey: u.SecretAccessKey, PublicURL: u.PublicURL, Presign: u.Presign,
			Concurrency: u.Concurrency, PathStyle: u.PathStyle,
		})
		if err != nil {
			// NewS3 reaches nothing: what it refuses is the settings.
			return nil, &configError{fmt.Errorf("upload: %s (set upload: in vpt.yaml or the CLOUDFLARE_R2_* variables)", artifact.Reason(err))}
		}
	}
	if log := a.Log(); log.Enabled(ctx, slog.LevelDebug) {
		st = loggedArtifacts{st, log}
	}
	opt := upload.Options{Prefix: u.Prefix, Concurrency: u.Concurrency, Timeout: u.Timeout,
		Secrets: []string{u.SecretAccessKey, u.AccessKeyID}}
	opt.Waiting = func(r *store.Result) {
		a.Notice("run %s: another vpt is uploading it; waiting for it to end", shortID(r.ID))
	}
	if a.IO.Interactive() && !a.quiet && !a.jsonOut {
		opt.Progress = uploadProgress(a.IO.Err)
	}
	return upload.New(st, opt), nil
}
