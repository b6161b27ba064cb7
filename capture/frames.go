package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"
)

// Frame is one picture of a device's capture as 8-bit luma, the form the
// picture analysis works on: one byte a pixel, no decoding on the way.
type Frame struct {
	// Image is the picture; its Rect starts at (0, 0). It is never written
	// again once handed out, and readers of one source may share it: treat
	// it as read-only.
	Image *image.Gray
	// Time is when the device showed the picture: exactly, for the
	// virtual device, which renders the picture of that instant; when
	// ffmpeg handed it over, for captured sources; the file's start plus
	// the frame's position, for recordings.
	Time time.Time
	// Seq numbers a reader's frames from 0. A gap means frames were
	// dropped because the reader was read too slowly.
	Seq uint64
}

// FrameOptions choose the frames a FrameSource gives.
type FrameOptions struct {
	// FPS is how many frames a second (0: the device's own rate).
	FPS int
}

// FrameSource is implemented by devices that give their live picture as
// timestamped grey frames (the virtual device, HDMI capture, the host
// display). Frame analysis needs every frame in order, which screenshots
// (the latest picture, in colour) do not give.
type FrameSource interface {
	// Frames starts a reader at the picture shown now. Closing the reader
	// or ending ctx stops it.
	Frames(ctx context.Context, o FrameOptions) (FrameReader, error)
}

// FrameReader gives a device's frames in order.
type FrameReader interface {
	// Next returns the next frame, waiting for it (about one frame period
	// when the reader keeps up). Errors: ctx's, ErrStalled when the
	// source gives no frames, io.EOF at the end of a recording.
	Next(ctx context.Context) (Frame, error)
	// FPS is the rate the frames come at.
	FPS() int
	Close() error
}

// Sound is a stretch of a device's sound as PCM.
type Sound struct {
	// Samples are interleaved by channel, each between -1 and 1.
	Samples  []float32
	Rate     int // samples a second, per channel
	Channels int
	// Time is when the first sample played.
	Time time.Time
}

// Duration is how long the stretch lasts.
func (s Sound) Duration() time.Duration {
	if s.Rate <= 0 || s.Channels <= 0 {
		return 0
	}
	return time.Duration(len(s.Samples)/s.Channels) * time.Second / time.Duration(s.Rate)
}

// AudioSource is implemented by devices that give their live sound as PCM
// (the virtual device).
type AudioSource interface {
	// Audio starts a reader at the sound playing now. Closing the reader or
	// ending ctx stops it.
	Audio(ctx context.Context) (AudioReader, error)
}

// AudioReader gives a device's sound in order, in short stretches.
type AudioReader interface {
	// Next returns the next stretch (a few tens of milliseconds), waiting
	// for it. Stretches follow each other without gaps.
	Next(ctx context.Context) (Sound, error)
	Close() error
}

// FramesOf returns the device's frame source, or an error wrapping
// ErrNotSupported that says which device cannot give frames.
func FramesOf(d Device) (FrameSource, error) {
	if fs, ok := d.(FrameSource); ok && d.Info().Has(CapVideo) {
		return fs, nil
	}
	i := d.Info()
	return nil, fmt.Errorf("device %s (%s) gives no live frames: %w (frame analysis needs the virtual device, an HDMI capture card or a host display)", i.ID, i.Driver, ErrNotSupported)
}

// AudioOf returns the device's audio source, or an error wrapping
// ErrNotSupported that says which device has no sound.
func AudioOf(d Device) (AudioSource, error) {
	if as, ok := d.(AudioSource); ok && d.Info().Has(CapAudio) {
		return as, nil
	}
	i := d.Info()
	return nil, fmt.Errorf("device %s (%s) gives no live sound: %w (live sound analysis needs the virtual device; an HDMI card with audio: records its sound into the run's video, which the recording check analyses)", i.ID, i.Driver, ErrNotSupported)
}

// ErrRegion: a region is empty or not inside the frame.
var ErrRegion = errors.New("bad region")

// CheckRegion resolves a region of a picture of the given bounds: the
// zero rectangle means the whole picture; anything else must be non-empty
// and lie inside it.
func CheckRegion(r, bounds image.Rectangle) (image.Rectangle, error) {
	if r == (image.Rectangle{}) {
		return bounds, nil
	}
	if r.Empty() {
		return r, fmt.Errorf("%w: region %s has no area (give x, y, width, height with a positive width and height)", ErrRegion, FormatRegion(r))
	}
	if !r.In(bounds) {
		return r, fmt.Errorf("%w: region %s is outside the %dx%d frame", ErrRegion, FormatRegion(r), bounds.Dx(), bounds.Dy())
	}
	return r, nil
}

// FormatRegion writes a region the way users give it: [x, y, width, height].
func FormatRegion(r image.Rectangle) string {
	return fmt.Sprintf("[%d, %d, %d, %d]", r.Min.X, r.Min.Y, r.Dx(), r.Dy())
}

// RegionOf builds a region from x, y, width, height. A width or height of
// zero or less gives an empty region (which CheckRegion refuses), not a
// flipped one.
func RegionOf(x, y, w, h int) image.Rectangle {
	return image.Rectangle{Min: image.Pt(x, y), Max: image.Pt(x+w, y+h)}
}

// GrayOf turns a picture (a screenshot) into the grey form frames have,
// BT.601 luma as ffmpeg's gray: what lets a screenshot be analysed like a
// frame. A grey picture is returned as it is.
func GrayOf(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Rect.Min == (image.Point{}) {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if src, ok := img.(*image.RGBA); ok {
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):src.PixOffset(b.Max.X, b.Min.Y+y)]
			out := g.Pix[g.PixOffset(0, y):]
			for i := 0; i < len(row); i += 4 {
				out[i/4] = uint8((19595*uint32(row[i]) + 38470*uint32(row[i+1]) + 7471*uint32(row[i+2]) + 1<<15) >> 16)
			}
		}
		return g
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			g.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return g
}
