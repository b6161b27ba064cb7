package capture

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
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
// deflate runs at its fastest level on every core. Opaque RGBA images are
// written as RGB; other images go through image/png.
func encodePNG(w io.Writer, img image.Image, cores int) error {
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Empty() {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	// Screens are opaque: they are written as RGB. The check rides along
	// with the filtering; an image with transparent pixels (premultiplied
	// in image.RGBA, straight in PNG) goes through image/png instead.
	stream, err := deflateRows(rgba, cores)
	if err == errNotOpaque {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64*1024)
	bw.Write([]byte("\x89PNG\r\n\x1a\n"))
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(rgba.Rect.Dx()))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(rgba.Rect.Dy()))
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	writeChunk(bw, "IHDR", ihdr[:])
	idat := &chunkWriter{w: bw, kind: "IDAT"}
	for _, piece := range stream {
		idat.Write(piece)
	}
	idat.flush()
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

var errNotOpaque = errors.New("image is not opaque")

// deflateRows returns the zlib stream of the filtered rows, in pieces.
// Bands of rows are compressed at once on every core (each band's deflate
// stream is sync-flushed, so the pieces join into one valid stream, as
// pigz does); each band's Adler-32 is taken there too and the sums are
// combined. Pixels are written as RGB; one that is not opaque stops the
// work with errNotOpaque.
func deflateRows(img *image.RGBA, cores int) ([][]byte, error) {
	width, height := img.Rect.Dx(), img.Rect.Dy()
	rowLen := width * 3
	bands := min(cores, max(1, height/64))
	type band struct {
		packed []byte
		adler  uint32
		n      int
		err    error
	}
	out := make([]band, bands)
	var wg sync.WaitGroup
	for i := 0; i < bands; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			y0, y1 := height*i/bands, height*(i+1)/bands
			raw := make([]byte, (y1-y0)*(rowLen+1)) // zeros: a row equal to the one above is all zeros
			alpha := byte(255)
			k := 0
			for y := y0; y < y1; y++ {
				src := img.Pix[y*img.Stride : y*img.Stride+width*4]
				var prev []byte
				if y > 0 {
					prev = img.Pix[(y-1)*img.Stride : (y-1)*img.Stride+width*4]
				}
				raw[k] = 2 // the Up filter: each byte minus the one above
				k++
				switch {
				case prev != nil && bytes.Equal(src, prev):
					// Flat backgrounds, bars: nothing changes from the row above.
					k += rowLen
				default:
					for x := 0; x+3 < len(src); x += 4 {
						r, g, b := src[x], src[x+1], src[x+2]
						if prev != nil {
							r, g, b = r-prev[x], g-prev[x+1], b-prev[x+2]
						}
						raw[k], raw[k+1], raw[k+2] = r, g, b
						alpha &= src[x+3]
						k += 3
					}
					if alpha != 255 {
						out[i].err = errNotOpaque
						return
					}
				}
			}
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
			if _, err := fw.Write(raw); err != nil {
				out[i].err = err
				return
			}
			out[i].err = fw.Flush()
			out[i].packed, out[i].adler, out[i].n = buf.Bytes(), adler32.Checksum(raw), len(raw)
		}(i)
	}
	wg.Wait()
	stream := [][]byte{{0x78, 0x01}}
	var sum uint32 = 1
	for _, p := range out {
		if p.err != nil {
			return nil, p.err
		}
		sum = adler32Combine(sum, p.adler, p.n)
		stream = append(stream, p.packed)
	}
	// An empty final block, then the checksum.
	var tail [6]byte
	tail[0], tail[1] = 0x03, 0x00
	binary.BigEndian.PutUint32(tail[2:], sum)
	return append(stream, tail[:]), nil
}

// adler32Combine is the Adler-32 of a stream made of a part whose sum is a
// followed by n bytes whose sum is b (as zlib's adler32_combine).
func adler32Combine(a, b uint32, n int) uint32 {
	const mod = 65521
	rem := uint64(n % mod)
	s1 := uint64(a & 0xffff)
	s2 := rem * s1 % mod
	s1 += uint64(b&0xffff) + mod - 1
	s2 += uint64(a>>16) + uint64(b>>16) + mod - rem
	return uint32(s1%mod) | uint32(s2%mod)<<16
}
