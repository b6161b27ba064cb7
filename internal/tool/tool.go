// Package tool finds the external programs vpt may run (python, ffmpeg,
// ffprobe, adb, ir-ctl, irsend, xdotool, Xvfb), asks their versions and says
// how to install a missing one, for vpt doctor.
package tool

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/internal/lazyre"
)

// Info is what was found of a program.
type Info struct {
	Name    string // as configured: ffmpeg, adb, /opt/bin/ir-ctl
	Path    string // where it was found
	Version string
	Err     error
	// Install says how to get it on Debian.
	Install string
}

// versionArgs are how each program tells its version.
var versionArgs = map[string][]string{
	"ffmpeg": {"-hide_banner", "-version"}, "ffprobe": {"-hide_banner", "-version"}, "adb": {"version"},
	"ir-ctl": {"--version"}, "irsend": {"--version"}, "xdotool": {"--version"}, "python3": {"--version"},
	"python": {"--version"}, "Xvfb": {"-version"}, "tesseract": {"--version"},
}

// Install hints for Debian.
var installHints = map[string]string{
	"ffmpeg": "apt-get install ffmpeg", "ffprobe": "apt-get install ffmpeg", "adb": "apt-get install adb",
	"ir-ctl": "apt-get install v4l-utils", "irsend": "apt-get install lirc", "xdotool": "apt-get install xdotool",
	"python3": "apt-get install python3", "python": "apt-get install python3",
	"tesseract": "apt-get install tesseract-ocr tesseract-ocr-eng",
}

var versionRe = lazyre.New(`\d+\.\d+(\.\d+)?`)

// Find looks a program up by its configured name (a name on PATH or a
// path) and asks its version; kind is what program it is ("ffmpeg").
func Find(ctx context.Context, kind, name string) Info {
	t := Info{Name: name, Install: installHints[kind]}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Err = err
		return t
	}
	t.Path = path
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, versionArgs[kind]...).CombinedOutput()
	first := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	if m := versionRe().FindString(first); m != "" {
		t.Version = m
	} else {
		t.Version = first
	}
	return t
}

// Missing tells that err, from running a program, says the program is not
// there: a name not on PATH, or a configured path to nothing (fork/exec
// finds no file). Any other error, a missing input file among them, is
// not.
func Missing(err error) bool {
	var pe *fs.PathError
	return errors.Is(err, exec.ErrNotFound) ||
		errors.As(err, &pe) && pe.Op == "fork/exec" && errors.Is(pe.Err, fs.ErrNotExist)
}
