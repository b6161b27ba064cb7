package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/store"
)

type eventsOptions struct {
	follow   bool
	since    int64
	campaign string
	run      string
	types    string
}

func newEventsCmd(app *App) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Print the event stream of runs, campaigns, devices and agents as NDJSON",
		Long: `Print the store's events, oldest first, one JSON object a line (docs/events.md):
run.queued, run.started, run.step, run.screenshot, run.verification,
run.verdict, run.finished, campaign.started, campaign.entry_started,
campaign.entry_finished, campaign.finished, device.busy, device.idle,
device.down, agent.up, agent.down.

--since SEQ prints the events after sequence number SEQ: a script that
remembers the last "seq" it read resumes there. --follow keeps printing
new events as they come; with --campaign it ends after the campaign's
last shard has finished.`,
		Example: `  vpt events --since 1200
  vpt events --follow --campaign campaign_exec_1700000000_abcdef12
  vpt events --follow --type run.finished | jq -r 'select(.data.status != "passed") | .run_id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing events as they come (Ctrl-C to stop)")
	f.Int64Var(&o.since, "since", 0, "only events after this sequence `number`")
	f.StringVar(&o.campaign, "campaign", "", "only the events of this campaign execution `id` and of its runs")
	f.StringVar(&o.run, "run", "", "only the events of this run `id`")
	f.StringVar(&o.types, "type", "", "only events of these `types` (comma list, such as run.started,run.finished)")
	return cmd
}

func runEvents(ctx context.Context, app *App, o eventsOptions) error {
	if o.since < 0 {
		return &usageError{msg: fmt.Sprintf("--since %d: sequence numbers start at 1", o.since), hint: "use --since 0 for every event"}
	}
	st, err := app.Store(ctx)
	if err != nil {
		return err
	}
	f := store.EventFilter{After: o.since, Campaign: o.campaign, Run: o.run}
	if o.types != "" {
		known := map[store.EventType]bool{}
		for _, t := range store.EventTypes {
			known[t] = true
		}
		for _, t := range strings.Split(o.types, ",") {
			t = strings.TrimSpace(t)
			if !known[store.EventType(t)] {
				return &usageError{msg: fmt.Sprintf("--type %q: unknown event type", t), hint: "see: vpt events --help"}
			}
			f.Types = append(f.Types, store.EventType(t))
		}
	}
	if o.campaign != "" {
		// A row id or a prefix names the execution; with --follow an id not
		// recorded yet is followed as given (the campaign may be about to
		// start), and that is said: a typo would wait for ever.
		c, _, err := st.GetCampaign(ctx, o.campaign)
		switch {
		case err == nil:
			f.Campaign = c.ExecutionID
		case !errors.Is(err, store.ErrNotFound):
			return err
		case !o.follow:
			return &usageError{msg: fmt.Sprintf("--campaign %s: no campaign of that execution id is recorded", o.campaign), hint: "see: vpt report list"}
		default:
			app.Notice("no campaign %s is recorded yet: waiting for it (Ctrl-C to stop)", o.campaign)
		}
	}
	if o.run != "" {
		res, err := st.GetResult(ctx, o.run)
		switch {
		case err == nil:
			f.Run = res.ID
		case !errors.Is(err, store.ErrNotFound):
			return err
		case !o.follow:
			return &usageError{msg: fmt.Sprintf("--run %s: no run of that id is recorded", o.run), hint: "see: vpt report list"}
		default:
			app.Notice("no run %s is recorded yet: waiting for it (Ctrl-C to stop)", o.run)
		}
	}
	enc := json.NewEncoder(app.IO.Out)
	for {
		evs, err := st.Events(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return nil // the reader went away (vpt events | head)
			}
			f.After = e.Seq
			if o.follow && f.Campaign != "" && campaignOver(e) {
				return nil
			}
		}
		if len(evs) == store.DefaultEventLimit {
			continue
		}
		if !o.follow {
			return nil
		}
		if err := st.WaitEvents(ctx, f.After); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
	}
}

// campaignOver tells whether e ends a campaign execution (its last shard).
func campaignOver(e store.Event) bool {
	if e.Type != store.EventCampaignFinished {
		return false
	}
	var d store.CampaignData
	return e.Decode(&d) == nil && d.Done
}
