package capture

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Tool is an external program vpt may need.
type Tool struct {
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

var versionRe = regexp.MustCompile(`\d+\.\d+(\.\d+)?`)

// FindTool looks a program up and asks its version.
func FindTool(ctx context.Context, kind, name string) Tool {
	t := Tool{Name: name, Install: installHints[kind]}
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
	if m := versionRe.FindString(first); m != "" {
		t.Version = m
	} else {
		t.Version = first
	}
	return t
}
