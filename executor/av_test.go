package executor

import (
	"errors"
	"image"
	"strings"
	"testing"
	"time"
)

func TestAVParams(t *testing.T) {
	frame := image.Rect(0, 0, 1280, 720)
	for _, c := range []struct {
		region []int
		want   image.Rectangle
		err    string
	}{
		{nil, image.Rectangle{}, ""},
		{[]int{0, 0, 1280, 120}, image.Rect(0, 0, 1280, 120), ""},
		{[]int{1, 2, 3}, image.Rectangle{}, "region is [x, y, width, height], got 3 numbers"},
		{[]int{0, 0, 1281, 10}, image.Rectangle{}, "region [0, 0, 1281, 10] is outside the 1280x720 frame"},
		{[]int{-1, 0, 10, 10}, image.Rectangle{}, "outside the 1280x720 frame"},
		{[]int{0, 0, 10, -5}, image.Rectangle{}, "has no area"},
	} {
		got, err := avRegion("m", c.region, frame)
		var ae *APIError
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%v: %v %v", c.region, got, err)
		case c.err != "" && (!errors.As(err, &ae) || ae.Code != CodeBadParams || !strings.Contains(ae.Message, c.err)):
			t.Errorf("%v: %v, want bad_params %q", c.region, err, c.err)
		}
	}
	neg, half := -1.0, 0.5
	if d, err := seconds("m", "timeout", nil, 10); err != nil || d != 10*time.Second {
		t.Errorf("default: %v %v", d, err)
	}
	if d, err := seconds("m", "stable", &half, 1); err != nil || d != 500*time.Millisecond {
		t.Errorf("0.5: %v %v", d, err)
	}
	if _, err := seconds("m", "timeout", &neg, 10); err == nil || !strings.Contains(err.Error(), "timeout -1 is negative") {
		t.Errorf("negative: %v", err)
	}
	if secs(1234567*time.Microsecond) != 1.235 {
		t.Error(secs(1234567 * time.Microsecond))
	}
}
