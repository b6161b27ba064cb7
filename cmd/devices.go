package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

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
			_, reg, err := app.Registry()
			if err != nil {
				return err
			}
			list := reg.CheckAll(cmd.Context(), timeout)
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
