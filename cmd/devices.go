package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vpt-dev/vpt/capture"
)

func newDevicesCmd(app *App) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "devices [ID...]",
		Short: "List configured devices, their capabilities and whether they answer",
		Long: `List the devices of this machine: those in the devices: list of vpt.yaml and the
upstream DEVICE{i}_* variables, plus the virtual device1, or only the devices
named. Each is checked now (adb answers, the capture card exists, the display
opens). Exits 3 when a device listed does not answer, so that a CI job can check
its devices before it runs anything, and 2 when a device's configuration is
wrong (an unknown userinterface); --json prints one object per device.`,
		Example: `  vpt devices
  vpt devices device2 device3 --timeout 5s   # a health gate for a CI job
  vpt devices --json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, reg, err := app.Registry()
			if err != nil {
				return err
			}
			for _, id := range args {
				if _, err := reg.Config(id); err != nil {
					return err
				}
			}
			list := reg.CheckAll(cmd.Context(), timeout, args...)
			var down []string
			var result error
			for _, d := range list {
				switch {
				case d.Misconfigured && result == nil:
					// The configuration's mistake: a usage error (exit 2).
					result = fmt.Errorf("device %s: %w", d.ID, d.Err())
				case !d.OK && !d.Misconfigured:
					down = append(down, d.ID)
				}
			}
			if len(down) > 0 && result == nil {
				result = fmt.Errorf("%w: %d of %d devices do not answer: %s", capture.ErrUnreachable, len(down), len(list), strings.Join(down, ", "))
			}
			if app.jsonOut {
				if err := printJSON(app, list); err != nil {
					return err
				}
				return result
			}
			color := app.IO.ColorOut()
			tw := newTable(app.IO.Out)
			fmt.Fprintln(tw, "ID\tNAME\tMODEL\tTARGET\tCAPABILITIES\tSTATUS")
			for _, d := range list {
				status := paint(color, "32", "ok")
				switch {
				case d.Misconfigured:
					status = paint(color, "31", "misconfigured: "+d.Error)
				case !d.OK:
					status = paint(color, "31", "not answering: "+d.Error)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Model, d.Target, strings.Join(d.Capabilities, ","), status)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return result
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long each device may take to answer")
	return cmd
}
