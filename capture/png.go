package capture

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"sync"
)

// encodePNG writes an image as PNG, faster than image/png for screenshots:
// every row uses the Up filter (screens repeat vertically: menus, bars,
// flat backgrounds) instead of image/png's per-row filter search, and
// deflate runs at its fastest level. Opaque RGBA images are written as
// RGB. Other image types go through image/png.
func encodePNG(w io.Writer, img image.Image, cores int) error {
	rgba, ok := img.(*image.RGBA)
	if !ok {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	b := rgba.Rect
	width, height := b.Dx(), b.Dy()
	if width == 0 || height == 0 {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	opaque := rgba.Opaque()
	bpp := 4
	colorType := byte(6) // RGBA
	if opaque {
		bpp, colorType = 3, 2 // RGB
	}
	bw := bufio.NewWriterSize(w, 64*1024)
	bw.Write([]byte("\x89PNG\r\n\x1a\n"))
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = 8, colorType
	writeChunk(bw, "IHDR", ihdr[:])

	idat := &chunkWriter{w: bw, kind: "IDAT"}
	if err := deflateRows(idat, rgba, bpp, opaque, cores); err != nil {
		return err
	}
	if err := idat.flush(); err != nil {
		return err
	}
	writeChunk(bw, "IEND", nil)
	return bw.Flush()
}

func writeChunk(w io.Writer, kind string, data []byte) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], kind)
	w.Write(hdr[:])
	w.Write(data)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	w.Write(sum[:])
}

// chunkWriter cuts a stream into chunks of one kind (IDAT).
type chunkWriter struct {
	w    io.Writer
	kind string
	buf  []byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for len(c.buf) >= 256*1024 {
		writeChunk(c.w, c.kind, c.buf[:256*1024])
		c.buf = c.buf[256*1024:]
	}
	return len(p), nil
}

func (c *chunkWriter) flush() error {
	if len(c.buf) > 0 {
		writeChunk(c.w, c.kind, c.buf)
		c.buf = nil
	}
	return nil
}

// deflateRows writes the zlib stream of the filtered rows. Bands of rows
// are compressed at once on every core (each band's deflate stream is
// sync-flushed, so the pieces join into one valid stream, as pigz does);
// the checksum is taken over the whole.
func deflateRows(w io.Writer, img *image.RGBA, bpp int, opaque bool, cores int) error {
	b := img.Rect
	width, height := b.Dx(), b.Dy()
	rowLen := width * bpp
	bands := min(cores, max(1, height/64))
	type band struct {
		raw, packed []byte
		err         error
	}
	out := make([]band, bands)
	var wg sync.WaitGroup
	for i := 0; i < bands; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			y0, y1 := height*i/bands, height*(i+1)/bands
			raw := make([]byte, (y1-y0)*(rowLen+1))
			k := 0
			for y := y0; y < y1; y++ {
				off := (y-b.Min.Y+img.Rect.Min.Y)*img.Stride + (b.Min.X-img.Rect.Min.X)*4
				src := img.Pix[off : off+width*4]
				prev := src[:0]
				if y > b.Min.Y {
					prev = img.Pix[off-img.Stride : off-img.Stride+width*4]
				}
				raw[k] = 2 // the Up filter: each byte minus the one above
				k++
				switch {
				case opaque && len(prev) == 0:
					for x := 0; x+3 < len(src); x += 4 {
						raw[k], raw[k+1], raw[k+2] = src[x], src[x+1], src[x+2]
						k += 3
					}
				case opaque:
					prev = prev[:len(src)]
					for x := 0; x+3 < len(src); x += 4 {
						raw[k], raw[k+1], raw[k+2] = src[x]-prev[x], src[x+1]-prev[x+1], src[x+2]-prev[x+2]
						k += 3
					}
				case len(prev) == 0:
					k += copy(raw[k:], src)
				default:
					prev = prev[:len(src)]
					for x := range src {
						raw[k+x] = src[x] - prev[x]
					}
					k += len(src)
				}
			}
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
			if _, err := fw.Write(raw); err != nil {
				out[i].err = err
				return
			}
			out[i].err = fw.Flush()
			out[i].raw, out[i].packed = raw, buf.Bytes()
		}(i)
	}
	wg.Wait()
	sum := adler32.New()
	if _, err := w.Write([]byte{0x78, 0x01}); err != nil {
		return err
	}
	for _, p := range out {
		if p.err != nil {
			return p.err
		}
		sum.Write(p.raw)
		if _, err := w.Write(p.packed); err != nil {
			return err
		}
	}
	// An empty final block, then the checksum.
	var tail [6]byte
	tail[0], tail[1] = 0x03, 0x00
	binary.BigEndian.PutUint32(tail[2:], sum.Sum32())
	_, err := w.Write(tail[:])
	return err
}
