// Package cmd is vpt's command line: cobra commands, one file each, and the
// configuration decoded by viper. Commands hold no domain logic: they fill
// options from flags and call executor, campaign, capture, report and store.
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/buildinfo"
	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// memoryLimit keeps the commands that run scripts (run, campaign, agent)
// small beside the scripts and recorders they run:
// past it the garbage collector works harder instead of the heap growing.
// Screenshots are 3.6 MB pictures: at 24 MiB the collector gave their
// memory back to the system between two of them and every picture paid
// for mapping it again (a 49-step goto with its screenshots took ~450 ms;
// ~260 ms at 32 MiB, for a peak of ~55 MB instead of ~48 MB).
// The other commands have no limit: a report of a 10,000-entry campaign
// holds more than 32 MiB live, and under the limit the collector ran
// without pause (1.15 s for that report instead of 0.6 s).
const memoryLimit = 32 << 20

// relaxedGCPercent is the collector's target for the commands that trade
// memory for time. GOGC, when set, is left as it is.
//   - The commands that rewrite reports in bulk (regenerate, upload,
//     prune) run briefly and hold much live. A 10,000-entry campaign's
//     report: 0.37 s at the default 100, 0.33 s at 400, for a peak of
//     183 MB instead of 143 MB.
//   - The commands that run scripts are held under memoryLimit anyway:
//     the target only says how often the collector runs below it. Each
//     screenshot leaves 3.6 MB of garbage, and at 100 the collector ran
//     three times in a `vpt run` with its two. At 400: 1.6 ms less per
//     run with screenshots (150 interleaved runs), 1.35 ms less per entry
//     of a 200-entry campaign with screenshots, the same peak RSS (65 MB
//     for that campaign, 50 MB for 1 GiB of output streamed).
const relaxedGCPercent = 400

// Main runs vpt with args and returns the exit code.
func Main(version string, args []string) int {
	if len(args) > 0 && (args[0] == "run" || args[0] == "campaign") {
		// The script's supervisor takes longer to start than vpt takes to
		// reach the script: it starts first (the command starts it too,
		// when a flag came before its name).
		executor.WarmSupervisor()
	}
	io := System()
	buildinfo.SetVersion(version)
	app := &App{IO: io, Version: buildinfo.Version(), Environ: environ()}
	ctx, kill, release := interrupts(context.Background(), io, app.stopping)
	defer release()
	app.Kill = kill
	defer app.Close()
	root := NewRoot(app)
	root.SetArgs(args)
	err := placeDeviceField(app.cfg, root.ExecuteContext(ctx))
	code := ExitCode(err)
	if err != nil {
		// A flag error stops the parsing before --json is read: the error
		// is JSON all the same when --json was given.
		app.jsonOut = app.jsonOut || askedJSON(args)
		printError(app, err, code)
	}
	if werr := io.OutErr(); werr != nil {
		// What was asked for did not reach stdout: no success.
		if code == ExitOK {
			code = ExitInfra
		}
		if !errors.Is(err, werr) {
			printError(app, &outputError{werr}, ExitInfra)
		}
	}
	return code
}

// outputError is stdout that could not be written (a full disk).
type outputError struct{ err error }

func (e *outputError) Error() string { return "writing the output: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }
func (e *outputError) HintText() string {
	return "free space where stdout goes, or send it elsewhere (what vpt recorded is not affected)"
}

// NewRoot builds the command tree.
func NewRoot(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "vpt",
		Short: "Run test scripts on attached devices and record what happened",
		Long: `vpt runs test scripts against devices attached to this machine (Android over ADB,
set-top boxes through an HDMI capture card and an IR remote, the host's display,
or the built-in virtual device) and records each run: live output, screenshots,
a video, an HTML report, a row in a results database, and optionally a copy in R2.

EXIT STATUS
  0    every script passed
  1    at least one script failed
  2    usage or configuration error (bad flag or file, unknown device, script or userinterface)
  3    infrastructure error (device unreachable, tool missing, store or upload unavailable)
  4    timeout
  130  interrupted (Ctrl-C or SIGTERM)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// The configuration is decoded (lazily, by App.Config) with the
		// flags of the command that runs.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			app.setCommand(cmd)
			return checkCounts(cmd.Flags())
		},
		Version: app.Version,
	}
	root.SetVersionTemplate(versionLine(buildinfo.Read()) + "\n")
	// Subcommands' own hooks (report's recovery) run after root's.
	cobra.EnableTraverseRunHooks = true
	pf := root.PersistentFlags()
	pf.StringVar(&app.configPath, "config", "", "configuration `file` (default ./vpt.yaml, then $XDG_CONFIG_HOME/vpt/vpt.yaml); relative paths in it are relative to its folder")
	pf.CountVarP(&app.verbose, "verbose", "v", "more diagnostics on stderr (-vv for debug)")
	pf.BoolVarP(&app.quiet, "quiet", "q", false, "print only results and errors")
	pf.BoolVar(&app.jsonOut, "json", false, "print machine-readable JSON on stdout")
	pf.String("results-dir", "", "`folder` of run folders and the default database (default vpt-results)")
	pf.String("store", "", "results store `URL`: sqlite://PATH or postgres://USER@HOST/DB")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error(), hint: "see: " + c.CommandPath() + " --help"}
	})
	root.AddCommand(
		newRunCmd(app),
		newCampaignCmd(app),
		newScriptsCmd(app),
		newDevicesCmd(app),
		newDoctorCmd(app),
		newUICmd(app),
		newReportCmd(app),
		newEventsCmd(app),
		newAPICmd(app),
		newVersionCmd(app),
		newAgentCmd(app),
		newAgentsCmd(app),
	)
	addCompletions(root, app)
	// cobra adds these two when it executes; added now, they get the
	// same argument checks as every other command.
	root.InitDefaultCompletionCmd()
	root.SetHelpCommand(newHelpCmd())
	root.SetFlagErrorFunc(flagError)
	// Unknown commands and wrong argument counts are usage errors, at
	// every depth of the tree.
	usageArgs(root)
	return root
}

// newHelpCmd is `vpt help [command]`: an unknown topic is a usage error
// with suggestions, not the root's help and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return unknownCommand(cmd, args[len(args)-max(1, len(rest))])
			}
			return cmd.Help()
		},
	}
}

// stopping is what the nth Ctrl-C says (1: stop, 2: kill): only the
// commands that run scripts have scripts to kill, and once a run's script
// has ended there is none, only the record being finished.
// It is read from the signal goroutine, hence the atomics.
func (a *App) stopping(n int) string {
	if a.scriptEnded.Load() {
		if n == 1 {
			return "stopping: the script had ended; its verdict stands, and vpt is finishing its record (press Ctrl-C again to cut that short)"
		}
		return "cutting the finishing short"
	}
	if n > 1 {
		return "killing the scripts"
	}
	if s := a.stopMsg.Load(); s != nil {
		return *s
	}
	return "stopping"
}

func (a *App) setCommand(cmd *cobra.Command) {
	a.flags, a.commandPath = cmd.Flags(), cmd.CommandPath()
	msg := "stopping"
	switch strings.TrimPrefix(a.commandPath, "vpt ") {
	case "run", "campaign", "campaign attach", "agent":
		msg = "stopping (press Ctrl-C again to kill the scripts at once)"
		debug.SetMemoryLimit(memoryLimit)
		relaxGC()
	case "report regenerate", "report upload", "report prune":
		relaxGC()
	}
	a.stopMsg.Store(&msg)
}

func relaxGC() {
	if os.Getenv("GOGC") == "" { // the user's own setting stands
		debug.SetGCPercent(relaxedGCPercent)
	}
}

// flagError makes a flag error a usage error, with the closest flag of
// the command when the flag is unknown (--jsn: did you mean --json?).
func flagError(cmd *cobra.Command, err error) error {
	hint := "see: " + cmd.CommandPath() + " --help"
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if s := yamlfile.Closest(name, names, 1); len(s) > 0 {
			hint = "did you mean --" + s[0] + "?"
		}
	}
	return &usageError{msg: err.Error(), hint: hint}
}

// unknownCommand is the usage error for a word that names no command
// below parent, with cobra's suggestions of the commands it is close to.
func unknownCommand(parent *cobra.Command, word string) error {
	if parent == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", word), hint: "see: vpt --help"}
	}
	hint := "see: " + parent.CommandPath() + " --help"
	var names []string
	for _, c := range parent.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, append([]string{c.Name()}, c.Aliases...)...)
		}
	}
	if s := yamlfile.Closest(word, names, 1); len(s) > 0 {
		hint = "did you mean " + parent.CommandPath() + " " + s[0] + "?"
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q for %q", word, parent.CommandPath()), hint: hint}
}

// usageArgs makes argument errors usage errors (exit 2) for c and every
// command below it; a command that only groups others prints its help
// when called alone and refuses an unknown subcommand.
func usageArgs(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
	inner := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if inner == nil {
			if len(args) > 0 && cmd.HasSubCommands() {
				return unknownCommand(cmd, args[0])
			}
			return nil
		}
		if err := inner(cmd, args); err != nil {
			if strings.HasPrefix(err.Error(), "unknown command") && !cmd.HasSubCommands() {
				return &usageError{msg: fmt.Sprintf("%s takes no arguments (got %q)", cmd.CommandPath(), args[0]),
					hint: "see: " + cmd.CommandPath() + " --help"}
			}
			return &usageError{msg: err.Error(), hint: "see: " + cmd.CommandPath() + " --help"}
		}
		return nil
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// askedJSON tells whether args hold --json before a "--" (after it, the
// arguments are the script's).
func askedJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true":
			return true
		}
	}
	return false
}

// printError prints the error once, with its hint, on stderr.
func printError(app *App, err error, code int) {
	msg := err.Error()
	if msg == "" {
		return // a verdict: the summary said it
	}
	var h interface{ HintText() string }
	hint := ""
	if errors.As(err, &h) {
		hint = h.HintText()
	}
	if app.jsonOut {
		b, _ := json.Marshal(map[string]any{"error": msg, "hint": hint, "exit_code": code})
		fmt.Fprintln(app.IO.Err, string(b))
		return
	}
	fmt.Fprintf(app.IO.Err, "vpt: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(app.IO.Err, "  hint: %s\n", hint)
	}
}

// interrupts turns signals into the two stages of stopping: the first
// SIGINT or SIGTERM cancels the returned context with the cause
// executor.ErrInterrupted (runs stop gracefully and are still recorded),
// the second closes kill (scripts are killed at once, finalisation is cut
// short), a third exits at once. SIGPIPE on vpt's own output (`vpt run |
// head`) is caught rather than fatal: writes to the closed pipe fail, and
// the run goes on and is recorded whole.
// sameInterrupt is how soon after the first a second signal is taken for
// the same one.
const sameInterrupt = 200 * time.Millisecond

func interrupts(parent context.Context, io *IOStreams, stopping func(n int) string) (ctx context.Context, kill <-chan struct{}, release func()) {
	ctx, cancel := context.WithCancelCause(parent)
	killC := make(chan struct{})
	ch := make(chan os.Signal, 3)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		n := 0
		var first time.Time
		for {
			select {
			case <-done:
				return
			case <-ch:
				// GNU timeout -s INT, and some CI runners, signal vpt and
				// then its process group: vpt gets the signal twice at once.
				// That is one interrupt; a person's second Ctrl-C comes later.
				if n == 1 && time.Since(first) < sameInterrupt {
					continue
				}
				if n == 0 {
					first = time.Now()
				}
				n++
				switch n {
				case 1:
					fmt.Fprintln(io.Err, "\nvpt: "+stopping(1))
					cancel(executor.ErrInterrupted)
				case 2:
					fmt.Fprintln(io.Err, "\nvpt: "+stopping(2))
					close(killC)
				default:
					os.Exit(ExitInterrupted)
				}
			}
		}
	}()
	return ctx, killC, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}
