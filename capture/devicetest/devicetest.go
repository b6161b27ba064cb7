// Package devicetest is the conformance suite of capture.Device: the
// contract every driver keeps, checked against a real instance of it (the
// virtual device, Android through the stand-in adb, an HDMI pipeline fed
// by ffmpeg's test source, the host display under Xvfb). A driver's own
// tests check only what is particular to it.
//
// The contract: Info names the device and the capabilities it has; Check
// says it answers; Screenshot gives a picture of the device's size, during
// and after a recording too; a declared capability works and an undeclared
// one fails with capture.ErrNotSupported; an unknown key fails with
// capture.ErrUnknownKey; a recording leaves segments that ffmpeg turns
// into a video lasting as long as the recording; calls are safe from
// several goroutines; Close is idempotent; a call that waits on the device
// returns once its context is cancelled.
package devicetest

import (
	"context"
	"errors"
	"image"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/capturetest"
)

// Caps is what the device under test is expected to have.
type Caps struct {
	// Size is the size of its screenshots.
	Size image.Point
	// Keys, Tap, Text, Swipe, Video: the capabilities it declares and
	// that must work; those it lacks must fail with ErrNotSupported.
	Keys, Tap, Text, Swipe, Video bool
	// Key is a key it knows ("OK" when empty); UnknownKey one it must
	// refuse with ErrUnknownKey ("NO_SUCH_KEY" when empty).
	Key, UnknownKey string
	// Slow opens the same kind of device in a state where the calls named
	// in SlowCalls wait on the device (an hour's key latency, an adb that
	// does not answer, a source with no picture, a display that is
	// stopped). The opener closes it. Nil skips that part of the suite.
	Slow      func(t *testing.T) capture.Device
	SlowCalls []string
}

// Calls a Slow device can be asked to wait in.
const (
	CallCheck      = "Check"
	CallScreenshot = "Screenshot"
	CallPress      = "Press"
	CallTap        = "Tap"
	CallText       = "Text"
	CallSwipe      = "Swipe"
)

// promptly bounds how long a call may take to return once its context is
// cancelled: far longer than any call takes on a busy machine, far
// shorter than the waits a Slow device makes.
const promptly = 30 * time.Second

// recordFor is how long the recording check records.
const recordFor = 3 * time.Second

// Run checks the contract on devices open returns, one per subtest; the
// suite closes them.
func Run(t *testing.T, open func(t *testing.T) capture.Device, caps Caps) {
	if caps.Key == "" {
		caps.Key = "OK"
	}
	if caps.UnknownKey == "" {
		caps.UnknownKey = "NO_SUCH_KEY"
	}
	dev := func(t *testing.T) capture.Device {
		t.Helper()
		d := open(t)
		t.Cleanup(func() {
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return d
	}
	t.Run("Info", func(t *testing.T) { testInfo(t, dev(t), caps) })
	t.Run("Check", func(t *testing.T) {
		if err := dev(t).Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("Screenshot", func(t *testing.T) { testScreenshot(t, dev(t), caps) })
	t.Run("Press", func(t *testing.T) { testPress(t, dev(t), caps) })
	t.Run("Tap", func(t *testing.T) { testTap(t, dev(t), caps) })
	t.Run("Typer", func(t *testing.T) { testTyper(t, dev(t), caps) })
	t.Run("Video", func(t *testing.T) { testVideo(t, dev(t), caps) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, dev(t), caps) })
	t.Run("Close", func(t *testing.T) {
		d := open(t)
		if _, err := d.Screenshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := d.Close(); err != nil {
				t.Fatalf("Close %d: %v", i+1, err)
			}
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		if caps.Slow == nil {
			t.Skip("no slow device to check cancellation on")
		}
		testCancel(t, caps.Slow(t), caps)
	})
}

func testInfo(t *testing.T, d capture.Device, caps Caps) {
	info := d.Info()
	if info.ID == "" || info.Model == "" || info.Target == "" {
		t.Fatalf("Info names no id, model or target: %+v", info)
	}
	if !slices.Contains([]string{capture.DriverVirtual, capture.DriverADB, capture.DriverHDMI, capture.DriverHost}, info.Driver) {
		t.Fatalf("Info: driver %q", info.Driver)
	}
	for c, want := range map[string]bool{capture.CapScreenshot: true, capture.CapKeys: caps.Keys, capture.CapTap: caps.Tap,
		capture.CapText: caps.Text, capture.CapSwipe: caps.Swipe, capture.CapVideo: caps.Video} {
		if info.Has(c) != want {
			t.Errorf("Info: capability %s is %v, want %v (capabilities %v)", c, info.Has(c), want, info.Capabilities)
		}
	}
}

func testScreenshot(t *testing.T, d capture.Device, caps Caps) {
	for i := 0; i < 2; i++ {
		screenshot(t, d, caps, "screenshot")
	}
}

// screenshot takes one and fails t unless it has the device's size.
func screenshot(t *testing.T, d capture.Device, caps Caps, when string) image.Image {
	t.Helper()
	img, err := d.Screenshot(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if img == nil || img.Bounds().Size() != caps.Size {
		t.Fatalf("%s: a picture of %v, want %v", when, bounds(img), caps.Size)
	}
	return img
}

func bounds(img image.Image) any {
	if img == nil {
		return "nothing"
	}
	return img.Bounds().Size()
}

// declared fails t unless err fits the capability: nil when declared,
// ErrNotSupported when not.
func declared(t *testing.T, what string, has bool, err error) {
	t.Helper()
	switch {
	case has && err != nil:
		t.Errorf("%s, declared: %v", what, err)
	case !has && !errors.Is(err, capture.ErrNotSupported):
		t.Errorf("%s, not declared: %v, want ErrNotSupported", what, err)
	}
}

func testPress(t *testing.T, d capture.Device, caps Caps) {
	ctx := context.Background()
	declared(t, "Press "+caps.Key, caps.Keys, d.Press(ctx, caps.Key))
	if !caps.Keys {
		return
	}
	err := d.Press(ctx, caps.UnknownKey)
	if !errors.Is(err, capture.ErrUnknownKey) {
		t.Fatalf("Press %q, an unknown key: %v, want ErrUnknownKey", caps.UnknownKey, err)
	}
	if err := d.Press(ctx, caps.Key); err != nil {
		t.Fatalf("Press after an unknown key: %v", err)
	}
}

func testTap(t *testing.T, d capture.Device, caps Caps) {
	declared(t, "Tap", caps.Tap, d.Tap(context.Background(), 10, 20))
}

func testTyper(t *testing.T, d capture.Device, caps Caps) {
	typer, ok := d.(capture.Typer)
	if !ok {
		if caps.Text || caps.Swipe {
			t.Fatalf("%T declares text or swipe but is no capture.Typer", d)
		}
		return
	}
	ctx := context.Background()
	declared(t, "Text", caps.Text, typer.Text(ctx, "a b"))
	declared(t, "Swipe", caps.Swipe, typer.Swipe(ctx, 10, 20, 30, 40, 100*time.Millisecond))
}

// testVideo records for a few seconds, pressing a key and taking a
// screenshot meanwhile, and finalises the segments with real ffmpeg.
func testVideo(t *testing.T, d capture.Device, caps Caps) {
	ctx := context.Background()
	dir := t.TempDir()
	rec, err := d.StartVideo(ctx, dir, capture.DefaultVideoOptions)
	if !caps.Video {
		if !errors.Is(err, capture.ErrNotSupported) {
			t.Fatalf("StartVideo, not declared: %v, want ErrNotSupported", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("StartVideo: %v", err)
	}
	start := time.Now()
	time.Sleep(recordFor / 2)
	screenshot(t, d, caps, "screenshot while recording")
	if caps.Keys {
		if err := d.Press(ctx, caps.Key); err != nil {
			t.Fatalf("Press while recording: %v", err)
		}
	}
	time.Sleep(recordFor - time.Since(start))
	if err := rec.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wall := time.Since(start)
	if err := rec.Stop(ctx); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
	if segs, err := capture.Segments(dir); err != nil || len(segs) == 0 {
		t.Fatalf("no segments after the recording: %v", err)
	}
	capturetest.CheckVideoLength(t, dir, wall)
	screenshot(t, d, caps, "screenshot after the recording")
}

// testConcurrent calls the device from several goroutines at once, as the
// script API does; the race detector watches.
func testConcurrent(t *testing.T, d capture.Device, caps Caps) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				_ = d.Info()
				if _, err := d.Screenshot(ctx); err != nil {
					errs <- err
				}
				if caps.Keys && g%2 == 0 {
					if err := d.Press(ctx, caps.Key); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent call: %v", err)
	}
}

// testCancel asks a device that waits for each call in SlowCalls with a
// context cancelled a moment later: each must return an error promptly.
func testCancel(t *testing.T, d capture.Device, caps Caps) {
	calls := map[string]func(context.Context) error{
		CallCheck:      d.Check,
		CallScreenshot: func(ctx context.Context) error { _, err := d.Screenshot(ctx); return err },
		CallPress:      func(ctx context.Context) error { return d.Press(ctx, caps.Key) },
		CallTap:        func(ctx context.Context) error { return d.Tap(ctx, 10, 20) },
		CallText: func(ctx context.Context) error {
			return d.(capture.Typer).Text(ctx, "a b")
		},
		CallSwipe: func(ctx context.Context) error {
			return d.(capture.Typer).Swipe(ctx, 10, 20, 30, 40, 100*time.Millisecond)
		},
	}
	if len(caps.SlowCalls) == 0 {
		t.Fatal("a slow device with no slow calls named")
	}
	for _, name := range caps.SlowCalls {
		call := calls[name]
		if call == nil {
			t.Fatalf("no call %q", name)
		}
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(200*time.Millisecond, cancel)
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			if ctx.Err() == nil {
				t.Errorf("%s returned (%v) before its context ended: the slow device does not wait", name, err)
			} else if err == nil {
				t.Errorf("%s on a device that does not answer, cancelled: no error", name)
			}
		case <-time.After(promptly):
			t.Errorf("%s did not return within %s of its context's end", name, promptly)
		}
		timer.Stop()
		cancel()
	}
}
