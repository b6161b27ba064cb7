package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// xvfb starts a virtual X display for the test.
func xvfb(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"Xvfb", "ffmpeg", "xdotool"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed", p)
		}
	}
	display := fmt.Sprintf(":%d", 90+os.Getpid()%500)
	cmd := exec.Command("Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sock := "/tmp/.X11-unix/X" + display[1:]
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			return display
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("Xvfb did not start")
	return ""
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
	out := filepath.Join(dir, "video.mp4")
	if err := capture.Finalise(ctx, "ffmpeg", dir, out, "copy"); err != nil {
		t.Fatal(err)
	}
	got, err := capture.ProbeDuration(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := got - wall; diff > time.Second || diff < -time.Second {
		t.Fatalf("video %s, recording %s", got, wall)
	}
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
