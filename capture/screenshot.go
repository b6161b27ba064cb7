package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/vpt-dev/vpt/internal/safename"
)

// ShotOptions choose how screenshots are written.
type ShotOptions struct {
	// Format: png (default) or jpeg.
	Format string
	// Quality of JPEG screenshots, 1..100 (default 85).
	Quality int
	// ThumbWidth is the width of thumbnails (default 320).
	ThumbWidth int
}

// Shot is one saved screenshot.
type Shot struct {
	Label     string
	Path      string // relative to the run folder
	Thumbnail string // relative to the run folder
	Width     int
	Height    int
	TakenAt   time.Time
}

// Shots numbers and writes the screenshots of one run into
// <run>/screenshots: 001-initial.png with 001-initial.thumb.jpg beside it.
// A picture given to it must not change afterwards: the last one of the
// process is kept (lastPNG) so that the parts of the next one that are the
// same are not compressed again, in this run or the next (a campaign's
// runs begin and end on much the same screen).
type Shots struct {
	runDir  string
	opts    ShotOptions
	mu      sync.Mutex
	n       int
	pending sync.WaitGroup
	errs    []error
}

// lastPNG is the last picture the process encoded as PNG, and its bands.
var lastPNG pngCache

// NewShots writes into runDir/screenshots.
func NewShots(runDir string, opts ShotOptions) *Shots {
	if opts.Format == "" || opts.Format == "jpg" {
		if opts.Format == "" {
			opts.Format = "png"
		} else {
			opts.Format = "jpeg"
		}
	}
	if opts.Quality <= 0 || opts.Quality > 100 {
		opts.Quality = 85
	}
	if opts.ThumbWidth <= 0 {
		opts.ThumbWidth = 320
	}
	return &Shots{runDir: runDir, opts: opts}
}

// Save writes img under the next number with label in its name.
func (s *Shots) Save(img image.Image, label string) (Shot, error) {
	n := s.next()
	// A picture still being written in the background is the one this one
	// is compressed after; finishing it first costs less than compressing
	// both whole.
	s.pending.Wait()
	return s.save(img, label, n, runtime.NumCPU(), nil)
}

// SaveLater numbers the screenshot now and writes it in the background;
// Wait waits for it. The run's first screenshot is written while the
// script starts.
func (s *Shots) SaveLater(img image.Image, label string) Shot {
	return s.SaveLaterFrom(func() image.Image { return img }, img.Bounds().Size(), label)
}

// SaveLaterFrom is SaveLater for a picture a Freezer draws later: draw
// runs in the background too.
func (s *Shots) SaveLaterFrom(draw func() image.Image, size image.Point, label string) Shot {
	return s.saveLater(draw, size, label, nil)
}

// SaveLaterMarked is SaveLater with marks outlined on the thumbnail (the
// region an analysis looked at, what changed): the evidence of a frame
// that decided something. The picture itself is written as it is.
func (s *Shots) SaveLaterMarked(img image.Image, label string, marks ...Mark) Shot {
	return s.saveLater(func() image.Image { return img }, img.Bounds().Size(), label, marks)
}

func (s *Shots) saveLater(draw func() image.Image, size image.Point, label string, marks []Mark) Shot {
	n := s.next()
	shot := s.describe(size, label, n)
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		// One core: the other is the script's, starting meanwhile.
		if _, err := s.save(draw(), label, n, 1, marks); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
	}()
	return shot
}

// Wait waits for the screenshots being written and reports the first failure.
func (s *Shots) Wait() error {
	s.pending.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	return nil
}

func (s *Shots) next() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.n
}

func (s *Shots) describe(size image.Point, label string, n int) Shot {
	ext := ".png"
	if s.opts.Format == "jpeg" {
		ext = ".jpg"
	}
	base := fmt.Sprintf("%03d-%s", n, safename.Slug(label, 40, "shot"))
	return Shot{Label: label, Path: "screenshots/" + base + ext, Thumbnail: "screenshots/" + base + ".thumb.jpg",
		Width: size.X, Height: size.Y, TakenAt: time.Now()}
}

// save encodes on up to cores cores, with marks on the thumbnail.
func (s *Shots) save(img image.Image, label string, n, cores int, marks []Mark) (Shot, error) {
	dir := filepath.Join(s.runDir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Shot{}, err
	}
	shot := s.describe(img.Bounds().Size(), label, n)
	thumb := func() error {
		t := drawMarks(Thumbnail(img, s.opts.ThumbWidth), img, marks)
		return writeImage(filepath.Join(s.runDir, shot.Thumbnail), t, "jpeg", 75, 1, nil)
	}
	var err error
	if cores > 1 {
		// The thumbnail is made while the picture is encoded.
		thumbDone := make(chan error, 1)
		go func() { thumbDone <- thumb() }()
		err = writeImage(filepath.Join(s.runDir, shot.Path), img, s.opts.Format, s.opts.Quality, cores, &lastPNG)
		if terr := <-thumbDone; err == nil {
			err = terr
		}
	} else {
		err = writeImage(filepath.Join(s.runDir, shot.Path), img, s.opts.Format, s.opts.Quality, 1, &lastPNG)
		if err == nil {
			err = thumb()
		}
	}
	if err != nil {
		return Shot{}, err
	}
	return shot, nil
}

// writeImage encodes into a temporary file and renames it, so a crash never
// leaves half an image under the final name.
func writeImage(path string, img image.Image, format string, quality, cores int, cache *pngCache) error {
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256*1024)
	if format == "jpeg" {
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: quality})
	} else {
		// Speed over size: screenshots are taken while the test runs.
		err = encodePNGAfter(w, img, cores, cache)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// Thumbnail scales img to width w, keeping its aspect.
func Thumbnail(img image.Image, w int) image.Image {
	b := img.Bounds()
	if b.Dx() <= w {
		return img
	}
	h := b.Dy() * w / b.Dx()
	dst := image.NewRGBA(image.Rect(0, 0, w, max(h, 1)))
	if src, ok := img.(*image.RGBA); ok {
		scaleRGBA(dst, src)
		return dst
	}
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}

// scaleRGBA fills dst with src scaled bilinearly (each pixel from the four
// source pixels around its centre, in fixed point): what ApproxBiLinear
// does, without its per-pixel floating point. The four channels of a pixel
// are weighed at once, each in its own 16-bit quarter of a word: first
// between the two source rows, rounded back to bytes, then between the two
// columns (weights of 8 bits: a weighted byte fits in 16).
func scaleRGBA(dst, src *image.RGBA) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	// Source coordinate of each destination column and row, in 1/256ths.
	pos := func(i, d, s int) (int, int, uint64) {
		p := ((2*i+1)*s*256/(2*d) - 128)
		p = max(0, min(p, (s-1)*256))
		i0 := p >> 8
		return i0, min(i0+1, s-1), uint64(p & 0xff)
	}
	x0s, x1s, wxs := make([]int, dw), make([]int, dw), make([]uint64, dw)
	for x := range dw {
		x0, x1, wx := pos(x, dw, sw)
		x0s[x], x1s[x], wxs[x] = x0*4, x1*4, wx
	}
	for y := range dh {
		y0, y1, wy := pos(y, dh, sh)
		r0 := src.Pix[y0*src.Stride : y0*src.Stride+sw*4]
		r1 := src.Pix[y1*src.Stride : y1*src.Stride+sw*4]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+dw*4]
		for x := range dw {
			a, b, wx := x0s[x], x1s[x], wxs[x]
			left := lerp(quarters(binary.LittleEndian.Uint32(r0[a:a+4])), quarters(binary.LittleEndian.Uint32(r1[a:a+4])), wy)
			right := lerp(quarters(binary.LittleEndian.Uint32(r0[b:b+4])), quarters(binary.LittleEndian.Uint32(r1[b:b+4])), wy)
			v := lerp(left, right, wx)
			binary.LittleEndian.PutUint32(out[x*4:x*4+4], uint32(v|v>>24))
		}
	}
}

// quarters spreads the bytes of a pixel (R, G, B, A) into the low bytes of
// the 16-bit quarters of a word (R, B, G, A).
func quarters(p uint32) uint64 {
	x := uint64(p)
	return (x | x<<24) & 0x00ff00ff00ff00ff
}

// lerp weighs two words of quarters, (256-w)/256 of a and w/256 of b,
// rounded.
func lerp(a, b, w uint64) uint64 {
	return ((a*(256-w) + b*w + 0x0080008000800080) >> 8) & 0x00ff00ff00ff00ff
}

// DecodeImage reads a PNG or JPEG file.
func DecodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// SavePNG writes an image as a PNG file, atomically.
func SavePNG(path string, img image.Image) error {
	return writeImage(path, img, "png", 0, runtime.NumCPU(), nil)
}
