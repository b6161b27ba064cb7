// Package testenv tells tests whether this machine has the programs and
// servers they need (ffmpeg, Xvfb, chromium, the PostgreSQL and S3 servers
// scripts/test starts). When one is missing, the test is skipped with a
// message naming what to install, or, when VPT_REQUIRE_SERVICES=1 (CI sets
// it), fails: in CI every test must run, none may be skipped for something
// the machine lacks.
package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireVar is the variable that makes a missing program or server a
// failure instead of a skip.
const RequireVar = "VPT_REQUIRE_SERVICES"

// Required reports whether a missing program or server fails the test.
func Required() bool { return os.Getenv(RequireVar) == "1" }

// Missing ends t for something the machine lacks: a failure when Required,
// else a skip. The message says what is missing and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: every test must run)", msg, RequireVar)
	}
	t.Skipf("skipped: %s (with %s=1 this fails)", msg, RequireVar)
}

// packages names the Debian package of a program the tests use.
var packages = map[string]string{
	"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "adb": "adb", "Xvfb": "xvfb", "xdotool": "xdotool",
	"xdpyinfo": "x11-utils", "chromium": "chromium", "chromedriver": "chromium-driver", "xmllint": "libxml2-utils",
	"tesseract": "tesseract-ocr", "ir-ctl": "v4l-utils", "python3": "python3", "sqlite3": "sqlite3", "unshare": "util-linux",
}

// NeedTools ends t (Missing) unless every program is on PATH.
func NeedTools(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			pkg := packages[p]
			if pkg == "" {
				pkg = "the package that has it"
			}
			Missing(t, "%s is not installed (apt-get install %s; .ci/run installs it in CI)", p, pkg)
		}
	}
}

// NeedPython3Module ends t (Missing) unless Debian's python3 imports
// module; pkg is the Debian package that has it.
func NeedPython3Module(t testing.TB, module, pkg string) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import "+module).Run(); err != nil {
		Missing(t, "the python3 module %s is not installed (apt-get install %s)", module, pkg)
	}
}

// Server returns the value of the variable through which scripts/test
// names a server it started (VPT_TEST_POSTGRES, VPT_TEST_S3_ENDPOINT), or
// ends t (Missing) when it is unset.
func Server(t testing.TB, variable, what string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v == "" {
		Missing(t, "%s is not set: run scripts/test, which starts %s", variable, what)
	}
	return v
}

// Xvfb starts a virtual X display for the test. Xvfb picks a free display
// number itself and writes it to a pipe once it accepts connections, so a
// socket left behind by an earlier killed server cannot be mistaken for it.
// -noreset keeps the server up between clients: by default Xvfb resets when
// its last client leaves, and a client connecting during the reset (xdotool
// right after another xdotool, before ffmpeg has connected) is refused.
// It returns the display and the server's process.
func Xvfb(t *testing.T) (string, *os.Process) {
	t.Helper()
	NeedTools(t, "Xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not start: %v", err)
	}
	return ":" + strings.TrimSpace(line), cmd.Process
}
