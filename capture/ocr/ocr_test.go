package ocr_test

import (
	"context"
	"errors"
	"image"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/ocr"
	"github.com/vpt-dev/vpt/capture/virtual"
	"github.com/vpt-dev/vpt/internal/golden"
)

func TestArgs(t *testing.T) {
	golden.Check(t, "line-eng-deu", golden.Argv(ocr.Args([]string{"eng", "deu"}, ocr.Line)))
	golden.Check(t, "page-eng", golden.Argv(ocr.Args([]string{"eng"}, ocr.Page)))
}

func TestParseTSV(t *testing.T) {
	b, err := os.ReadFile("testdata/words.tsv")
	if err != nil {
		t.Fatal(err)
	}
	r := ocr.ParseTSV(string(b), image.Pt(-10, 90))
	if r.Text != "Live TV\nChannel 2" || len(r.Words) != 4 || r.Words[0].Box != image.Rect(56, 120, 195, 170) ||
		r.Confidence < 92.5 || r.Confidence > 92.6 {
		t.Fatalf("%+v", r)
	}
	if r := ocr.ParseTSV("level\tpage_num\n1\t1\t0\t0\t0\t0\t0\t0\t720\t140\t-1\t\n", image.Point{}); r.Text != "" || r.Confidence != 0 {
		t.Fatalf("nothing read: %+v", r)
	}
}

func TestPattern(t *testing.T) {
	cases := []struct {
		p    ocr.Pattern
		read string
		want bool
	}{
		{ocr.Pattern{Text: "Live TV"}, "  live\n TV ", true},
		{ocr.Pattern{Text: "Live TV", CaseSensitive: true}, "live TV", false},
		{ocr.Pattern{Text: "Live"}, "Live TV", false},
		{ocr.Pattern{Text: `^\d+ BBC (One|Two)$`, Regex: true}, "2 bbc two", true},
		{ocr.Pattern{Text: `BBC`, Regex: true, CaseSensitive: true}, "2 bbc two", false},
	}
	for _, c := range cases {
		if got, err := c.p.Match(c.read); err != nil || got != c.want {
			t.Errorf("%+v on %q: %v %v", c.p, c.read, got, err)
		}
	}
	if _, err := (ocr.Pattern{Text: "(", Regex: true}).Match("x"); err == nil || !strings.Contains(err.Error(), "not a regular expression") {
		t.Fatalf("bad regex: %v", err)
	}
}

func needTesseract(t *testing.T) {
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatal("tesseract is needed: apt-get install tesseract-ocr tesseract-ocr-eng")
	}
}

// A virtual screen read whole and by region, from its colour screenshot
// and from its grey frame; the second read of the same picture is cached.
func TestReadVirtualScreen(t *testing.T) {
	needTesseract(t)
	ctx := context.Background()
	d := virtual.New(capture.DeviceConfig{ID: "device1"}, nil, "ffmpeg")
	shot, _ := d.Screenshot(ctx)
	e := ocr.New("")
	r, err := e.Read(ctx, shot, ocr.Options{Region: virtual.TitleBox})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Home" || r.Cached || r.Mode != ocr.Line || len(r.Words) != 1 || !r.Words[0].Box.In(virtual.TitleBox) {
		t.Fatalf("title: %+v", r)
	}
	again, _ := e.Read(ctx, shot, ocr.Options{Region: virtual.TitleBox})
	if !again.Cached || again.Text != "Home" {
		t.Fatalf("second read: %+v", again)
	}
	fr, err := d.Frames(ctx, capture.FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	f, err := fr.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.Read(ctx, f.Image, ocr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Home", "TV Guide [GUIDE]", "Settings", "vpt virtual device"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("whole frame: %q not in %q", want, page.Text)
		}
	}
	// The highlighted menu item (dark text on white), which a whole-page
	// layout takes for a picture, is read as a line.
	item, err := e.Read(ctx, f.Image, ocr.Options{Region: image.Rect(50, 154, 760, 216)})
	if err != nil || item.Text != "Live TV [OK]" {
		t.Fatalf("menu item: %+v %v", item, err)
	}
}

func TestBadInput(t *testing.T) {
	needTesseract(t)
	ctx := context.Background()
	img := image.NewGray(image.Rect(0, 0, 1280, 720))
	e := ocr.New("")
	if _, err := e.Read(ctx, img, ocr.Options{Region: capture.RegionOf(1000, 600, 400, 200)}); !errors.Is(err, capture.ErrRegion) ||
		!strings.Contains(err.Error(), "region [1000, 600, 400, 200] is outside the 1280x720 frame") {
		t.Fatalf("region: %v", err)
	}
	if _, err := e.Read(ctx, img, ocr.Options{Mode: "poem"}); err == nil || !strings.Contains(err.Error(), "use line, block, page or sparse") {
		t.Fatalf("mode: %v", err)
	}
	if _, err := e.Read(ctx, img, ocr.Options{Languages: []string{"klingon"}}); !errors.Is(err, ocr.ErrLanguage) ||
		!strings.Contains(err.Error(), "apt-get install tesseract-ocr-klingon") {
		t.Fatalf("language: %v", err)
	}
	if _, err := ocr.New("/nonexistent/tesseract").Read(ctx, img, ocr.Options{}); !errors.Is(err, capture.ErrToolMissing) ||
		!strings.Contains(err.Error(), "apt-get install tesseract-ocr") {
		t.Fatalf("no tesseract: %v", err)
	}
}
