package capture

import (
	"image"
	"image/draw"
	"math"
	"sort"
)

// pixelTolerance is how far (per channel, 0..255) a pixel may differ from
// the reference and still agree: compression noise of a capture card stays
// under it.
const pixelTolerance = 24

// Match looks for ref inside img, in region when it is not empty, and
// returns the best similarity found (0..1) and where the reference's
// top-left corner sits. Similarity is the lower of two measures: the
// fraction of pixels whose colour agrees, and the correlation of shapes
// (zero-mean normalised cross-correlation of brightness). Colours alone
// miss a different text on a similar background; shapes alone miss a
// different colour.
//
// It searches coarse to fine: every position on images shrunk by up to 8,
// then the best few candidates at each finer scale, so a 200x100 reference
// in a 720p frame costs a few milliseconds, not a full scan.
func Match(img, ref image.Image, region image.Rectangle) (float64, image.Point) {
	area := img.Bounds()
	if !region.Empty() {
		area = region.Intersect(area)
	}
	rb := ref.Bounds()
	if area.Dx() < rb.Dx() || area.Dy() < rb.Dy() || rb.Empty() {
		return 0, image.Point{}
	}
	src := toRGBA(img, area)
	tpl := toRGBA(ref, rb)

	// Gray pyramids, level 0 = full size.
	srcG := []*gray{grayOf(src)}
	tplG := []*gray{grayOf(tpl)}
	for len(srcG) < 4 && tplG[len(tplG)-1].w >= 24 && tplG[len(tplG)-1].h >= 16 {
		srcG = append(srcG, srcG[len(srcG)-1].half())
		tplG = append(tplG, tplG[len(tplG)-1].half())
	}
	top := len(srcG) - 1
	cands := exhaustive(srcG[top], tplG[top], 4)
	for lvl := top - 1; lvl >= 0; lvl-- {
		var next []cand
		for _, c := range cands {
			next = append(next, refine(srcG[lvl], tplG[lvl], c.x*2, c.y*2, 2))
		}
		cands = best(next, 3)
	}
	// Final score on colour, around the best gray positions.
	bestScore, bestAt := 0.0, image.Point{}
	for _, c := range cands {
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				x, y := c.x+dx, c.y+dy
				if x < 0 || y < 0 || x+tpl.Rect.Dx() > src.Rect.Dx() || y+tpl.Rect.Dy() > src.Rect.Dy() {
					continue
				}
				s := agreement(src, tpl, x, y)
				if s > bestScore {
					if c, ok := correlation(srcG[0], tplG[0], x, y); ok && c < s {
						s = c
					}
				}
				if s > bestScore {
					bestScore, bestAt = s, image.Pt(area.Min.X+x, area.Min.Y+y)
				}
			}
		}
	}
	return bestScore, bestAt
}

// Crop copies a rectangle of an image.
func Crop(img image.Image, r image.Rectangle) image.Image {
	return toRGBA(img, r.Intersect(img.Bounds()))
}

func toRGBA(img image.Image, r image.Rectangle) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), img, r.Min, draw.Src)
	return out
}

type gray struct {
	w, h int
	p    []uint8
}

func grayOf(img *image.RGBA) *gray {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	g := &gray{w: w, h: h, p: make([]uint8, w*h)}
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride:]
		for x := 0; x < w; x++ {
			r, gg, b := int(row[4*x]), int(row[4*x+1]), int(row[4*x+2])
			g.p[y*w+x] = uint8((r*77 + gg*150 + b*29) >> 8)
		}
	}
	return g
}

func (g *gray) half() *gray {
	w, h := g.w/2, g.h/2
	o := &gray{w: w, h: h, p: make([]uint8, w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 2*y*g.w + 2*x
			s := int(g.p[i]) + int(g.p[i+1]) + int(g.p[i+g.w]) + int(g.p[i+g.w+1])
			o.p[y*w+x] = uint8(s / 4)
		}
	}
	return o
}

type cand struct {
	x, y int
	sad  int
}

// sad is the sum of absolute differences at (x, y), giving up past limit.
func sad(s, t *gray, x, y, limit int) int {
	total := 0
	for ty := 0; ty < t.h; ty++ {
		srow := s.p[(y+ty)*s.w+x:]
		trow := t.p[ty*t.w : ty*t.w+t.w]
		for tx, tv := range trow {
			d := int(srow[tx]) - int(tv)
			if d < 0 {
				d = -d
			}
			total += d
		}
		if total > limit {
			return total
		}
	}
	return total
}

// exhaustive tries every position and keeps the n best, apart from each other.
func exhaustive(s, t *gray, n int) []cand {
	var all []cand
	limit := 1 << 62
	for y := 0; y+t.h <= s.h; y++ {
		for x := 0; x+t.w <= s.w; x++ {
			v := sad(s, t, x, y, limit)
			if v > limit {
				continue
			}
			all = append(all, cand{x, y, v})
			if len(all) >= 4*n {
				all = best(all, n)
				limit = all[len(all)-1].sad
			}
		}
	}
	return best(all, n)
}

func refine(s, t *gray, cx, cy, r int) cand {
	b := cand{cx, cy, 1 << 62}
	for y := cy - r; y <= cy+r; y++ {
		for x := cx - r; x <= cx+r; x++ {
			if x < 0 || y < 0 || x+t.w > s.w || y+t.h > s.h {
				continue
			}
			if v := sad(s, t, x, y, b.sad); v < b.sad {
				b = cand{x, y, v}
			}
		}
	}
	if b.sad == 1<<62 {
		b.x, b.y = max(0, min(cx, s.w-t.w)), max(0, min(cy, s.h-t.h))
	}
	return b
}

func best(c []cand, n int) []cand {
	sort.Slice(c, func(i, j int) bool { return c[i].sad < c[j].sad })
	var out []cand
	for _, x := range c {
		near := false
		for _, o := range out {
			if abs(o.x-x.x) <= 1 && abs(o.y-x.y) <= 1 {
				near = true
				break
			}
		}
		if !near {
			out = append(out, x)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// agreement is the fraction of reference pixels within pixelTolerance of
// the image at (x, y) on every channel.
func agreement(src, tpl *image.RGBA, x, y int) float64 {
	w, h := tpl.Rect.Dx(), tpl.Rect.Dy()
	ok := 0
	for ty := 0; ty < h; ty++ {
		s := src.Pix[(y+ty)*src.Stride+4*x:]
		t := tpl.Pix[ty*tpl.Stride:]
		for i := 0; i < 4*w; i += 4 {
			if abs(int(s[i])-int(t[i])) <= pixelTolerance && abs(int(s[i+1])-int(t[i+1])) <= pixelTolerance &&
				abs(int(s[i+2])-int(t[i+2])) <= pixelTolerance {
				ok++
			}
		}
	}
	return float64(ok) / float64(w*h)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// correlation is the zero-mean normalised cross-correlation of the
// template's brightness with the image's at (x, y), clamped to 0..1. It is
// not defined (ok false) for a flat template, which has no shape.
func correlation(s, t *gray, x, y int) (float64, bool) {
	n := float64(t.w * t.h)
	var st, ss, tt, sum, tsum float64
	for ty := 0; ty < t.h; ty++ {
		srow := s.p[(y+ty)*s.w+x:]
		trow := t.p[ty*t.w : ty*t.w+t.w]
		for tx, tv := range trow {
			a, b := float64(srow[tx]), float64(tv)
			sum += a
			tsum += b
			st += a * b
			ss += a * a
			tt += b * b
		}
	}
	cov := st - sum*tsum/n
	vs := ss - sum*sum/n
	vt := tt - tsum*tsum/n
	if vt < n*4 { // brightness deviation under 2 of 255: flat
		return 0, false
	}
	if vs <= 0 {
		return 0, true
	}
	c := cov / math.Sqrt(vs*vt)
	return max(0, min(1, c)), true
}
