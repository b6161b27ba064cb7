package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/executor"
)

func newScriptsCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "scripts",
		Short: "List the scripts in the scripts folder with their parameters",
		Long: `List the scripts in the scripts folder (scripts_dir, default test_scripts) and its
subfolders, with the parameters each declares: upstream's _script_args list
('--name:type:default') or argparse add_argument calls. Pass each with
vpt run SCRIPT -p name=value (a positional parameter too: -p target=live);
vpt run refuses names a script does not declare, values of the wrong type or
outside the choices, and a required parameter left out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			scripts, err := executor.List(cfg.ScriptsDir)
			if err != nil {
				return err
			}
			for i := range scripts {
				if scripts[i].Params = executor.ReadParams(scripts[i].Path); scripts[i].Params == nil {
					scripts[i].Params = []executor.Param{} // [] in JSON: it has none
				}
			}
			if app.jsonOut {
				if scripts == nil {
					scripts = []executor.ScriptInfo{}
				}
				return printJSON(app, scripts)
			}
			if len(scripts) == 0 {
				app.Notice("no scripts in %s (set scripts_dir in vpt.yaml, or run a file by path: vpt run path/to/script.py)", cfg.ScriptsDir)
				return nil
			}
			tw := newTable(app.IO.Out)
			fmt.Fprintln(tw, "SCRIPT\tPARAMETERS")
			for _, s := range scripts {
				var ps []string
				for _, p := range s.Params {
					d := p.Flag + " " + p.Type
					if len(p.Choices) > 0 {
						d = p.Flag + " {" + strings.Join(p.Choices, ",") + "}"
					}
					if p.HasDefault {
						d += "=" + p.Default
					}
					if p.Required {
						d += " (required)"
					}
					ps = append(ps, d)
				}
				fmt.Fprintf(tw, "%s\t%s\n", s.Name, strings.Join(ps, ", "))
			}
			return tw.Flush()
		},
	}
}
