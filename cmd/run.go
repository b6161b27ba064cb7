package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/report/notify"
	"github.com/vpt-dev/vpt/store"
)

type runOptions struct {
	Script        string
	ScriptArgs    []string
	Params        []string
	Device        string
	UserInterface string
	Timeout       time.Duration
	Raw           bool
	NoWait        bool
	JUnit         string
	Notify        notifyOptions
	CheckVideo    bool
	CheckAudio    bool
}

func newRunCmd(app *App) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run SCRIPT [flags] [-- SCRIPT-ARGS...]",
		Short: "Run one script on one device",
		Long: `Run one script on one device, streaming its output, and record the run: a folder
with output.log, screenshots, video.mp4, report.html and result.json, and a row
in the results store.

SCRIPT is a name in the scripts folder (.py optional, subfolders allowed:
gw/smartping) or a path to a script file. Arguments after -- go to the script
as they are; -p key=value becomes --key value (the bare value, for a positional
parameter), checked first against what the script declares (vpt scripts).`,
		Example: `  vpt run goto --device device1 -- --node live
  vpt run examples/test_scripts/hello.py
  vpt run validation -p max-iteration=5 --timeout 10m --json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			executor.WarmSupervisor()
			dash := cmd.ArgsLenAtDash()
			before := args
			if dash >= 0 {
				before, opts.ScriptArgs = args[:dash], args[dash:]
			}
			switch {
			case len(before) == 0:
				return &usageError{msg: "vpt run needs a script", hint: "vpt run SCRIPT [-- ARGS]; list scripts with: vpt scripts"}
			case len(before) > 1:
				return &usageError{msg: fmt.Sprintf("unexpected argument %q", before[1]),
					hint: "arguments for the script go after --: vpt run " + before[0] + " -- " + strings.Join(before[1:], " ")}
			}
			opts.Script = before[0]
			return runRun(cmd.Context(), app, opts)
		},
	}
	f := cmd.Flags()
	stringOnce(f, &opts.Device, "device", "d", "device1", "`id` of the device to run on")
	f.StringVarP(&opts.UserInterface, "userinterface", "u", "", "userinterface `name` (default: the device's)")
	f.StringArrayVarP(&opts.Params, "param", "p", nil, "script parameter `key=value`, passed as --key value (repeatable)")
	f.Duration("timeout", 0, "stop the script after this `duration` (default 1h, or timeout: in vpt.yaml)")
	f.String("video", "", "record video: on, off or retain-on-failure (default on, or video.mode: in vpt.yaml)")
	f.Bool("upload", false, "upload the run folder to R2/S3 (the upload: settings) after the run")
	f.String("python", "", "Python `interpreter` for .py scripts (default python3, or the project's venv)")
	f.Duration("grace", 0, "time a script gets to stop after SIGTERM or SIGINT before SIGKILL (default 10s)")
	f.BoolVar(&opts.Raw, "raw", false, "stream the script's output without the [script] prefix")
	f.BoolVar(&opts.NoWait, "no-wait", false, "fail at once if another run holds the device, instead of waiting")
	f.StringVar(&opts.JUnit, "junit", "", "write JUnit XML for CI to this `file`")
	addNotifyFlags(cmd, &opts.Notify)
	f.BoolVar(&opts.CheckVideo, "check-video", false, "after the script, check its recording for black or frozen picture (limits: av: in vpt.yaml)")
	f.BoolVar(&opts.CheckAudio, "check-audio", false, "after the script, check its recording for silence (limits: av: in vpt.yaml)")
	return cmd
}

func runRun(ctx context.Context, app *App, opts runOptions) error {
	if err := checkOutputFile("junit", opts.JUnit); err != nil {
		return err
	}
	cfg, err := app.Config()
	if err != nil {
		return err
	}
	script, err := app.Resolver(cfg).ResolvePath(opts.Script)
	if err != nil {
		return err
	}
	args, err := scriptArgs(script, opts.Params, opts.ScriptArgs)
	if err != nil {
		return err
	}
	notifier, err := app.notifier(opts.Notify)
	if err != nil {
		return err
	}
	// Script output is the live view on stdout; with --json stdout is
	// reserved for the result, so the output goes to stderr.
	var terminal io.Writer = app.IO.Out
	if app.jsonOut {
		terminal = app.IO.Err
	}
	if app.quiet {
		terminal = nil
	}
	runner, err := app.Runner(ctx, terminal)
	if err != nil {
		return err
	}
	if err := app.Recover(ctx, true); err != nil {
		return err
	}
	res, runErr := runner.Run(ctx, executor.Request{Script: script, Args: args, DeviceID: opts.Device, UserInterface: opts.UserInterface,
		Raw: opts.Raw, NoWait: opts.NoWait, Quiet: app.quiet, CheckVideo: opts.CheckVideo, CheckAudio: opts.CheckAudio,
		Ended: func() { app.scriptEnded.Store(true) }})
	if runErr != nil && res == nil {
		if errors.Is(runErr, executor.ErrInterpreterMissing) && cfg.PythonSet && strings.HasSuffix(script.Path, ".py") {
			return &configError{runErr}
		}
		return runErr
	}
	if opts.JUnit != "" {
		tail, _ := report.ReadTail(filepath.Join(res.RunDir, report.OutputLog), report.TailBytes)
		if err := report.WriteJUnit(opts.JUnit, report.JUnitForRun(res, tail)); err != nil {
			return fmt.Errorf("JUnit %s: %w", opts.JUnit, err)
		}
	}
	if app.jsonOut {
		if err := printJSON(app, report.NewRunFile(res)); err != nil {
			return err
		}
	} else {
		printRunSummary(app, app.IO.Out, res)
	}
	app.send(ctx, notifier, notify.ForRun(res, app.links()))
	if runErr != nil {
		return runErr
	}
	if res.Status == store.StatusPassed && res.UploadStatus == store.UploadPending {
		return fmt.Errorf("%w: the run passed but its upload failed; retry with: vpt report upload --pending", errUploadPending)
	}
	return runVerdict{res.Status}
}

// scriptArgs checks -p key=value against the parameters the script
// declares, as a campaign entry's are, and renders them before the
// arguments after --.
func scriptArgs(script executor.Script, params, rest []string) ([]string, error) {
	var given []executor.Given
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimLeft(strings.TrimSpace(k), "-")
		if !ok || k == "" {
			return nil, &usageError{msg: fmt.Sprintf("-p %q: expected key=value", p), hint: "for example: -p node=live"}
		}
		given = append(given, executor.Given{Name: k, Value: v})
	}
	args, problems := executor.Arguments(script.Name, executor.ReadParams(script.Path), given, rest)
	if len(problems) == 0 {
		return args, nil
	}
	var msgs []string
	hint := ""
	for _, p := range problems {
		msg := p.Msg
		if !p.Missing {
			msg = "-p " + p.Name + ": " + msg
		}
		msgs = append(msgs, msg)
		if hint == "" {
			hint = p.Hint
		}
	}
	hint = strings.TrimPrefix(hint+"; ", "; ") + "its parameters: vpt scripts"
	return nil, &usageError{msg: strings.Join(msgs, "; "), hint: hint}
}

// printRunSummary prints the one-line verdict and where the evidence is.
func printRunSummary(app *App, w io.Writer, res *store.Result) {
	color := app.IO.ColorOut()
	line := fmt.Sprintf("%s %s on %s (%s) in %s", paintVerdict(color, string(res.Status)), plain(res.ScriptName), res.DeviceID,
		res.DeviceModel, fmtMs(res.ExecutionTimeMs))
	if res.ErrorMsg != "" && res.Status != store.StatusPassed {
		line += ": " + plain(res.ErrorMsg)
	}
	fmt.Fprintln(w, line)
	rel := relPath(res.RunDir)
	fmt.Fprintf(w, "  run %s  %s\n", res.ID[:8], rel)
	if _, err := os.Stat(filepath.Join(res.RunDir, report.ReportHTML)); err == nil {
		fmt.Fprintf(w, "  report  %s\n", filepath.Join(rel, report.ReportHTML))
	}
	if v := res.Details.Video; v != nil && v.Path != "" {
		fmt.Fprintf(w, "  video   %s\n", filepath.Join(rel, v.Path))
	}
	if res.HTMLReportR2URL != "" {
		fmt.Fprintf(w, "  url     %s\n", res.HTMLReportR2URL)
	} else if res.Details.ReportURL != "" {
		fmt.Fprintf(w, "  url     %s\n", res.Details.ReportURL)
	}
}
