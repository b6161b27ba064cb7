package cmd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/capture"
)

// deviceStatus is one line of `vpt devices`.
type deviceStatus struct {
	capture.Info
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func newDevicesCmd(app *App) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List configured devices, their capabilities and whether they answer",
		Long: `List the devices of this machine: those in the devices: list of vpt.yaml and the
upstream DEVICE{i}_* variables, plus the virtual device1. Each is checked now
(adb answers, the capture card exists, the display opens).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			reg, err := app.Registry(cfg)
			if err != nil {
				return err
			}
			list := checkDevices(cmd.Context(), reg, timeout)
			if app.jsonOut {
				return printJSON(app, list)
			}
			color := app.IO.ColorOut()
			tw := tabwriter.NewWriter(app.IO.Out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tMODEL\tTARGET\tCAPABILITIES\tSTATUS")
			for _, d := range list {
				status := paint(color, "32", "ok")
				if !d.OK {
					status = paint(color, "31", "not answering: "+d.Error)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Model, d.Target, strings.Join(d.Capabilities, ","), status)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long each device may take to answer")
	return cmd
}

// checkDevices opens and checks every device at once.
func checkDevices(ctx context.Context, reg *capture.Registry, timeout time.Duration) []deviceStatus {
	cfgs := reg.Devices()
	out := make([]deviceStatus, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Add(1)
		go func(i int, c capture.DeviceConfig) {
			defer wg.Done()
			driver, _ := c.Driver()
			st := deviceStatus{Info: capture.Info{ID: c.ID, Name: c.Name, Model: c.Model, Driver: driver}}
			dev, err := reg.Open(c.ID)
			if err == nil {
				st.Info = dev.Info()
				cctx, cancel := context.WithTimeout(ctx, timeout)
				err = dev.Check(cctx)
				cancel()
				dev.Close()
			}
			st.OK = err == nil
			if err != nil {
				st.Error = err.Error()
			}
			out[i] = st
		}(i, c)
	}
	wg.Wait()
	return out
}
