package safename

import (
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"adb:10.0.0.5:5555": "adb_10.0.0.5_5555",
		"hdmi:/dev/video0":  "hdmi__dev_video0",
		"host::99":          "host__99",
		"Zap test_2-b.py":   "Zap_test_2-b.py",
		"écran":             "_cran",
		"virtual:device1":   "virtual_device1",
	} {
		if got := Key(in, 0); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Key(strings.Repeat("a", 100), 80); len(got) != 80 {
		t.Errorf("Key cut to %d bytes, want 80", len(got))
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Home Screen (after zap)": "home-screen-after-zap",
		"initial":                 "initial",
		"  --x--  ":               "x",
		"step_1 end":              "step_1-end",
		"!!!":                     "shot",
		"":                        "shot",
	} {
		if got := Slug(in, 40, "shot"); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Slug(strings.Repeat("ab ", 40), 40, "shot"); len(got) > 41 {
		t.Errorf("Slug not cut: %d bytes", len(got))
	}
}
