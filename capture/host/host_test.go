package host

import (
	"bufio"
	"context"
	"image"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/devicetest"
	"github.com/vpt-dev/vpt/internal/testenv"
)

// xvfb starts a virtual X display for the test. Xvfb picks a free display
// number itself and writes it to a pipe once it accepts connections, so a
// socket left behind by an earlier killed server cannot be mistaken for it.
// -noreset keeps the server up between clients: by default Xvfb resets when
// its last client leaves, and a client connecting during the reset (xdotool
// right after another xdotool, before ffmpeg has connected) is refused.
// It returns the display and the server's process.
func xvfb(t *testing.T) (string, *os.Process) {
	t.Helper()
	testenv.NeedTools(t, "Xvfb", "ffmpeg", "ffprobe", "xdotool", "xdpyinfo")
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

// The device contract on a display under Xvfb; a display whose server is
// stopped (SIGSTOP: it takes connections and answers nothing) checks that
// every call honours its context, the capture pipeline's screenshots
// included.
func TestConformance(t *testing.T) {
	display, _ := xvfb(t)
	devicetest.Run(t, func(t *testing.T) capture.Device {
		return New(capture.DeviceConfig{ID: "host", Model: "host", Display: display}, capture.Environment{})
	}, devicetest.Caps{
		Size: image.Pt(1024, 768), Keys: true, Tap: true, Text: true, Swipe: true, Video: true,
		Slow: func(t *testing.T) capture.Device {
			display, server := xvfb(t)
			d := New(capture.DeviceConfig{ID: "host", Model: "host", Display: display}, capture.Environment{})
			if err := server.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				server.Signal(syscall.SIGCONT)
				d.Close()
			})
			return d
		},
		SlowCalls: []string{devicetest.CallCheck, devicetest.CallScreenshot, devicetest.CallPress, devicetest.CallTap,
			devicetest.CallText, devicetest.CallSwipe},
	})
}

func TestDeadDisplay(t *testing.T) {
	testenv.NeedTools(t, "xdpyinfo")
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
	testenv.NeedTools(t, "xdotool")
	d := New(capture.DeviceConfig{ID: "host", Model: "host", Display: ":4321"}, capture.Environment{})
	err := d.Press(context.Background(), "OK")
	if err == nil || !strings.Contains(err.Error(), "Can't open display") {
		t.Fatalf("a key to a display that does not exist: %v", err)
	}
}
