package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/store"
)

// labCampaign is what a distributed campaign keeps in its row (Extra
// "distributed") so that `vpt campaign attach` can take it over: the file
// as it was, and the options it ran with.
type labCampaign struct {
	File        string `json:"file"`
	Source      string `json:"source"`
	Devices     string `json:"device,omitempty"`
	Parallel    int    `json:"parallel,omitempty"`
	Retries     int    `json:"retries"`
	MaxFailures int    `json:"max_failures,omitempty"`
	FailOnFlaky bool   `json:"fail_on_flaky,omitempty"`
}

func loadCampaign(o campaignOptions) (*campaign.File, error) {
	if o.source != nil {
		return campaign.Parse(o.file, o.source)
	}
	return campaign.Load(o.file)
}

func distributedExtra(o campaignOptions) map[string]any {
	src := o.source
	if src == nil {
		src, _ = os.ReadFile(o.file)
	}
	lc := labCampaign{File: o.file, Source: string(src), Devices: o.devices, Parallel: o.parallel, Retries: o.retries,
		MaxFailures: o.maxFailures, FailOnFlaky: o.failOnFlaky}
	var m map[string]any
	b, _ := json.Marshal(lc)
	_ = json.Unmarshal(b, &m)
	return map[string]any{"distributed": m}
}

// storedLabCampaign reads what a distributed campaign's row keeps.
func storedLabCampaign(c *store.Campaign) (labCampaign, bool) {
	var lc labCampaign
	raw, ok := c.Extra["distributed"]
	if !ok {
		return lc, false
	}
	b, _ := json.Marshal(raw)
	return lc, json.Unmarshal(b, &lc) == nil && lc.Source != ""
}

func newCampaignAttachCmd(app *App, parent *campaignOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attach ID",
		Short: "Take over a distributed campaign whose coordinator died, and finish its report",
		Long: `Re-attach to a distributed campaign execution (its execution id, or a unique prefix)
whose coordinator (the vpt campaign --distributed that started it) died: the
agents go on running its entries meanwhile. attach picks up every attempt the
lab recorded, enqueues what was never enqueued (nothing twice), waits for the
rest, and writes the campaign report, JUnit and summary as the coordinator would
have, with the same exit code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := checkOutputFile("junit", parent.junit); err != nil {
				return err
			}
			st, err := app.Store(ctx)
			if err != nil {
				return err
			}
			c, _, err := st.GetCampaign(ctx, args[0])
			if err != nil {
				return err
			}
			lc, ok := storedLabCampaign(c)
			if !ok {
				return &usageError{msg: fmt.Sprintf("campaign %s was not distributed: attach takes over distributed campaigns only", c.ExecutionID)}
			}
			switch {
			case c.Status != campaign.StatusRunning && c.Status != campaign.StatusAbandoned:
				return &usageError{msg: fmt.Sprintf("campaign %s is %s already: there is nothing to attach to", c.ExecutionID, c.Status),
					hint: "see its report: vpt report show " + c.ExecutionID}
			case c.Status == campaign.StatusRunning && store.OwnerLife(c.Owner, c.HeartbeatAt) == store.Alive && c.Owner != store.ThisProcess().String():
				return &usageError{msg: fmt.Sprintf("campaign %s is still run by a live vpt on %s (heartbeat %s ago)", c.ExecutionID, c.HostName,
					time.Since(c.HeartbeatAt).Round(time.Second)), hint: "attach only takes over a campaign whose coordinator died"}
			}
			// The row is this process's now: it heartbeats it, and recovery
			// leaves it alone.
			c.Status, c.Owner, c.HeartbeatAt, c.CompletedAt = campaign.StatusRunning, store.ThisProcess().String(), time.Now().UTC(), nil
			if err := st.UpdateCampaign(ctx, c); err != nil {
				return err
			}
			app.Notice("attaching to %s (%s)", c.ExecutionID, c.Name)
			o := *parent
			o.file, o.source, o.distributed, o.executionID = lc.File, []byte(lc.Source), true, c.ExecutionID
			o.devices, o.parallel, o.retries, o.maxFailures, o.failOnFlaky = lc.Devices, lc.Parallel, lc.Retries, lc.MaxFailures, lc.FailOnFlaky
			return runCampaign(ctx, app, o)
		},
	}
	cmd.Flags().StringVar(&parent.junit, "junit", "", "write JUnit XML to this `file`")
	cmd.Flags().BoolVar(&parent.junitPerDevice, "junit-per-device", false, "one JUnit testsuite per device instead of one per campaign")
	return cmd
}

func newCampaignCancelCmd(app *App) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a distributed campaign from any host",
		Long: `Cancel a distributed campaign execution (its execution id, or a unique prefix)
from any host: its queued entries are withdrawn, its running scripts get their
graceful stop on their hosts and are recorded interrupted, and its coordinator
stops, writes its report and exits 130. cancel waits (--wait) for the
coordinator to finish the campaign's row.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := app.Store(ctx)
			if err != nil {
				return err
			}
			c, _, err := st.GetCampaign(ctx, args[0])
			if err != nil {
				return err
			}
			if _, ok := storedLabCampaign(c); !ok {
				return &usageError{msg: fmt.Sprintf("campaign %s is not distributed", c.ExecutionID),
					hint: "stop a local campaign with Ctrl-C where it runs"}
			}
			lab, err := app.Lab(ctx)
			if err != nil {
				return err
			}
			jobs := map[int64]bool{}
			for pass := range 2 {
				if pass > 0 {
					// Once more, for an attempt its coordinator enqueued meanwhile.
					time.Sleep(time.Second)
				}
				ids, err := lab.Cancel(ctx, c.ExecutionID)
				if err != nil {
					return err
				}
				for _, id := range ids {
					jobs[id] = true
				}
			}
			app.Notice("cancelled %d job(s) of %s", len(jobs), c.ExecutionID)
			for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
				if c, _, err = st.GetCampaign(ctx, c.ID); err == nil && c.Status != campaign.StatusRunning {
					fmt.Fprintf(app.IO.Out, "campaign %s %s\n", c.ExecutionID, c.Status)
					return nil
				}
			}
			app.Notice("the campaign's coordinator has not finished its row (it may have died): vpt campaign attach %s writes its report", c.ExecutionID)
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for the coordinator to record the end")
	return cmd
}
