package executor

import (
	"context"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/ocr"
)

// ocrEngine is the Runner's OCR engine: one for every run, so its cache
// of what was read serves them all.
func (r *Runner) ocrEngine() *ocr.Engine {
	r.ocrOnce.Do(func() { r.ocr = ocr.New(r.Settings.Tesseract, r.Settings.OCRLanguages...) })
	return r.ocr
}

// ocrModes are the layouts a read may name.
var ocrModes = map[string]bool{ocr.Line: true, ocr.Block: true, ocr.Page: true, ocr.Sparse: true}

type ocrParams struct {
	Region    []int    `json:"region,omitempty"`
	Mode      string   `json:"mode,omitempty"`
	Languages []string `json:"languages,omitempty"`
}

type ocrWord struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
	Box        []int   `json:"box"`
}

type ocrResult struct {
	Text       string    `json:"text"`
	Confidence float64   `json:"confidence"`
	Words      []ocrWord `json:"words"`
	Cached     bool      `json:"cached"`
	Mode       string    `json:"mode"`
	At         int64     `json:"at"`
	Region     []int     `json:"region"`
	Step       int       `json:"step"`
}

// read takes a screenshot and reads the text of a region of it.
func (run *runState) read(ctx context.Context, method string, region []int, o ocr.Options) (image.Image, time.Time, ocr.Result, error) {
	if o.Mode != "" && !ocrModes[o.Mode] {
		return nil, time.Time{}, ocr.Result{}, badParams("%s: mode %q: use line, block, page or sparse", method, o.Mode)
	}
	if !run.dev.Info().Has(capture.CapScreenshot) {
		return nil, time.Time{}, ocr.Result{}, fmt.Errorf("%s: %w (it reads screenshots)", method, capture.ErrNotSupported)
	}
	sctx, cancel := deviceCall(ctx)
	img, err := run.dev.Screenshot(sctx)
	cancel()
	at := time.Now()
	if err != nil {
		return nil, at, ocr.Result{}, fmt.Errorf("%s: %w", method, err)
	}
	if o.Region, err = avRegion(method, region, img.Bounds()); err != nil {
		return nil, at, ocr.Result{}, err
	}
	rctx, cancel := deviceCall(ctx)
	defer cancel()
	res, err := run.r.ocrEngine().Read(rctx, img, o)
	return img, at, res, avError(method, err)
}

// apiOCR reads the text on screen, or in a region of it.
func apiOCR(ctx context.Context, run *runState, p ocrParams) (any, error) {
	const method = "ocr"
	start := time.Now()
	img, at, r, err := run.read(ctx, method, p.Region, ocr.Options{Mode: p.Mode, Languages: p.Languages})
	if err != nil {
		return nil, err
	}
	res := ocrResult{Text: r.Text, Confidence: round1(r.Confidence), Words: []ocrWord{}, Cached: r.Cached, Mode: r.Mode,
		At: run.msOf(at), Region: regionList(p.regionOf(r))}
	m := marks(p.regionOf(r), image.Rectangle{})
	for _, w := range r.Words {
		res.Words = append(res.Words, ocrWord{Text: w.Text, Confidence: round1(w.Confidence), Box: regionList(w.Box)})
		m = append(m, capture.Mark{Rect: w.Box, Color: capture.MarkChange})
	}
	shot := run.keepFrame(img, at, method, m...)
	// An observation: the step passes whatever was read.
	res.Step = run.recordAV(avStep{method: method, name: "Read text", passed: true, message: fmt.Sprintf("read %q", oneLine(r.Text)),
		start: start, region: p.regionOf(r), params: p, result: res, shots: []int{shot}})
	return res, nil
}

// regionOf is the region read, when one was given.
func (p ocrParams) regionOf(r ocr.Result) image.Rectangle {
	if len(p.Region) == 0 {
		return image.Rectangle{}
	}
	return r.Region
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type matchTextParams struct {
	Text          string   `json:"text"`
	Region        []int    `json:"region,omitempty"`
	Regex         bool     `json:"regex,omitempty"`
	CaseSensitive bool     `json:"case_sensitive,omitempty"`
	Timeout       *float64 `json:"timeout,omitempty"`
	Mode          string   `json:"mode,omitempty"`
	Languages     []string `json:"languages,omitempty"`
}

type matchResult struct {
	Matched  bool   `json:"matched"`
	Text     string `json:"text"`
	At       int64  `json:"at"`
	Attempts int    `json:"attempts"`
	Region   []int  `json:"region"`
	Step     int    `json:"step"`
}

// matchPoll is the pause between two reads of a screen that did not change.
const matchPoll = 100 * time.Millisecond

// apiMatchText reads the screen until its text matches, or the timeout
// passes (0: one read).
func apiMatchText(ctx context.Context, run *runState, p matchTextParams) (any, error) {
	const method = "match_text"
	start := time.Now()
	if strings.TrimSpace(p.Text) == "" {
		return nil, badParams(`%s needs the "text" to find`, method)
	}
	pat := ocr.Pattern{Text: p.Text, Regex: p.Regex, CaseSensitive: p.CaseSensitive}
	if _, err := pat.Match(""); err != nil {
		return nil, badParams("%s: %v", method, err)
	}
	timeout, err := seconds(method, "timeout", p.Timeout, 0)
	if err != nil {
		return nil, err
	}
	var img image.Image
	var r ocr.Result
	var at time.Time
	res := matchResult{}
	for {
		img, at, r, err = run.read(ctx, method, p.Region, ocr.Options{Mode: p.Mode, Languages: p.Languages})
		if err != nil {
			return nil, err
		}
		res.Attempts++
		res.Matched, _ = pat.Match(r.Text)
		res.Text, res.At = r.Text, run.msOf(at)
		if res.Matched || time.Since(start) >= timeout {
			break
		}
		if r.Cached {
			select {
			case <-time.After(matchPoll):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	region := image.Rectangle{}
	if len(p.Region) > 0 {
		region = r.Region
	}
	res.Region = regionList(region)
	name, msg := fmt.Sprintf("Text %q found", p.Text), fmt.Sprintf("read %q", oneLine(r.Text))
	if !res.Matched {
		name = fmt.Sprintf("Text %q not found", p.Text)
		msg += fmt.Sprintf(" in %d reads", res.Attempts)
	}
	shot := run.keepFrame(img, at, method, marks(region, image.Rectangle{})...)
	res.Step = run.recordAV(avStep{method: method, name: name, passed: res.Matched, message: msg, start: start, region: region,
		params: p, result: res, shots: []int{shot}})
	return res, nil
}
