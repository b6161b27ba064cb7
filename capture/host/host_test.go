package host

import (
	"context"
	"image"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/devicetest"
	"github.com/vpt-dev/vpt/internal/testenv"
)

// xvfb starts a virtual X display for the test (testenv.Xvfb).
func xvfb(t *testing.T) (string, *os.Process) {
	t.Helper()
	testenv.NeedTools(t, "ffmpeg", "ffprobe", "xdotool", "xdpyinfo")
	return testenv.Xvfb(t)
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
