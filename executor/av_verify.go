package executor

import (
	"context"
	"fmt"
	"image"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/ocr"
	"github.com/vpt-dev/vpt/capture/picture"
	"github.com/vpt-dev/vpt/capture/sound"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// verifyAV checks a node by what the device shows and sounds like, without
// a reference picture: text read in a region, a black picture, motion,
// sound. img is the verification's screenshot (text and black read it);
// motion and sound are watched live. The outcome goes into r.
func (run *runState) verifyAV(ctx context.Context, v ui.Verification, img image.Image, r *store.Verification) {
	var err error
	switch v.Type {
	case ui.VerifyText:
		err = run.verifyText(ctx, v, img, r)
	case ui.VerifyBlack:
		err = verifyBlack(v, img, r)
	case ui.VerifyMotion:
		err = run.verifyMotion(ctx, v, r)
	case ui.VerifyAudio:
		err = run.verifyAudio(ctx, v, r)
	}
	if err != nil {
		r.Passed, r.Error = false, err.Error()
	}
}

func regionOf(v ui.Verification) image.Rectangle {
	if len(v.Region) != 4 {
		return image.Rectangle{}
	}
	return capture.RegionOf(v.Region[0], v.Region[1], v.Region[2], v.Region[3])
}

func (run *runState) verifyText(ctx context.Context, v ui.Verification, img image.Image, r *store.Verification) error {
	if img == nil {
		return fmt.Errorf("no screenshot to read")
	}
	cctx, cancel := deviceCall(ctx)
	defer cancel()
	res, err := run.r.ocrEngine().Read(cctx, img, ocr.Options{Region: regionOf(v)})
	if err != nil {
		return err
	}
	pat := ocr.Pattern{Text: v.Text, Regex: v.Regex, CaseSensitive: v.CaseSensitive}
	if r.Passed, err = pat.Match(res.Text); err != nil {
		return err
	}
	r.Detail = fmt.Sprintf("read %q", oneLine(res.Text))
	if !r.Passed {
		want := fmt.Sprintf("%q", v.Text)
		if v.Regex {
			want = "/" + v.Text + "/"
		}
		r.Error = fmt.Sprintf("read %q, expected %s", oneLine(res.Text), want)
	}
	return nil
}

func verifyBlack(v ui.Verification, img image.Image, r *store.Verification) error {
	if img == nil {
		return fmt.Errorf("no screenshot to look at")
	}
	b, err := picture.IsBlack(capture.GrayOf(img), picture.BlackOptions{Region: regionOf(v)})
	if err != nil {
		return err
	}
	r.Passed, r.Detail = b.Black, fmt.Sprintf("%.1f%% dark", b.Dark*100)
	if !b.Black {
		r.Error = fmt.Sprintf("the picture is not black (%.1f%% dark, needs %.0f%%)", b.Dark*100, picture.DefaultBlackRatio*100)
	}
	return nil
}

func (run *runState) verifyMotion(ctx context.Context, v ui.Verification, r *store.Verification) error {
	timeout := v.Timeout
	if timeout == 0 {
		timeout = ui.DefaultMotionTimeout
	}
	consecutive := v.Consecutive
	if consecutive == "" {
		consecutive = ui.DefaultMotionConsecutive
	}
	w, err := run.watchMotion(ctx, "motion verification", v.Region, consecutive, 0, timeout)
	if err != nil {
		return err
	}
	r.Passed = w.found
	if w.found {
		r.Detail = fmt.Sprintf("moved: %.2f%% changed", w.motion.Changed*100)
	} else {
		r.Error = fmt.Sprintf("no motion in %s (%d frames, %s needed)", timeout, w.frames, consecutive)
	}
	return nil
}

func (run *runState) verifyAudio(ctx context.Context, v ui.Verification, r *store.Verification) error {
	d := v.Duration
	if d == 0 {
		d = ui.DefaultListen
	}
	threshold := v.Threshold
	if threshold == 0 {
		threshold = ui.DefaultAudioThreshold
	}
	ctx, cancel := analysisContext(ctx, d)
	defer cancel()
	s, err := run.listen(ctx, "audio verification", d)
	if err != nil {
		return err
	}
	level := sound.RMS(s)
	r.Passed, r.Detail = level > threshold, fmt.Sprintf("%.1f dBFS RMS", level)
	if !r.Passed {
		r.Error = fmt.Sprintf("no sound: %.1f dBFS RMS over %s, needs more than %g", level, d, threshold)
	}
	return nil
}
