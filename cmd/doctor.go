package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/ocr"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/tool"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// check is one line of `vpt doctor`.
type check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

func newDoctorCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check python, ffmpeg, adb, ir-ctl, the store and upload settings",
		Long: `Check what vpt needs on this machine and say how to fix what is missing:
the Python interpreter, ffmpeg and ffprobe (video), adb (Android devices),
ir-ctl or irsend (IR remotes), xdotool (host display), tesseract (reading
text on screen) and its languages, the results folder
and store, the upload settings, and every configured device.
Exits 3 when something required is missing or a device does not answer;
-q prints only what is wrong.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			checks, err := runDoctor(cmd.Context(), app)
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.OK && c.Required {
					failed++
				}
			}
			if app.jsonOut {
				if err := printJSON(app, checks); err != nil {
					return err
				}
			} else {
				color := app.IO.ColorOut()
				for _, c := range checks {
					if c.OK && app.quiet {
						continue // -q: only what is wrong
					}
					mark := paint(color, "32", "ok  ")
					switch {
					case !c.OK && c.Required:
						mark = paint(color, "31", "FAIL")
					case !c.OK:
						mark = paint(color, "33", "warn")
					}
					fmt.Fprintf(app.IO.Out, "%s %-14s %s\n", mark, c.Name, c.Detail)
					if !c.OK && c.Fix != "" {
						fmt.Fprintf(app.IO.Out, "     %-14s fix: %s\n", "", c.Fix)
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("%w: %d of them", errChecksFailed, failed)
			}
			return nil
		},
	}
}

func runDoctor(ctx context.Context, app *App) ([]check, error) {
	cfg, reg, err := app.Registry()
	if err != nil {
		return nil, err
	}
	checks := []check{configCheck(cfg), pythonCheck(ctx, cfg), pythonLibCheck(),
		folderCheck("scripts", cfg.ScriptsDir, cfg.set["scripts_dir"], "scripts_dir",
			"vpt run and campaigns find scripts by name there (vpt run can run a path anyway)"),
		folderCheck("userinterfaces", cfg.UserInterfacesDir, cfg.set["userinterfaces_dir"], "userinterfaces_dir",
			"only the built-in virtual_tv is known")}
	checks = append(checks, toolChecks(ctx, cfg, reg)...)
	checks = append(checks, ocrCheck(ctx, cfg), resultsCheck(cfg), storeCheck(ctx, app, cfg), uploadCheck(ctx, app, cfg))
	for _, d := range reg.CheckAll(ctx, 10*time.Second) {
		// A configured device that does not answer fails, as in vpt devices.
		c := check{Name: "device " + d.ID, Required: true, OK: d.OK, Detail: fmt.Sprintf("%s (%s)", d.Name, d.Model)}
		if !d.OK {
			c.Detail += ": " + d.Error
		}
		checks = append(checks, c)
	}
	return checks, nil
}

func configCheck(cfg *Config) check {
	if cfg.File != "" {
		return check{Name: "config", OK: true, Detail: cfg.File}
	}
	return check{Name: "config", OK: true, Detail: "no vpt.yaml: defaults (virtual device1, SQLite in " + cfg.ResultsDir + ")"}
}

// pythonCheck finds the interpreter runs use: the project's venv, else
// python:.
func pythonCheck(ctx context.Context, cfg *Config) check {
	python := cfg.Python
	if venv := filepath.Join(cfg.ProjectRoot, "venv", "bin", "python"); fileExists(venv) {
		python = venv
	}
	min := fmt.Sprintf("%d.%d", executor.MinPython[0], executor.MinPython[1])
	py := tool.Find(ctx, "python3", python)
	c := check{Name: "python", Required: true, OK: py.Err == nil,
		Fix: "install Python " + min + " or later (apt-get install python3), or set python: in vpt.yaml"}
	if py.Err != nil {
		c.Detail = fmt.Sprintf("%s not found", python)
		return c
	}
	c.Detail = fmt.Sprintf("%s %s", py.Path, py.Version)
	if !pythonAtLeast(py.Version, executor.MinPython[0], executor.MinPython[1]) {
		c.OK, c.Detail = false, c.Detail+": the vpt library needs Python "+min+" or later"
	}
	return c
}

func pythonLibCheck() check {
	lib, err := executor.PythonLibDir()
	if err != nil {
		return check{Name: "python lib", Required: true, Detail: err.Error(), Fix: "make the user cache folder writable"}
	}
	return check{Name: "python lib", OK: true, Detail: lib}
}

// toolChecks finds each external program; one a configured device needs
// (capture says which) is required.
func toolChecks(ctx context.Context, cfg *Config, reg *capture.Registry) []check {
	needs := map[string][]string{}
	for _, d := range reg.Devices() {
		for _, t := range d.Tools(cfg.Video.Mode != "off") {
			needs[t] = append(needs[t], d.ID)
		}
	}
	tools := []struct{ kind, name string }{
		{"ffmpeg", cfg.Tools.FFmpeg}, {"ffprobe", cfg.Tools.FFprobe}, {"adb", cfg.Tools.ADB},
		{"ir-ctl", cfg.Tools.IRCtl}, {"irsend", cfg.Tools.IRSend}, {"xdotool", cfg.Tools.XDoTool},
	}
	var out []check
	for _, tl := range tools {
		t := tool.Find(ctx, tl.kind, tl.name)
		users := needs[tl.kind]
		c := check{Name: tl.kind, OK: t.Err == nil, Required: len(users) > 0}
		switch {
		case t.Err == nil:
			c.Detail = fmt.Sprintf("%s %s", t.Path, t.Version)
		case len(users) > 0:
			c.Detail = fmt.Sprintf("not found; needed by %s", strings.Join(users, ", "))
			c.Fix = t.Install
		default:
			c.Detail = "not found (no configured device needs it)"
			c.Fix = t.Install
		}
		out = append(out, c)
	}
	return out
}

func resultsCheck(cfg *Config) check {
	c := check{Name: "results", Required: true, Fix: "choose a writable folder with --results-dir or results_dir:"}
	if err := writable(cfg.ResultsDir); err != nil {
		c.Detail = err.Error()
	} else {
		c.OK, c.Detail = true, cfg.ResultsDir
	}
	return c
}

func storeCheck(ctx context.Context, app *App, cfg *Config) check {
	c := check{Name: "store", Required: true, Detail: store.Redact(cfg.Store)}
	st, err := app.Store(ctx)
	if err != nil {
		c.Detail += ": " + err.Error()
		c.Fix = "check the store URL (--store, store:) and that the database server runs"
		return c
	}
	c.OK = true
	if n, err := st.ListResults(ctx, store.ResultFilter{Limit: 1}); err == nil && len(n) > 0 {
		c.Detail += ", last run " + n[0].StartedAt.Local().Format(time.DateTime)
	}
	return c
}

// folderCheck checks that a configured folder exists: required when the
// configuration names it (a typo there fails every run by name), a
// warning when it is the default.
func folderCheck(name, dir string, set bool, key, without string) check {
	c := check{Name: name, Required: set}
	st, err := os.Stat(dir)
	switch {
	case err == nil && st.IsDir():
		c.OK, c.Detail = true, dir
	case err == nil:
		c.Detail = dir + " is a file, not a folder"
		c.Fix = "set " + key + ": to a folder"
	case set:
		c.Detail = dir + " does not exist"
		c.Fix = "create it, or fix " + key + ": (vpt.yaml, VPT_" + strings.ToUpper(key) + ")"
	default:
		c.Detail = dir + " does not exist: " + without
		c.Fix = "create " + dir + ", or set " + key + ": in vpt.yaml"
	}
	return c
}

func pythonAtLeast(version string, major, minor int) bool {
	parts := strings.Split(version, ".")
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma > major || ma == major && mi >= minor)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writable checks that a folder exists or can be made, and takes a file.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".vpt-doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// uploadCheck checks the upload settings and, when they are complete,
// that the bucket answers.
func uploadCheck(ctx context.Context, app *App, cfg *Config) check {
	u := cfg.Upload
	c := check{Name: "upload", Required: u.Enabled}
	up, err := app.Uploader(ctx)
	if err != nil {
		if !u.Enabled {
			c.OK, c.Detail = true, "off"
			return c
		}
		c.Detail = err.Error()
		c.Fix = "set upload: in vpt.yaml or the CLOUDFLARE_R2_* variables"
		return c
	}
	mode := "presigned URLs valid " + u.Presign.String()
	if u.PublicURL != "" {
		mode = "public URLs under " + u.PublicURL
	}
	c.Detail = fmt.Sprintf("bucket %s at %s, %s", u.Bucket, u.Endpoint, mode)
	if dir, ok := strings.CutPrefix(u.Endpoint, "file://"); ok {
		c.Detail = "folder " + dir
	}
	if err := up.Check(ctx); err != nil {
		c.Detail += ": " + err.Error()
		c.Fix = "check the endpoint, the bucket name and the keys"
		return c
	}
	c.OK = true
	if !u.Enabled {
		c.Detail += " (configured; use --upload or upload.enabled: true)"
	}
	return c
}

// ocrCheck finds tesseract and its languages: required when a
// userinterface verifies a screen by its text, else a warning (vpt.ocr and
// match_text need it).
func ocrCheck(ctx context.Context, cfg *Config) check {
	lib := ui.Library{Dir: cfg.UserInterfacesDir}
	var users []string
	for _, name := range lib.Names() {
		if u, err := lib.Find(name); err == nil && usesText(u) {
			users = append(users, name)
		}
	}
	t := tool.Find(ctx, "tesseract", cfg.Tools.Tesseract)
	c := check{Name: "tesseract", Required: len(users) > 0, Fix: t.Install}
	if len(users) > 0 {
		c.Fix += " (text verifications of " + strings.Join(users, ", ") + ")"
	}
	switch {
	case t.Err != nil && len(users) > 0:
		c.Detail = "not found; the text verifications of " + strings.Join(users, ", ") + " need it"
	case t.Err != nil:
		c.Detail = "not found (vpt.ocr, match_text and text verifications need it)"
	default:
		langs := cfg.OCR.Languages
		if err := ocr.New(t.Path, langs...).Check(ctx); err != nil {
			c.Detail, c.Fix = fmt.Sprintf("%s %s: %v", t.Path, t.Version, err), "apt-get install tesseract-ocr-LANG for each of "+strings.Join(langs, ", ")
		} else {
			c.OK, c.Detail = true, fmt.Sprintf("%s %s, reads %s", t.Path, t.Version, strings.Join(langs, "+"))
		}
	}
	return c
}

func usesText(u *ui.UI) bool {
	for _, n := range u.Nodes {
		for _, v := range n.Verifications {
			if v.Type == ui.VerifyText {
				return true
			}
		}
	}
	return false
}
