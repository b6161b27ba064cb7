package executor

import (
	"context"
	"image/jpeg"
	"os"
	"path/filepath"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// LiveFrame is the file in a running run's folder that holds its device's
// latest picture, small, replaced about once a second and removed when the
// script ends. Live views (vpt report serve) read it from the folder: the
// device stays with the one process that holds it, and a viewer costs the
// run nothing.
const LiveFrame = "live.jpg"

// liveWidth is the width of live frames: a thumbnail, a few tens of kB.
const liveWidth = 480

// startLiveFrames writes live frames until the returned stop is called,
// then removes the file.
func (run *runState) startLiveFrames(ctx context.Context) (stop func()) {
	every := run.r.Settings.LiveFrame
	if every < 0 || run.dev == nil || !run.dev.Info().Has(capture.CapScreenshot) {
		return func() {}
	}
	if every == 0 {
		every = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			began := time.Now()
			run.writeLiveFrame(ctx)
			// A device whose screenshots are slow (adb screencap) is asked
			// less often, so that live frames never crowd the script's calls.
			t.Reset(max(every, 4*time.Since(began)))
		}
	}()
	return func() {
		cancel()
		<-done
		os.Remove(filepath.Join(run.dir, LiveFrame))
	}
}

// writeLiveFrame replaces live.jpg atomically (a reader never sees half a
// picture); a failure only skips a frame.
func (run *runState) writeLiveFrame(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, deviceCallTimeout)
	img, err := run.dev.Screenshot(cctx)
	cancel()
	if err != nil || ctx.Err() != nil {
		return
	}
	tmp := filepath.Join(run.dir, "."+LiveFrame+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return
	}
	err = jpeg.Encode(f, capture.Thumbnail(img, liveWidth), &jpeg.Options{Quality: 70})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return
	}
	os.Rename(tmp, filepath.Join(run.dir, LiveFrame))
}
