package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/executor"
)

func newAPICmd(app *App) *cobra.Command {
	var paramsJSON string
	cmd := &cobra.Command{
		Use:   "api METHOD [KEY=VALUE...]",
		Short: "Call the script API of the running vpt (for shell scripts)",
		Long: `Send one request to the vpt that runs this script (the socket in VPT_CONTROL)
and print the result as JSON. Values that parse as JSON (numbers, true, false,
"quoted") are sent as such, the rest as text. A failed call prints the error on
stderr and exits 1. The protocol is described in docs/script-api.md.`,
		Example: `  vpt api screenshot label=home
  vpt api goto node=live
  vpt api step name="Check banner" passed=true
  vpt api metadata --params '{"build": "1.2.3"}'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr := os.Getenv("VPT_CONTROL")
			if addr == "" {
				return &usageError{msg: "VPT_CONTROL is not set: vpt api works inside a script run by vpt run", hint: "run your script with: vpt run SCRIPT"}
			}
			params := map[string]any{}
			if paramsJSON != "" {
				if err := json.Unmarshal([]byte(paramsJSON), &params); err != nil {
					return &usageError{msg: "--params: " + err.Error(), hint: `a JSON object, for example '{"node": "live"}'`}
				}
			}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return &usageError{msg: fmt.Sprintf("%q: expected KEY=VALUE", kv)}
				}
				var val any
				if err := json.Unmarshal([]byte(v), &val); err != nil {
					val = v
				}
				params[k] = val
			}
			result, err := executor.Call(cmd.Context(), addr, args[0], params)
			if err != nil {
				return err
			}
			fmt.Fprintln(app.IO.Out, string(result))
			return nil
		},
	}
	cmd.Flags().StringVar(&paramsJSON, "params", "", "parameters as a JSON `object`")
	return cmd
}
