package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/agent"
	"github.com/vpt-dev/vpt/capture"
)

type agentOptions struct {
	name   string
	drain  time.Duration
	stream bool
}

func newAgentCmd(app *App) *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Serve this host's devices to distributed campaigns (one per lab host)",
		Long: `Serve the devices of this host (the devices: list of its vpt.yaml) to the
distributed campaigns of the lab: vpt agent registers itself and its devices in
the lab's shared PostgreSQL store, heartbeats, and runs each entry that one of
its healthy devices can take, as vpt run does (evidence, report, store row,
upload). It runs until SIGTERM (or Ctrl-C): then it takes no new entry, lets
the running scripts finish within --drain, interrupts the rest (their entries
go to other devices), and deregisters. A second SIGTERM kills the scripts.

The store must be PostgreSQL (--store postgres://… or store: in vpt.yaml),
the same for every host. --name (default: the host name) must be unique among
the live agents. The scripts folder must hold the same scripts on every host.`,
		Example: `  vpt agent --store postgres://vpt@db.lab/vpt
  vpt agent --name lab-a --config /etc/vpt/vpt.yaml --drain 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAgent(cmd, app, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "the agent's `name` in the lab (default: the host name)")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "on SIGTERM, how long running scripts may go on before they are interrupted")
	f.BoolVar(&o.stream, "stream", false, "stream the scripts' output, prefixed with device and script")
	f.Duration("timeout", 0, "timeout of each script without its own (default 1h)")
	f.String("video", "", "record video: on, off or retain-on-failure")
	f.Bool("upload", false, "upload every run folder to R2/S3")
	f.String("python", "", "Python `interpreter` for .py scripts")
	f.Duration("grace", 0, "time a script gets to stop before SIGKILL")
	return cmd
}

func runAgent(cmd *cobra.Command, app *App, o agentOptions) error {
	ctx := cmd.Context()
	cfg, err := app.Config()
	if err != nil {
		return err
	}
	if err := agent.CheckURL(cfg.Store, "vpt agent"); err != nil {
		return err
	}
	runner, st, err := app.batchRunner(ctx, o.stream)
	if err != nil {
		return err
	}
	if cfg.Upload.Enabled {
		up, err := app.Uploader(ctx)
		if err != nil {
			return err
		}
		runner.Uploader = up
	}
	name := o.name
	if name == "" {
		name = cfg.HostName
	}
	// The runs of an agent name it as their host: the lab knows hosts by
	// their agents.
	runner.Settings.HostName = name
	devices := cfg.Devices
	if len(devices) == 0 {
		devices = []capture.DeviceConfig{capture.DefaultDevice}
	}
	a := agent.New(agent.Config{
		Name: name, URL: cfg.Store, Version: app.Version, Store: st, Runner: runner, Resolver: app.Resolver(cfg),
		Devices: devices, Drain: o.drain, Kill: app.Kill, Log: app.Log(), Events: agent.StoreEvents(st, app.Log()),
		Notice: func(format string, args ...any) {
			if !app.quiet {
				fmt.Fprintf(app.IO.Err, "%s vpt agent: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
			}
		},
	})
	return a.Run(ctx)
}
