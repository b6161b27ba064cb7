package cmd

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// Shell completion (vpt completion bash|zsh|fish|powershell) completes
// what this machine has: the scripts of the scripts folder, the devices,
// the userinterfaces, recent run ids, and the values a flag takes. The
// candidates come from the configuration the command line names
// (--config, --results-dir…); a completion that cannot read it offers
// nothing rather than an error.

type completeFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// addCompletions registers the dynamic completions on the command tree.
func addCompletions(root *cobra.Command, app *App) {
	c := completer{app: app}
	find := func(path ...string) *cobra.Command {
		cmd, rest, err := root.Find(path)
		if err != nil || len(rest) > 0 {
			return nil
		}
		return cmd
	}
	args := map[string]completeFunc{
		"run":               c.first(c.scripts),
		"campaign":          c.first(c.campaignFiles),
		"devices":           c.devices,
		"ui show":           c.first(c.userInterfaces),
		"ui check":          c.userInterfaces,
		"ui reference":      c.first(c.nodes),
		"report show":       c.first(c.runIDs),
		"report open":       c.first(c.runIDs),
		"report regenerate": c.first(c.runIDs),
		"report upload":     c.first(c.runIDs),
	}
	for path, fn := range args {
		if cmd := find(strings.Fields(path)...); cmd != nil {
			cmd.ValidArgsFunction = fn
		}
	}
	flags := []struct {
		cmds []string
		flag string
		fn   completeFunc
	}{
		{[]string{"run", "ui reference", "report list", "trends"}, "device", c.deviceIDs},
		{[]string{"campaign"}, "device", commaList(c.deviceIDs)},
		{[]string{"run", "ui reference"}, "userinterface", c.userInterfaces},
		{[]string{"run", "campaign"}, "video", fixed("on", "off", "retain-on-failure")},
		{[]string{"run"}, "param", c.params},
		{[]string{"report list"}, "status", commaList(fixed(statusNames()...))},
		{[]string{"report list"}, "script", c.scripts},
		{[]string{"campaign"}, "balance", fixed("history")},
		{[]string{"run", "campaign"}, "notify-on", fixed("failure", "always")},
		{[]string{"campaign"}, "junit", fileExt("xml")},
		{[]string{"run"}, "junit", fileExt("xml")},
	}
	for _, f := range flags {
		for _, path := range f.cmds {
			if cmd := find(strings.Fields(path)...); cmd != nil && cmd.Flags().Lookup(f.flag) != nil {
				_ = cmd.RegisterFlagCompletionFunc(f.flag, f.fn)
			}
		}
	}
}

type completer struct{ app *App }

const noFiles = cobra.ShellCompDirectiveNoFileComp

// config decodes the configuration with the flags of the command line
// being completed (--config, --store), which cobra parsed into cmd.
func (c completer) config(cmd *cobra.Command) (*Config, error) {
	if c.app.cfg == nil {
		c.app.flags = cmd.Flags()
	}
	return c.app.Config()
}

// first completes only the first argument.
func (c completer) first(fn completeFunc) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		return fn(cmd, args, toComplete)
	}
}

func (c completer) scripts(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	list, _ := executor.List(cfg.ScriptsDir)
	names := make([]string, 0, len(list))
	for _, s := range list {
		names = append(names, s.Name)
	}
	// A path to a script is fine too.
	return names, cobra.ShellCompDirectiveDefault
}

func (c completer) campaignFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml", "json"}, cobra.ShellCompDirectiveFilterFileExt
}

func (c completer) deviceIDs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	if _, err := c.config(cmd); err != nil {
		return nil, noFiles
	}
	_, reg, err := c.app.Registry()
	if err != nil {
		return nil, noFiles
	}
	var out []string
	for _, d := range reg.Devices() {
		out = append(out, d.ID+"\t"+d.Name+" ("+d.Model+")")
	}
	return out, noFiles
}

// devices completes the device ids not given yet.
func (c completer) devices(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	all, d := c.deviceIDs(cmd, args, toComplete)
	given := map[string]bool{}
	for _, a := range args {
		given[a] = true
	}
	var out []string
	for _, s := range all {
		if id, _, _ := strings.Cut(s, "\t"); !given[id] {
			out = append(out, s)
		}
	}
	return out, d
}

func (c completer) userInterfaces(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, noFiles
	}
	return ui.Library{Dir: cfg.UserInterfacesDir}.Names(), noFiles
}

// nodes completes the nodes of the userinterface of ui reference's
// --userinterface, else of its --device.
func (c completer) nodes(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, noFiles
	}
	name, _ := cmd.Flags().GetString("userinterface")
	if name == "" {
		id, _ := cmd.Flags().GetString("device")
		if _, reg, err := c.app.Registry(); err == nil {
			if d, err := reg.Config(id); err == nil {
				name = d.UserInterface
			}
		}
	}
	u, err := ui.Library{Dir: cfg.UserInterfacesDir}.Find(name)
	if err != nil {
		return nil, noFiles
	}
	var out []string
	for _, n := range u.Nodes {
		out = append(out, n.ID+"\t"+n.Label)
	}
	return out, noFiles
}

// runIDs completes the ids of the latest runs, with what each was.
func (c completer) runIDs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, noFiles
	}
	// Completing never creates a database.
	if path, ok := strings.CutPrefix(cfg.Store, "sqlite://"); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, noFiles
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := c.app.Store(ctx)
	if err != nil {
		return nil, noFiles
	}
	rows, err := st.ListResults(ctx, store.ResultFilter{Limit: 30})
	if err != nil {
		return nil, noFiles
	}
	out := []string{"latest\tthe latest run"}
	for _, r := range rows {
		out = append(out, r.ID[:8]+"\t"+r.ScriptName+" on "+r.DeviceID+", "+string(r.Status)+", "+r.StartedAt.Local().Format("2006-01-02 15:04"))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// params completes -p with the parameters the script (the first
// argument) declares: "name=" then its choices.
func (c completer) params(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cfg, err := c.config(cmd)
	if err != nil || len(args) == 0 {
		return nil, noFiles
	}
	script, err := c.app.Resolver(cfg).Resolve(args[0])
	if err != nil {
		return nil, noFiles
	}
	var out []string
	for _, p := range executor.ReadParams(script.Path) {
		if name, _, ok := strings.Cut(toComplete, "="); ok {
			if name == p.Name {
				for _, ch := range p.Choices {
					out = append(out, p.Name+"="+ch)
				}
			}
			continue
		}
		out = append(out, p.Name+"=\t"+p.Type+paramNote(p))
	}
	return out, noFiles | cobra.ShellCompDirectiveNoSpace
}

func paramNote(p executor.Param) string {
	switch {
	case p.Required:
		return " (required)"
	case p.HasDefault:
		return " (default " + p.Default + ")"
	}
	return ""
}

// commaList completes the last item of a comma-separated list.
func commaList(fn completeFunc) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		i := strings.LastIndex(toComplete, ",")
		items, d := fn(cmd, args, toComplete[i+1:])
		if i < 0 {
			return items, d
		}
		given := map[string]bool{}
		for _, g := range strings.Split(toComplete[:i], ",") {
			given[g] = true
		}
		var out []string
		for _, it := range items {
			if id, _, _ := strings.Cut(it, "\t"); !given[id] {
				out = append(out, toComplete[:i+1]+it)
			}
		}
		return out, d
	}
}

func fixed(values ...string) completeFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, noFiles
	}
}

func fileExt(exts ...string) completeFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// statusNames are the statuses report list filters by.
func statusNames() []string {
	var out []string
	for _, s := range []store.Status{store.StatusPassed, store.StatusFailed, store.StatusError, store.StatusTimeout,
		store.StatusInterrupted, store.StatusAbandoned, store.StatusRunning} {
		out = append(out, string(s))
	}
	return out
}
