package capture

import (
	"image"
	"image/color"
	"image/draw"
)

// Mark is a rectangle outlined on a screenshot's thumbnail: the region an
// analysis looked at, the pixels that changed, the words read. The picture
// itself stays as the device showed it.
type Mark struct {
	// Rect is in the picture's coordinates.
	Rect  image.Rectangle
	Color color.RGBA
}

// Colours of the marks.
var (
	// MarkRegion outlines the region analysed.
	MarkRegion = color.RGBA{0xff, 0xd1, 0x66, 0xff}
	// MarkChange outlines what changed or decided.
	MarkChange = color.RGBA{0xe6, 0x39, 0x46, 0xff}
)

// markWidth is the outline's width on the thumbnail, in pixels.
const markWidth = 2

// drawMarks outlines marks on the thumbnail of a picture: on a copy when
// the thumbnail is the picture itself (a small one) or not RGBA.
func drawMarks(thumb, picture image.Image, marks []Mark) image.Image {
	src := picture.Bounds()
	if len(marks) == 0 || src.Empty() {
		return thumb
	}
	b := thumb.Bounds()
	dst, ok := thumb.(*image.RGBA)
	if !ok || thumb == picture {
		dst = image.NewRGBA(b)
		draw.Draw(dst, b, thumb, b.Min, draw.Src)
	}
	sx := float64(b.Dx()) / float64(src.Dx())
	sy := float64(b.Dy()) / float64(src.Dy())
	for _, m := range marks {
		r := m.Rect.Intersect(src)
		if r.Empty() {
			continue
		}
		scaled := image.Rect(
			b.Min.X+int(float64(r.Min.X-src.Min.X)*sx), b.Min.Y+int(float64(r.Min.Y-src.Min.Y)*sy),
			b.Min.X+int(float64(r.Max.X-src.Min.X)*sx+0.999), b.Min.Y+int(float64(r.Max.Y-src.Min.Y)*sy+0.999))
		outline(dst, scaled, m.Color)
	}
	return dst
}

// outline draws a rectangle's border, markWidth wide, inside it.
func outline(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	u := &image.Uniform{c}
	w := min(markWidth, r.Dx(), r.Dy())
	if w <= 0 {
		draw.Draw(dst, r.Inset(-1), u, image.Point{}, draw.Src)
		return
	}
	for _, edge := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, r.Min.Y+w)}, {image.Pt(r.Min.X, r.Max.Y-w), r.Max},
		{r.Min, image.Pt(r.Min.X+w, r.Max.Y)}, {image.Pt(r.Max.X-w, r.Min.Y), r.Max},
	} {
		draw.Draw(dst, edge.Intersect(dst.Rect), u, image.Point{}, draw.Src)
	}
}
