package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// finaliseVideo turns the segments into video.mp4, unless the recording
// check did already. A passed run keeps no video with retain-on-failure,
// nor when the video was recorded only for its check (video: off). When
// the budget runs out (or a second Ctrl-C cuts it short) the segments
// stay, and the next vpt finalises them.
func (run *runState) finaliseVideo(ctx context.Context) {
	if run.rec == nil {
		return
	}
	s := run.r.Settings
	if (s.Video == VideoRetainOnFailure || s.Video == VideoOff) && run.res.Status == store.StatusPassed {
		v := run.videoRecord()
		v.Path, v.SizeBytes, v.State = "", 0, "discarded"
		os.RemoveAll(filepath.Join(run.dir, "video"))
		os.Remove(filepath.Join(run.dir, report.VideoMP4))
		return
	}
	if v := run.res.Details.Video; v != nil && v.State == "finalised" {
		return
	}
	run.makeMP4(ctx)
}

// videoRecord is the result's record of the video, made on first use.
func (run *runState) videoRecord() *store.Video {
	if run.res.Details.Video == nil {
		run.res.Details.Video = &store.Video{State: "recorded", OffsetMs: run.videoStart.Sub(run.start).Milliseconds()}
	}
	return run.res.Details.Video
}

// makeMP4 turns the segments into video.mp4 and records it in the result.
func (run *runState) makeMP4(ctx context.Context) error {
	s := run.r.Settings
	videoDir := filepath.Join(run.dir, "video")
	v := run.videoRecord()
	out := filepath.Join(run.dir, report.VideoMP4)
	if err := capture.Finalise(ctx, s.FFmpeg, videoDir, out, s.VideoQuality); err != nil {
		v.State, v.Error = "failed", err.Error()
		if ctx.Err() != nil {
			// Cut short (a second Ctrl-C, the budget): noted, as an
			// abandoned run's video is, for the next run or campaign,
			// or vpt report finalise, to make.
			v.State, v.Error = "recorded", "not finalised: "+err.Error()
			if notePending(PendingDir(s.ResultsDir), run.res.ID) == nil {
				run.note("video: not finalised (segments kept in %s; the next run or campaign, or vpt report finalise, makes it)", videoDir)
				return err
			}
		}
		run.note("video: %v (segments kept in %s)", err, videoDir)
		if isDiskError(err) {
			run.fail(fmt.Errorf("%w: video: %w", ErrResultsDir, err))
		}
		return err
	}
	v.Path, v.State, v.Error = report.VideoMP4, "finalised", ""
	if run.recErr != nil {
		// The video is what was recorded: say where it falls short.
		v.Error = run.recErr.Error()
	}
	if st, err := os.Stat(out); err == nil {
		v.SizeBytes = st.Size()
	}
	v.DurationMs = time.Since(run.videoStart).Milliseconds()
	if d, err := capture.ProbeDuration(ctx, out); err == nil {
		v.DurationMs = d.Milliseconds()
	}
	os.RemoveAll(videoDir)
	return nil
}

// persist writes the run's files, then its row: a crash between the two
// leaves a complete result.json that recovery takes as the truth. A folder
// that cannot be written makes the run an infrastructure error, recorded in
// the row. The row is written with retries (the store may be restarting),
// within persistBudget, whatever the caller's context says.
func (run *runState) persist(ctx context.Context) {
	res := run.res
	now := time.Now()
	completed := now.UTC()
	res.CompletedAt = &completed
	res.ExecutionTimeMs = now.Sub(run.start).Milliseconds()
	res.HeartbeatAt = completed
	res.Details.OutputBytes = run.out.tail.Total()
	res.Details.OutputLines = run.markers.Lines
	if err := run.out.close(); err != nil {
		run.evidenceError("output.log", err)
	}
	run.stopBeat()
	if run.r.Uploader != nil && run.err() == nil {
		// Pending before the first byte: a vpt killed mid-upload leaves a row
		// that `vpt report upload --pending` finds.
		res.UploadStatus = store.UploadPending
	}
	run.applyInfra()
	if err := report.WriteRunFiles(res, run.out.tail.Bytes()); err != nil {
		run.fail(fmt.Errorf("%w: %w", ErrResultsDir, err))
		run.applyInfra()
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistBudget)
	defer cancel()
	finished := run.ev.event(store.EventRunFinished, finishedData(res, false))
	idle := run.ev.event(store.EventDeviceIdle, store.DeviceData{Script: res.ScriptName})
	if err := run.ev.rowWrite(func(evs ...store.Event) error {
		return retry(pctx, func() error { return run.r.Store.UpdateResult(pctx, res, evs...) })
	}, finished, idle); err != nil {
		run.fail(fmt.Errorf("%w: could not record the result: %w", ErrStore, err))
	}
	updateLatest(run.r.Settings.ResultsDir, res.ID)
}

// applyInfra makes an infrastructure error found after the verdict the
// run's status: it is an error, not the script's pass or failure.
func (run *runState) applyInfra() {
	err := run.err()
	res := run.res
	if err == nil || res.Status == store.StatusTimeout || res.Status == store.StatusInterrupted {
		return
	}
	res.Status, res.Success, res.ExitCode = store.StatusError, false, nil
	res.ErrorMsg, res.Details.FailReason, res.Details.VerdictSource = err.Error(), err.Error(), SourceInfra
}

// publish uploads the run folder when an uploader is set. The device is
// released by then. The upload honours ctx (a Ctrl-C stops it) and its own
// time limit; a failed one leaves the row pending and every local file as
// it was.
func (run *runState) publish(ctx context.Context) {
	res := run.res
	if run.r.Uploader == nil || res.UploadStatus != store.UploadPending || ctx.Err() != nil {
		if res.UploadStatus == store.UploadPending && ctx.Err() != nil {
			run.r.notice("run %s not uploaded (interrupted); retry with: vpt report upload --pending", res.ID[:8])
		}
		return
	}
	if err := run.r.Uploader.UploadRun(ctx, res); err != nil {
		res.UploadStatus = store.UploadPending
		run.r.notice("upload of run %s failed: %v (the run folder is intact; retry with: vpt report upload --pending)", res.ID[:8], err)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistBudget)
	defer cancel()
	if err := retry(pctx, func() error { return run.r.Store.UpdateResult(pctx, res) }); err != nil {
		run.fail(fmt.Errorf("%w: could not record the upload: %w", ErrStore, err))
	}
}

// retry calls f until it succeeds, with backoff from 50 ms to 2 s, until
// ctx ends. An ErrNotFound (the row was deleted) is not retried.
func retry(ctx context.Context, f func() error) error {
	wait := 50 * time.Millisecond
	for {
		err := f()
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// screenshot takes, saves and records a screenshot.
func (run *runState) screenshot(ctx context.Context, label string) (store.Screenshot, error) {
	return run.takeScreenshot(ctx, label, false)
}

// screenshotLater takes a screenshot now and writes it in the background.
func (run *runState) screenshotLater(ctx context.Context, label string) (store.Screenshot, error) {
	return run.takeScreenshot(ctx, label, true)
}

func (run *runState) takeScreenshot(ctx context.Context, label string, later bool) (store.Screenshot, error) {
	if run.dev == nil || run.shots == nil {
		return store.Screenshot{}, fmt.Errorf("no device")
	}
	var shot capture.Shot
	if f, ok := run.dev.(capture.Freezer); ok && later {
		// The screen is taken now and drawn while the script starts.
		draw, size := f.Freeze()
		shot = run.shots.SaveLaterFrom(draw, size, label)
	} else {
		ctx, cancel := context.WithTimeout(ctx, deviceCallTimeout)
		img, err := run.dev.Screenshot(ctx)
		cancel()
		if err != nil {
			return store.Screenshot{}, err
		}
		if later {
			shot = run.shots.SaveLater(img, label)
		} else if shot, err = run.shots.Save(img, label); err != nil {
			return store.Screenshot{}, err
		}
	}
	sc := store.Screenshot{Label: label, Path: shot.Path, Thumbnail: shot.Thumbnail, TakenAt: shot.TakenAt.UTC(),
		OffsetMs: shot.TakenAt.Sub(run.start).Milliseconds(), Width: shot.Width, Height: shot.Height}
	run.mu.Lock()
	run.shotList = append(run.shotList, sc)
	run.mu.Unlock()
	run.ev.emit(store.EventRunScreenshot, store.RunScreenshot{Label: label, Path: sc.Path, Thumbnail: sc.Thumbnail, OffsetMs: sc.OffsetMs})
	return sc, nil
}
