// Package ocr reads the text on a device's screen with Debian's tesseract
// command (packages tesseract-ocr and tesseract-ocr-LANG), and matches
// what it read against the text a test expects, exactly or by regular
// expression.
//
// One region is one tesseract process with one thread (OMP_THREAD_LIMIT=1:
// its OpenMP threads make it about three times slower on screen-sized
// pictures), fed the region as a grey PGM on stdin: no files, no PNG.
// Light text on a dark background (most TV screens) is inverted first,
// which tesseract reads far better. An Engine remembers what it read by the
// picture's content and the region, so a script polling a still screen
// runs tesseract once. Errors: capture.ErrToolMissing without tesseract,
// ErrLanguage for a language whose data is not installed, capture.ErrRegion
// for a region outside the picture.
package ocr

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"image"
	"image/color"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// ErrLanguage: tesseract has no data for a language.
var ErrLanguage = errors.New("OCR language not installed")

// ErrLanguageName: a language that is no tesseract language code.
var ErrLanguageName = errors.New("not an OCR language code")

// languageNames splits tesseract's "eng+deu" into its languages and checks
// each is a code (eng, chi_sim, script/Latin), not a path or nothing.
func languageNames(languages []string) ([]string, error) {
	var out []string
	for _, l := range languages {
		for _, name := range strings.Split(l, "+") {
			// No dot may appear, so no "..": letters, digits, _ - /, not
			// starting as an option or an absolute path.
			ok := name != "" && name[0] != '-' && name[0] != '/'
			for _, c := range name {
				ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/')
			}
			if !ok {
				return nil, fmt.Errorf("%w: %q: give tesseract language codes such as eng, deu, chi_sim", ErrLanguageName, name)
			}
			out = append(out, name)
		}
	}
	return out, nil
}

// Modes say how the region's text is laid out (tesseract's page
// segmentation modes).
const (
	// Line: one line of text (--psm 7), the fastest; the default with a region.
	Line = "line"
	// Block: one block of lines (--psm 6).
	Block = "block"
	// Page: find the text anywhere (--psm 3); the default without a region.
	Page = "page"
	// Sparse: scattered words, in no order (--psm 11).
	Sparse = "sparse"
)

var psm = map[string]int{Line: 7, Block: 6, Page: 3, Sparse: 11}

// Options of one read.
type Options struct {
	// Region of the picture to read (zero: all of it).
	Region image.Rectangle
	// Mode: line, block, page or sparse (default: line with a region,
	// page without).
	Mode string
	// Languages override the engine's (tesseract names: eng, deu, fra).
	Languages []string
}

// Word is one word read, with where it is in the picture.
type Word struct {
	Text string          `json:"text"`
	Box  image.Rectangle `json:"-"`
	// Confidence is tesseract's, 0..100.
	Confidence float64 `json:"confidence"`
}

// Result is what was read in a region.
type Result struct {
	// Text: the words, lines joined by newlines.
	Text  string `json:"text"`
	Words []Word `json:"words,omitempty"`
	// Confidence is the mean of the words' (0 without words).
	Confidence float64         `json:"confidence"`
	Region     image.Rectangle `json:"-"`
	Mode       string          `json:"mode"`
	// Cached: the same picture and region were read before.
	Cached  bool          `json:"cached"`
	Elapsed time.Duration `json:"elapsed"`
}

// Engine runs tesseract and remembers its results. It is safe for
// concurrent use.
type Engine struct {
	// Tesseract is the program (default "tesseract").
	Tesseract string
	// Languages read by default (default eng).
	Languages []string

	mu        sync.Mutex
	installed map[string]bool // languages tesseract has, once asked
	cache     map[cacheKey]*list.Element
	order     *list.List // most recently used first
}

// cacheSize bounds the results remembered (a few screens' regions).
const cacheSize = 256

type cacheKey struct {
	pixels uint64
	region image.Rectangle
	mode   string
	langs  string
}

type cacheEntry struct {
	key cacheKey
	res Result
}

// New makes an engine; languages default to English.
func New(tesseract string, languages ...string) *Engine {
	if tesseract == "" {
		tesseract = "tesseract"
	}
	if len(languages) == 0 {
		languages = []string{"eng"}
	}
	return &Engine{Tesseract: tesseract, Languages: languages, cache: map[cacheKey]*list.Element{}, order: list.New()}
}

// Args is tesseract's command line after the program: the picture on
// stdin, the words as TSV (with boxes and confidences) on stdout.
func Args(languages []string, mode string) []string {
	return []string{"stdin", "stdout", "-l", strings.Join(languages, "+"), "--psm", strconv.Itoa(psm[mode]), "tsv"}
}

// Check tells whether tesseract and the languages are installed.
func (e *Engine) Check(ctx context.Context, languages ...string) error {
	if len(languages) == 0 {
		languages = e.Languages
	}
	languages, err := languageNames(languages)
	if err != nil {
		return err
	}
	e.mu.Lock()
	installed := e.installed
	e.mu.Unlock()
	if installed == nil {
		if _, err := exec.LookPath(e.Tesseract); err != nil {
			return fmt.Errorf("%w: tesseract (%s) reads text on screen: install it (apt-get install tesseract-ocr tesseract-ocr-eng)", capture.ErrToolMissing, e.Tesseract)
		}
		out, err := exec.CommandContext(ctx, e.Tesseract, "--list-langs").CombinedOutput()
		if err != nil {
			return fmt.Errorf("tesseract --list-langs: %v: %s", err, bytes.TrimSpace(out))
		}
		installed = map[string]bool{}
		for _, line := range strings.Split(string(out), "\n")[1:] {
			if l := strings.TrimSpace(line); l != "" {
				installed[l] = true
			}
		}
		e.mu.Lock()
		e.installed = installed
		e.mu.Unlock()
	}
	for _, l := range languages {
		if !installed[l] {
			have := make([]string, 0, len(installed))
			for k := range installed {
				have = append(have, k)
			}
			return fmt.Errorf("%w: tesseract has no data for %q (installed: %s): apt-get install tesseract-ocr-%s", ErrLanguage, l, strings.Join(have, ", "), strings.ToLower(strings.ReplaceAll(l, "_", "-")))
		}
	}
	return nil
}

// Read reads the text in a region of a picture.
func (e *Engine) Read(ctx context.Context, img image.Image, o Options) (Result, error) {
	start := time.Now()
	region, err := capture.CheckRegion(o.Region, img.Bounds())
	if err != nil {
		return Result{}, err
	}
	if o.Mode == "" {
		o.Mode = Page
		if o.Region != (image.Rectangle{}) {
			o.Mode = Line
		}
	}
	if _, ok := psm[o.Mode]; !ok {
		return Result{}, fmt.Errorf("OCR mode %q: use line, block, page or sparse", o.Mode)
	}
	langs := o.Languages
	if len(langs) == 0 {
		langs = e.Languages
	}
	if err := e.Check(ctx, langs...); err != nil {
		return Result{}, err
	}
	g := crop(img, region)
	key := cacheKey{pixels: maphash.Bytes(seed, g.Pix), region: region, mode: o.Mode, langs: strings.Join(langs, "+")}
	if res, ok := e.lookup(key); ok {
		res.Cached, res.Elapsed = true, time.Since(start)
		return res, nil
	}
	prepare(g)
	cmd := exec.CommandContext(ctx, e.Tesseract, Args(langs, o.Mode)...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.Stdin = bytes.NewReader(pgm(g))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, fmt.Errorf("tesseract failed: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	res := ParseTSV(stdout.String(), region.Min.Sub(image.Pt(padding, padding)))
	res.Region, res.Mode = region, o.Mode
	e.store(key, res)
	res.Elapsed = time.Since(start)
	return res, nil
}

var seed = maphash.MakeSeed()

func (e *Engine) lookup(k cacheKey) (Result, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	el, ok := e.cache[k]
	if !ok {
		return Result{}, false
	}
	e.order.MoveToFront(el)
	return el.Value.(*cacheEntry).res, true
}

func (e *Engine) store(k cacheKey, r Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.cache[k]; ok {
		el.Value.(*cacheEntry).res = r
		e.order.MoveToFront(el)
		return
	}
	e.cache[k] = e.order.PushFront(&cacheEntry{k, r})
	if e.order.Len() > cacheSize {
		last := e.order.Back()
		e.order.Remove(last)
		delete(e.cache, last.Value.(*cacheEntry).key)
	}
}

// padding is the margin of background added around a region: tesseract
// misreads text that touches the picture's edge.
const padding = 10

// crop copies a region into a grey picture with a margin (filled later).
func crop(img image.Image, r image.Rectangle) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, r.Dx()+2*padding, r.Dy()+2*padding))
	switch src := img.(type) {
	case *image.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			copy(g.Pix[g.PixOffset(padding, y-r.Min.Y+padding):], src.Pix[src.PixOffset(r.Min.X, y):src.PixOffset(r.Max.X, y)])
		}
	case *image.RGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := src.Pix[src.PixOffset(r.Min.X, y):src.PixOffset(r.Max.X, y)]
			out := g.Pix[g.PixOffset(padding, y-r.Min.Y+padding):]
			for i := 0; i < len(row); i += 4 {
				out[i/4] = uint8((19595*uint32(row[i]) + 38470*uint32(row[i+1]) + 7471*uint32(row[i+2]) + 1<<15) >> 16)
			}
		}
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				g.SetGray(x-r.Min.X+padding, y-r.Min.Y+padding, color.GrayModel.Convert(img.At(x, y)).(color.Gray))
			}
		}
	}
	return g
}

// prepare fills the margin with the region's background and makes the
// text dark on light: inverted when the region is mostly dark.
func prepare(g *image.Gray) {
	inner := g.Rect.Inset(padding)
	var sum uint64
	for y := inner.Min.Y; y < inner.Max.Y; y++ {
		for _, p := range g.Pix[g.PixOffset(inner.Min.X, y):g.PixOffset(inner.Max.X, y)] {
			sum += uint64(p)
		}
	}
	n := uint64(max(1, inner.Dx()*inner.Dy()))
	dark := sum/n < 128
	// The background is the border's most common level, approximated by
	// the inner picture's first column.
	bg := g.Pix[g.PixOffset(inner.Min.X, inner.Min.Y)]
	for y := 0; y < g.Rect.Dy(); y++ {
		for x := 0; x < g.Rect.Dx(); x++ {
			if !(image.Pt(x, y).In(inner)) {
				g.Pix[g.PixOffset(x, y)] = bg
			}
		}
	}
	if dark {
		for i, p := range g.Pix {
			g.Pix[i] = 255 - p
		}
	}
}

// pgm encodes a grey picture as binary PGM, which tesseract reads on stdin.
func pgm(g *image.Gray) []byte {
	head := fmt.Sprintf("P5\n%d %d\n255\n", g.Rect.Dx(), g.Rect.Dy())
	out := make([]byte, 0, len(head)+len(g.Pix))
	return append(append(out, head...), g.Pix...)
}

// ParseTSV reads tesseract's TSV: words (level 5) with their boxes moved
// by offset into the picture's coordinates, lines by block, paragraph
// and line number.
func ParseTSV(tsv string, offset image.Point) Result {
	var r Result
	var lines []string
	var cur []string
	lastLine := ""
	var confSum float64
	for _, row := range strings.Split(tsv, "\n")[1:] {
		f := strings.Split(row, "\t")
		if len(f) < 12 || f[0] != "5" {
			continue
		}
		text := strings.TrimSpace(f[11])
		if text == "" {
			continue
		}
		line := f[2] + "." + f[3] + "." + f[4]
		if line != lastLine && len(cur) > 0 {
			lines = append(lines, strings.Join(cur, " "))
			cur = nil
		}
		lastLine = line
		cur = append(cur, text)
		n := make([]int, 4)
		for i := range n {
			n[i], _ = strconv.Atoi(f[6+i])
		}
		conf, _ := strconv.ParseFloat(f[10], 64)
		confSum += conf
		box := image.Rect(n[0], n[1], n[0]+n[2], n[1]+n[3]).Add(offset)
		r.Words = append(r.Words, Word{Text: text, Box: box, Confidence: conf})
	}
	if len(cur) > 0 {
		lines = append(lines, strings.Join(cur, " "))
	}
	r.Text = strings.Join(lines, "\n")
	if len(r.Words) > 0 {
		r.Confidence = confSum / float64(len(r.Words))
	}
	return r
}
