package virtual

import (
	"image"
	"sync/atomic"
)

// Frames are 1280x720 RGBA pictures, 3.6 MB each. A fresh one costs about
// 900 page faults when it is first drawn into. After a screen is frozen
// (a run's initial screenshot), one more frame is made and touched in the
// background, and the next screenshot (the final one, after the script,
// on the run's critical path) takes it instead of paying them. A frame
// handed out is never taken back (the PNG band cache keeps the last one):
// the spare is always a new picture.
var (
	spare     = make(chan *image.RGBA, 1)
	refilling atomic.Bool
)

// pageSize is the stride at which a new frame is touched.
const pageSize = 4096

// newFrame is a frame to draw into: the spare, if one is ready. With
// another set, a spare is made for the next call.
func newFrame(another bool) *image.RGBA {
	var img *image.RGBA
	select {
	case img = <-spare:
	default:
		img = image.NewRGBA(image.Rect(0, 0, Width, Height))
	}
	if another && refilling.CompareAndSwap(false, true) {
		go refill()
	}
	return img
}

func refill() {
	defer refilling.Store(false)
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for i := 0; i < len(img.Pix); i += pageSize {
		img.Pix[i] = 0
	}
	select {
	case spare <- img:
	default:
	}
}
