package cmd

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/internal/yamlfile"
)

func newUICmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "List, show, check userinterfaces and capture their reference images",
		Long: `Userinterfaces are YAML files in userinterfaces_dir (default userinterfaces/):
the screens of a device (nodes) and the remote actions between them (edges).
vpt.goto(node) finds the shortest path and verifies each screen it reaches.`,
	}
	cmd.AddCommand(newUIListCmd(app), newUIShowCmd(app), newUICheckCmd(app), newUIReferenceCmd(app))
	return cmd
}

func uiLibrary(app *App) (ui.Library, error) {
	cfg, err := app.Config()
	if err != nil {
		return ui.Library{}, err
	}
	return ui.Library{Dir: cfg.UserInterfacesDir}, nil
}

func newUIListCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the userinterfaces",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := uiLibrary(app)
			if err != nil {
				return err
			}
			type row struct {
				Name  string `json:"name"`
				Nodes int    `json:"nodes"`
				Edges int    `json:"edges"`
				File  string `json:"file"`
				Error string `json:"error,omitempty"`
			}
			var rows []row
			for _, name := range lib.Names() {
				r := row{Name: name, File: "(built in)"}
				u, err := lib.Find(name)
				if err != nil {
					r.Error = firstLine(err.Error())
				} else {
					r.Nodes, r.Edges = len(u.Nodes), len(u.Edges)
					if u.File != "" {
						r.File = u.File
					}
				}
				rows = append(rows, r)
			}
			if app.jsonOut {
				return printJSON(app, rows)
			}
			tw := newTable(app.IO.Out)
			fmt.Fprintln(tw, "NAME\tNODES\tEDGES\tFILE")
			for _, r := range rows {
				if r.Error != "" {
					fmt.Fprintf(tw, "%s\t-\t-\t%s (invalid: vpt ui check %s)\n", r.Name, r.File, r.Name)
					continue
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", r.Name, r.Nodes, r.Edges, r.File)
			}
			return tw.Flush()
		},
	}
}

func newUIShowCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show the nodes and edges of a userinterface",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := uiLibrary(app)
			if err != nil {
				return err
			}
			u, err := lib.Find(args[0])
			if err != nil {
				return err
			}
			if app.jsonOut {
				return printJSON(app, u)
			}
			w := app.IO.Out
			fmt.Fprintf(w, "%s", u.Name)
			if u.Description != "" {
				fmt.Fprintf(w, ": %s", u.Description)
			}
			fmt.Fprintf(w, "\nentry: %s\n\nnodes:\n", u.Entry)
			for _, n := range u.Nodes {
				var vs []string
				for _, v := range n.Verifications {
					switch v.Type {
					case "image":
						vs = append(vs, "image "+v.Reference)
					case "text":
						vs = append(vs, fmt.Sprintf("text %q", v.Text))
					default:
						vs = append(vs, v.Type)
					}
				}
				fmt.Fprintf(w, "  %-20s %-20s %s\n", n.ID, n.Label, strings.Join(vs, ", "))
			}
			fmt.Fprintln(w, "\nedges:")
			for _, e := range u.Edges {
				var as []string
				for _, a := range e.Actions {
					as = append(as, a.String())
				}
				fmt.Fprintf(w, "  %-20s → %-20s %s\n", e.From, e.To, strings.Join(as, ", "))
			}
			if un := u.Unreachable(); len(un) > 0 {
				fmt.Fprintf(w, "\nunreachable from %s: %s\n", u.Entry, strings.Join(un, ", "))
			}
			return nil
		},
	}
}

func newUICheckCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "check [NAME|FILE]...",
		Short: "Validate userinterfaces (every one when none is named)",
		Long: `Validate userinterface files and print every problem with its file, line and
field. Nodes that no path from the entry node reaches are reported too.
Exits 2 when a file is invalid.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := uiLibrary(app)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = lib.Names()
			}
			bad := 0
			checks := make([]uiCheckView, 0, len(args))
			for _, a := range args {
				c := checkUI(lib, a)
				if !c.Valid {
					bad++
				}
				checks = append(checks, c)
			}
			if app.jsonOut {
				if err := printJSON(app, checks); err != nil {
					return err
				}
			} else {
				printUIChecks(app.IO.Out, checks)
			}
			if bad > 0 {
				return fmt.Errorf("%w: %d userinterface(s)", ui.ErrInvalid, bad)
			}
			return nil
		},
	}
}

func newUIReferenceCmd(app *App) *cobra.Command {
	var device, name, region, out string
	cmd := &cobra.Command{
		Use:   "reference NODE --device D",
		Short: "Capture a node's reference image from a device",
		Long: `Navigate a device to NODE and save its screenshot (or a region of it) as the
reference image of the node's image verification, beside the userinterface:
<userinterfaces_dir>/<ui>/<node>.png. The region is the one the node's image
verification searches unless --region says otherwise, and must lie on the
screen. NODE itself is not verified on arrival, so a broken reference can be
captured again. The file is written in the format its name says (.png, .jpg).`,
		Example: `  vpt ui reference live --device device1 --region 40,10,600,100`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rect, err := parseRegion(region)
			if err != nil {
				return err
			}
			return runUIReference(cmd.Context(), app, executor.ReferenceRequest{DeviceID: device, UserInterface: name,
				Node: args[0], Region: rect, Output: out})
		},
	}
	stringOnce(cmd.Flags(), &device, "device", "d", "device1", "device `id` to capture from")
	cmd.Flags().StringVarP(&name, "userinterface", "u", "", "userinterface `name` (default: the device's)")
	cmd.Flags().StringVar(&region, "region", "", "crop to `x,y,width,height` (default: the region of the node's image verification)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "image `file` (default: the node's reference, or <ui>/<node>.png)")
	return cmd
}

func runUIReference(ctx context.Context, app *App, req executor.ReferenceRequest) error {
	cfg, reg, err := app.Registry()
	if err != nil {
		return err
	}
	if req.UserInterface == "" {
		dc, err := reg.Config(req.DeviceID)
		if err != nil {
			return err
		}
		if req.UserInterface = dc.UserInterface; req.UserInterface == "" {
			return &usageError{msg: "which userinterface? device " + req.DeviceID + " has none", hint: "pass --userinterface NAME"}
		}
	}
	ref, err := executor.CaptureReference(ctx, reg, ui.Library{Dir: cfg.UserInterfacesDir}, app.Notice, req)
	if err != nil {
		return err
	}
	if app.jsonOut {
		v := referenceView{Path: ref.Path, Width: ref.Size.X, Height: ref.Size.Y, Node: ref.Node,
			UIFile: ref.UIFile, Verification: ref.Verification}
		if r := ref.Region; !r.Empty() {
			v.Region = []int{r.Min.X, r.Min.Y, r.Dx(), r.Dy()}
		}
		return printJSON(app, v)
	}
	fmt.Fprintf(app.IO.Out, "saved %s (%dx%d)\n", ref.Path, ref.Size.X, ref.Size.Y)
	if ref.Verification != "" {
		fmt.Fprintf(app.IO.Out, "add to node %s in %s:\n  %s\n", ref.Node, ref.UIFile, ref.Verification)
	}
	return nil
}

// referenceView is `vpt ui reference --json`: the picture saved.
type referenceView struct {
	Path   string `json:"path"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Region is the part of the screen saved, [x, y, width, height]
	// (absent: the whole screen).
	Region []int  `json:"region,omitempty"`
	Node   string `json:"node"`
	UIFile string `json:"userinterface_file,omitempty"`
	// Verification is the image verification to add to the node's YAML
	// ("" when the node has one).
	Verification string `json:"verification,omitempty"`
}

func parseRegion(s string) (image.Rectangle, error) {
	if s == "" {
		return image.Rectangle{}, nil
	}
	parts := strings.Split(s, ",")
	var v [4]int
	if len(parts) == 4 {
		for i, p := range parts {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				break
			}
			v[i] = n
		}
	}
	if len(parts) != 4 || v[2] <= 0 || v[3] <= 0 {
		return image.Rectangle{}, &usageError{msg: fmt.Sprintf("--region %q: expected x,y,width,height", s), hint: "for example --region 40,10,600,100"}
	}
	return image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), nil
}

// uiCheckView is one userinterface in `vpt ui check --json`.
type uiCheckView struct {
	Name  string `json:"name"`           // as given, or the library's name
	File  string `json:"file,omitempty"` // "" for a built-in one
	Valid bool   `json:"valid"`
	Nodes int    `json:"nodes"`
	Edges int    `json:"edges"`
	// Unreachable nodes: no path from the entry node reaches them (a
	// warning: the file is valid).
	Unreachable []string      `json:"unreachable"`
	Problems    []problemView `json:"problems"`
	entry       string        // the entry node, which the warning names
}

// problemView is a problem of a file, where it is and how to fix it.
type problemView struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// checkUI loads and checks a userinterface named or given by file.
func checkUI(lib ui.Library, a string) uiCheckView {
	c := uiCheckView{Name: a, Unreachable: []string{}, Problems: []problemView{}}
	var u *ui.UI
	var err error
	if strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml") {
		c.File = a
		u, err = ui.Load(a)
	} else {
		u, err = lib.Find(a)
	}
	if err != nil {
		var ps yamlfile.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				c.Problems = append(c.Problems, problemView{File: p.File, Line: p.Line, Column: p.Col, Field: p.Field, Message: p.Msg, Hint: p.Hint})
			}
		} else {
			c.Problems = append(c.Problems, problemView{File: a, Message: err.Error()})
		}
		return c
	}
	c.Valid, c.File, c.Nodes, c.Edges = true, u.File, len(u.Nodes), len(u.Edges)
	if un := u.Unreachable(); len(un) > 0 {
		c.Unreachable = un
	}
	c.entry = u.Entry
	return c
}

func printUIChecks(w io.Writer, checks []uiCheckView) {
	for _, c := range checks {
		if !c.Valid {
			for _, p := range c.Problems {
				fmt.Fprintln(w, yamlfile.Problem{File: p.File, Line: p.Line, Col: p.Column, Field: p.Field, Msg: p.Message, Hint: p.Hint}.Error())
			}
			continue
		}
		where := c.File
		if where == "" {
			where = c.Name + " (built in)"
		}
		msg := fmt.Sprintf("%s: ok, %d nodes, %d edges", where, c.Nodes, c.Edges)
		if len(c.Unreachable) > 0 {
			msg += fmt.Sprintf("; warning: not reachable from %s: %s", c.entry, strings.Join(c.Unreachable, ", "))
		}
		fmt.Fprintln(w, msg)
	}
}
