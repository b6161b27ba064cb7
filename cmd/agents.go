package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/agent"
)

func newAgentsCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "agents",
		Short: "List the lab's agents, their devices and what each runs",
		Long: `List the agents of the lab (vpt agent on each host) from the shared PostgreSQL
store: each agent's host, vpt version, state (running, draining, stopped, or
down when its heartbeat stopped) and heartbeat age, and each of its devices
with its model, tags and state (idle, busy with which run, or down and why).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			co, err := app.Lab(cmd.Context())
			if err != nil {
				return err
			}
			list, err := co.Agents(cmd.Context())
			if err != nil {
				return err
			}
			if app.jsonOut {
				return printJSON(app, list)
			}
			printAgents(app, list)
			return nil
		},
	}
}

func printAgents(app *App, list []agent.AgentInfo) {
	if len(list) == 0 {
		fmt.Fprintln(app.IO.Out, "no agent has registered: start vpt agent on each lab host")
		return
	}
	color := app.IO.ColorOut()
	tw := newTable(app.IO.Out)
	fmt.Fprintln(tw, "AGENT\tHOST\tVERSION\tSTATE\tHEARTBEAT\tDEVICE\tMODEL\tTAGS\tDEVICE STATE")
	for _, a := range list {
		state := a.Status()
		code := map[bool]string{true: "32", false: "31"}[a.Live()]
		if err := a.Compatible(); a.Live() && err != nil {
			state, code = fmt.Sprintf("incompatible (schema %d, protocol %d)", a.Schema, a.Protocol), "33"
		}
		head := fmt.Sprintf("%s\t%s\t%s\t%s\t%s ago", a.Name, a.Host, a.Version, paint(color, code, state), a.HeartbeatAge.Round(time.Second))
		if len(a.Devices) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\n", head)
		}
		for i, d := range a.Devices {
			if i > 0 {
				head = "\t\t\t\t"
			}
			ds := d.State
			switch d.State {
			case agent.DeviceBusy:
				ds = "busy: " + d.Script
				if d.ResultID != "" {
					ds += fmt.Sprintf(" (run %s)", d.ResultID[:min(8, len(d.ResultID))])
				}
			case agent.DeviceDown:
				ds = paint(color, "31", "down: "+d.Reason)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", head, d.ID, d.Model, strings.Join(d.Tags, ","), ds)
		}
	}
	tw.Flush()
}

// Lab connects to the lab's agents through the store (PostgreSQL only),
// once.
func (a *App) Lab(ctx context.Context) (*agent.Coordinator, error) {
	if a.lab != nil {
		return a.lab, nil
	}
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	what := a.commandPath
	if strings.HasSuffix(what, " campaign") {
		what += " --distributed"
	}
	if err := agent.CheckURL(cfg.Store, what); err != nil {
		return nil, err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return nil, err
	}
	co, err := agent.Connect(ctx, cfg.Store, st, a.Log())
	if err != nil {
		return nil, err
	}
	co.Kill = a.Kill
	co.Events = agent.StoreEvents(st, a.Log())
	a.lab = co
	return co, nil
}
