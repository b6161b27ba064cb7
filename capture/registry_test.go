package capture

import (
	"strings"
	"testing"
)

func TestDeviceTools(t *testing.T) {
	for _, c := range []struct {
		dev   DeviceConfig
		video bool
		want  string
	}{
		{DeviceConfig{ID: "v", Model: "virtual"}, false, ""},
		{DeviceConfig{ID: "v", Model: "virtual"}, true, "ffmpeg ffprobe"},
		{DeviceConfig{ID: "a", Model: "android_tv", ADB: "10.0.0.5:5555"}, false, "adb"},
		{DeviceConfig{ID: "h", Model: "stb", Video: "/dev/video0", IR: IRConfig{Keymap: "samsung"}}, false, "ffmpeg ffprobe ir-ctl"},
		{DeviceConfig{ID: "h", Model: "stb", Video: "/dev/video0", IR: IRConfig{Keymap: "eos", Tool: "irsend"}}, false, "ffmpeg ffprobe irsend"},
		{DeviceConfig{ID: "h", Model: "fire_tv", Video: "/dev/video0", ADB: "10.0.0.6:5555"}, false, "ffmpeg ffprobe adb"},
		{DeviceConfig{ID: "x", Model: "host", Display: ":99"}, false, "ffmpeg ffprobe xdotool"},
	} {
		if got := strings.Join(c.dev.Tools(c.video), " "); got != c.want {
			t.Errorf("%+v (video %v): %q, want %q", c.dev, c.video, got, c.want)
		}
	}
}
