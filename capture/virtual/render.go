package virtual

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Frame size of the virtual device: 720p.
const (
	Width  = 1280
	Height = 720
)

type faces struct {
	title, banner, menu, small font.Face
}

var loadFaces = sync.OnceValue(func() faces {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic(err)
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		panic(err)
	}
	face := func(f *opentype.Font, size float64) font.Face {
		fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			panic(err)
		}
		return fc
	}
	return faces{title: cache(face(bold, 64)), banner: cache(face(bold, 48)), menu: cache(face(reg, 36)), small: cache(face(reg, 24))}
})

// glyphFace remembers the masks of the glyphs it drew: the opentype face
// rasterizes a glyph's outline at every call, and a screen is mostly the
// same few letters again.
type glyphFace struct {
	font.Face
	mu     sync.Mutex
	glyphs map[glyphKey]glyph
}

// glyphKey is a rune at a sub-pixel position (a 64th of a pixel).
type glyphKey struct {
	r      rune
	fx, fy fixed.Int26_6
}

type glyph struct {
	dr      image.Rectangle // relative to the dot's whole pixel
	mask    *image.Alpha
	advance fixed.Int26_6
	ok      bool
}

func cache(f font.Face) font.Face { return &glyphFace{Face: f, glyphs: map[glyphKey]glyph{}} }

// Glyph implements font.Face.
func (g *glyphFace) Glyph(dot fixed.Point26_6, r rune) (image.Rectangle, image.Image, image.Point, fixed.Int26_6, bool) {
	whole := image.Pt(dot.X.Floor(), dot.Y.Floor())
	k := glyphKey{r, dot.X - fixed.I(whole.X), dot.Y - fixed.I(whole.Y)}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, seen := g.glyphs[k]
	if !seen {
		dr, mask, mp, adv, ok := g.Face.Glyph(fixed.Point26_6{X: k.fx, Y: k.fy}, r)
		// The face reuses its mask buffer: keep a copy.
		m := image.NewAlpha(image.Rect(0, 0, dr.Dx(), dr.Dy()))
		if ok {
			draw.Draw(m, m.Rect, mask, mp, draw.Src)
		}
		c = glyph{dr: dr, mask: m, advance: adv, ok: ok}
		g.glyphs[k] = c
	}
	return c.dr.Add(whole), c.mask, image.Point{}, c.advance, c.ok
}

// screen is what a frame shows apart from the clock and the animation.
type screen struct {
	title    string
	bg       color.RGBA
	menu     []string
	selected int
	device   string
	banner   string // a transient message (last key), empty for none
	zap      string // a channel banner after a zap, empty for none
}

func (s screen) key() string {
	return fmt.Sprintf("%s|%v|%s|%d|%s|%s|%s", s.title, s.bg, strings.Join(s.menu, "\x00"), s.selected, s.device, s.banner, s.zap)
}

// Where the parts of a frame are. The animation and the clock are the only
// parts of a moving screen that change from frame to frame: a region that
// leaves them out (the title bar, TitleBox) is still.
var (
	// TitleBox holds the screen's title.
	TitleBox = image.Rect(0, 0, Width, 120)
	// AnimationBox is a picture-in-picture whose bar sweeps across every
	// two seconds: about 1% of the frame changes between frames at 10 fps,
	// so ffmpeg's freezedetect sees motion too, not only vpt.
	AnimationBox = image.Rect(800, 250, 1220, 486)
	// BannerBox holds an edge's channel banner.
	BannerBox = image.Rect(40, 560, 1240, 650)
	// clockBox is where the clock and frame counter are drawn.
	clockBox = image.Rect(Width-520, Height-60, Width, Height)
)

// sweep is how long the animation's bar takes to cross its box.
const sweep = 2 * time.Second

// renderStatic draws everything but the clock, the frame counter and the
// animation.
func renderStatic(s screen) *image.RGBA {
	f := loadFaces()
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	draw.Draw(img, img.Bounds(), &image.Uniform{s.bg}, image.Point{}, draw.Src)
	// Title bar.
	bar := darker(s.bg, 0.6)
	draw.Draw(img, TitleBox, &image.Uniform{bar}, image.Point{}, draw.Src)
	text(img, f.title, 60, 84, s.title, color.White)
	// Menu.
	y := 200
	for i, item := range s.menu {
		if i == s.selected {
			draw.Draw(img, image.Rect(50, y-46, Width/2+120, y+16), &image.Uniform{color.RGBA{255, 255, 255, 255}}, image.Point{}, draw.Src)
			text(img, f.menu, 70, y, item, s.bg)
		} else {
			text(img, f.menu, 70, y, item, color.RGBA{230, 230, 230, 255})
		}
		y += 70
	}
	if s.banner != "" {
		draw.Draw(img, image.Rect(Width-420, 150, Width-40, 210), &image.Uniform{color.RGBA{0, 0, 0, 160}}, image.Point{}, draw.Over)
		text(img, f.small, Width-400, 190, s.banner, color.RGBA{255, 220, 120, 255})
	}
	// The animation's frame.
	draw.Draw(img, AnimationBox.Inset(-4), &image.Uniform{color.RGBA{230, 230, 230, 255}}, image.Point{}, draw.Src)
	draw.Draw(img, AnimationBox, &image.Uniform{color.RGBA{16, 16, 24, 255}}, image.Point{}, draw.Src)
	if s.zap != "" {
		draw.Draw(img, BannerBox, &image.Uniform{color.RGBA{10, 10, 10, 255}}, image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(BannerBox.Min.X, BannerBox.Min.Y, BannerBox.Min.X+12, BannerBox.Max.Y), &image.Uniform{color.RGBA{255, 200, 0, 255}}, image.Point{}, draw.Src)
		text(img, f.banner, BannerBox.Min.X+40, BannerBox.Max.Y-26, s.zap, color.White)
	}
	// Footer.
	draw.Draw(img, image.Rect(0, Height-60, Width, Height), &image.Uniform{bar}, image.Point{}, draw.Src)
	text(img, f.small, 40, Height-22, "vpt virtual device · "+s.device, color.RGBA{200, 200, 200, 255})
	return img
}

// drawMoving draws a copy of static with the time, the frame counter, the
// footer's step bar and the animation's bar at now. dst is an RGBA frame
// (screenshots, video) or a grey one (live frames), drawn from the static
// picture of the same kind: grey frames cost no colour conversion.
func drawMoving(dst draw.Image, static *staticPicture, now time.Time, frame uint64) {
	switch d := dst.(type) {
	case *image.RGBA:
		copy(d.Pix, static.rgba.Pix)
	case *image.Gray:
		copy(d.Pix, static.grey().Pix)
	}
	f := loadFaces()
	label := fmt.Sprintf("%s  #%06d", now.Format("15:04:05.0"), frame)
	text(dst, f.small, clockBox.Min.X+40, Height-22, label, color.White)
	// A bar that moves across the footer, one step per frame.
	x := int(frame%64) * (Width / 64)
	fill(dst, image.Rect(x, Height-64, x+Width/64, Height-60), color.RGBA{255, 200, 0, 255})
	// The animation's bar, placed by the time (not the frame), so it moves
	// alike at any frame rate.
	const barW = 40
	phase := float64(now.UnixNano()%int64(sweep)) / float64(sweep)
	bx := AnimationBox.Min.X + int(phase*float64(AnimationBox.Dx()-barW))
	fill(dst, image.Rect(bx, AnimationBox.Min.Y, bx+barW, AnimationBox.Max.Y), color.RGBA{240, 240, 255, 255})
}

// fill paints a rectangle in one colour.
func fill(dst draw.Image, r image.Rectangle, c color.RGBA) {
	g, ok := dst.(*image.Gray)
	if !ok {
		draw.Draw(dst, r, &image.Uniform{c}, image.Point{}, draw.Src)
		return
	}
	r = r.Intersect(g.Rect)
	y := luma(c.R, c.G, c.B)
	for row := r.Min.Y; row < r.Max.Y; row++ {
		line := g.Pix[g.PixOffset(r.Min.X, row):g.PixOffset(r.Max.X, row)]
		for i := range line {
			line[i] = y
		}
	}
}

// luma is ITU-R BT.601 luma, as color.GrayModel computes it.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// toGrey converts a frame to 8-bit luma.
func toGrey(src *image.RGBA) *image.Gray {
	g := image.NewGray(src.Rect)
	pix, out := src.Pix, g.Pix
	for i, j := 0, 0; j < len(out); i, j = i+4, j+1 {
		out[j] = luma(pix[i], pix[i+1], pix[i+2])
	}
	return g
}

// drawBlack makes dst an opaque black picture.
func drawBlack(dst draw.Image) {
	switch d := dst.(type) {
	case *image.RGBA:
		pix := d.Pix
		for i := range pix {
			pix[i] = 0
		}
		for i := 3; i < len(pix); i += 4 {
			pix[i] = 0xff
		}
	case *image.Gray:
		clear(d.Pix)
	}
}

// staticPicture is a screen without its moving parts, in colour and,
// once a grey frame needs it, in grey.
type staticPicture struct {
	rgba  *image.RGBA
	once  sync.Once
	greyP *image.Gray
}

func (p *staticPicture) grey() *image.Gray {
	p.once.Do(func() { p.greyP = toGrey(p.rgba) })
	return p.greyP
}

// staticCache keeps the last few static pictures: the recorder, a frame
// reader and screenshots may render different instants (around a screen
// change) at once, and each static picture costs a few milliseconds.
type staticCache struct {
	mu      sync.Mutex
	entries [4]struct {
		key string
		pic *staticPicture
	}
	next int
}

// statics is shared by the devices of the process: a picture depends on
// the screen alone (its key names the device), and a campaign opens its
// device again for every run.
var statics staticCache

func (c *staticCache) get(s screen) *staticPicture {
	k := s.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.pic != nil && e.key == k {
			return e.pic
		}
	}
	pic := &staticPicture{rgba: renderStatic(s)}
	c.entries[c.next].key, c.entries[c.next].pic = k, pic
	c.next = (c.next + 1) % len(c.entries)
	return pic
}

// fontMu serialises drawing: font faces keep glyph buffers that are not
// safe for concurrent use (the recorder and a screenshot may render at once).
var fontMu sync.Mutex

func text(img draw.Image, face font.Face, x, y int, s string, c color.Color) {
	fontMu.Lock()
	defer fontMu.Unlock()
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func darker(c color.RGBA, f float64) color.RGBA {
	return color.RGBA{uint8(float64(c.R) * f), uint8(float64(c.G) * f), uint8(float64(c.B) * f), 255}
}

// parseColor reads #rrggbb; anything else is a default blue.
func parseColor(s string) color.RGBA {
	var r, g, b uint8
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b); err == nil {
		return color.RGBA{r, g, b, 255}
	}
	// A stable colour per title, so screens differ even without colours.
	h := uint32(2166136261)
	for _, c := range s {
		h = (h ^ uint32(c)) * 16777619
	}
	return color.RGBA{uint8(40 + h%90), uint8(40 + (h>>8)%90), uint8(60 + (h>>16)%120), 255}
}
