package host

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/capturetest"
)

// xvfb starts a virtual X display for the test. Xvfb picks a free display
// number itself and writes it to a pipe once it accepts connections, so a
// socket left behind by an earlier killed server cannot be mistaken for it.
// -noreset keeps the server up between clients: by default Xvfb resets when
// its last client leaves, and a client connecting during the reset (xdotool
// right after another xdotool, before ffmpeg has connected) is refused.
func xvfb(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"Xvfb", "ffmpeg", "xdotool"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed", p)
		}
	}
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
	return ":" + strings.TrimSpace(line)
}

func TestDisplayUnderXvfb(t *testing.T) {
	display := xvfb(t)
	d := New(capture.DeviceConfig{ID: "host", Model: "host", Display: display}, capture.Environment{})
	defer d.Close()
	ctx := context.Background()
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.Info().Has(capture.CapKeys) {
		t.Fatal("xdotool is installed but keys are not offered")
	}
	img, err := d.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 1024 || img.Bounds().Dy() != 768 {
		t.Fatalf("frame %v, want the display's 1024x768", img.Bounds())
	}
	dir := t.TempDir()
	rec, err := d.StartVideo(ctx, dir, capture.DefaultVideoOptions)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.Press(ctx, "OK"); err != nil {
		t.Fatal(err)
	}
	if err := d.Tap(ctx, 10, 10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := rec.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	capturetest.CheckVideoLength(t, dir, wall)
}

func TestDeadDisplay(t *testing.T) {
	if _, err := exec.LookPath("xdpyinfo"); err != nil {
		t.Skip("xdpyinfo not installed")
	}
	d := New(capture.DeviceConfig{ID: "host", Model: "host", Display: ":4321", Resolution: "640x480"}, capture.Environment{})
	if err := d.Check(context.Background()); err == nil {
		t.Fatal("a display that does not exist answered")
	}
}

func TestKeyArgs(t *testing.T) {
	for key, want := range map[string]string{"ok": "Return", "BACK": "Escape", "ctrl+l": "ctrl+l", "DPAD_UP": "Up"} {
		if got := KeyArgs("xdotool", key); got[3] != want {
			t.Errorf("%s: %v", key, got)
		}
	}
}

func TestKeyToDeadDisplay(t *testing.T) {
	if _, err := exec.LookPath("xdotool"); err != nil {
		t.Skip("xdotool not installed")
	}
	d := New(capture.DeviceConfig{ID: "host", Model: "host", Display: ":4321"}, capture.Environment{})
	err := d.Press(context.Background(), "OK")
	if err == nil || !strings.Contains(err.Error(), "Can't open display") {
		t.Fatalf("a key to a display that does not exist: %v", err)
	}
}
