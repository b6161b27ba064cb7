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
	"sync/atomic"
)

// encodePNG writes an image as PNG, faster than image/png for screenshots:
// every row uses the Up filter (screens repeat vertically: menus, bars,
// flat backgrounds) instead of image/png's per-row filter search, and
// deflate runs at its fastest level on every core. Opaque RGBA images are
// written as RGB; other images go through image/png.
func encodePNG(w io.Writer, img image.Image, cores int) error {
	return encodePNGAfter(w, img, cores, nil)
}

// encodePNGAfter is encodePNG that reuses what it compressed for the
// picture before, kept in cache: bands of rows that did not change (a
// clock ticked, a menu moved its focus) are not compressed again. cache
// may be nil; it is safe for concurrent use.
func encodePNGAfter(w io.Writer, img image.Image, cores int, cache *pngCache) error {
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Empty() {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	// Screens are opaque: they are written as RGB. The check rides along
	// with the filtering; an image with transparent pixels (premultiplied
	// in image.RGBA, straight in PNG) goes through image/png instead.
	stream, err := deflateRows(rgba, cores, cache)
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

// bandRows is how many rows are compressed together: small enough that a
// change in one part of the screen leaves most bands as they were, large
// enough that deflate finds its matches.
const bandRows = 16

// pngBand is one band's compressed rows.
type pngBand struct {
	packed []byte
	adler  uint32
	n      int
}

// pngCache holds the last picture encoded and its bands. Pictures are not
// changed once taken, so keeping a reference is enough.
type pngCache struct {
	mu    sync.Mutex
	img   *image.RGBA
	bands []pngBand
}

func (c *pngCache) get() (*image.RGBA, []pngBand) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.img, c.bands
}

func (c *pngCache) put(img *image.RGBA, bands []pngBand) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.img, c.bands = img, bands
	c.mu.Unlock()
}

// sameRows reports whether rows y0 to y1 (exclusive) of a and b hold the
// same pixels.
func sameRows(a, b *image.RGBA, y0, y1 int) bool {
	n := a.Rect.Dx() * 4
	for y := y0; y < y1; y++ {
		if !bytes.Equal(a.Pix[y*a.Stride:y*a.Stride+n], b.Pix[y*b.Stride:y*b.Stride+n]) {
			return false
		}
	}
	return true
}

// deflateRows returns the zlib stream of the filtered rows, in pieces.
// Bands of rows are compressed at once on every core (each band's deflate
// stream is sync-flushed, so the pieces join into one valid stream, as
// pigz does); each band's Adler-32 is taken there too and the sums are
// combined. Pixels are written as RGB; one that is not opaque stops the
// work with errNotOpaque. A band whose rows, and the row above them that
// the Up filter reads, are those of the cached picture is taken from the
// cache.
func deflateRows(img *image.RGBA, cores int, cache *pngCache) ([][]byte, error) {
	width, height := img.Rect.Dx(), img.Rect.Dy()
	rowLen := width * 3
	nb := (height + bandRows - 1) / bandRows
	prev, prevBands := cache.get()
	if prev != nil && (prev.Rect != img.Rect || len(prevBands) != nb) {
		prev = nil
	}
	out := make([]pngBand, nb)
	errs := make([]error, nb)
	var next atomic.Int32
	var wg sync.WaitGroup
	for range min(max(cores, 1), nb) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := make([]byte, bandRows*(rowLen+1))
			var fw *flate.Writer
			for {
				i := int(next.Add(1)) - 1
				if i >= nb {
					return
				}
				y0, y1 := i*bandRows, min(height, (i+1)*bandRows)
				if prev != nil && sameRows(prev, img, max(0, y0-1), y1) {
					out[i] = prevBands[i]
					continue
				}
				n, flat, err := filterRows(img, raw, y0, y1)
				if err != nil {
					errs[i] = err
					return
				}
				flatKey := [2]int{rowLen, y1 - y0}
				if flat {
					if b, ok := flatBands.Load(flatKey); ok {
						out[i] = b.(pngBand)
						continue
					}
				}
				var buf bytes.Buffer
				if fw == nil {
					fw, _ = flate.NewWriter(&buf, flate.BestSpeed)
				} else {
					fw.Reset(&buf)
				}
				if _, err := fw.Write(raw[:n]); err != nil {
					errs[i] = err
					return
				}
				if err := fw.Flush(); err != nil {
					errs[i] = err
					return
				}
				out[i] = pngBand{packed: buf.Bytes(), adler: adler32.Checksum(raw[:n]), n: n}
				if flat {
					flatBands.Store(flatKey, out[i])
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	cache.put(img, out)
	stream := make([][]byte, 0, nb+2)
	stream = append(stream, []byte{0x78, 0x01})
	var sum uint32 = 1
	for _, b := range out {
		sum = adler32Combine(sum, b.adler, b.n)
		stream = append(stream, b.packed)
	}
	// An empty final block, then the checksum.
	var tail [6]byte
	tail[0], tail[1] = 0x03, 0x00
	binary.BigEndian.PutUint32(tail[2:], sum)
	return append(stream, tail[:]), nil
}

// flatBands holds the compressed form of bands in which every row repeats
// the one above (flat backgrounds), by row length and number of rows: their
// filtered bytes are all the same, so they are compressed once per process.
var flatBands sync.Map // [2]int{row length, rows} -> pngBand

// filterRows writes rows y0 to y1 (exclusive) as filtered RGB scanlines
// into raw and returns how many bytes it wrote, whether every row repeats
// the one above, or errNotOpaque.
func filterRows(img *image.RGBA, raw []byte, y0, y1 int) (n int, flat bool, err error) {
	width := img.Rect.Dx()
	rowLen := width * 3
	alpha := byte(255)
	k := 0
	flat = y0 > 0
	for y := y0; y < y1; y++ {
		src := img.Pix[y*img.Stride : y*img.Stride+width*4]
		var prev []byte
		if y > 0 {
			prev = img.Pix[(y-1)*img.Stride : (y-1)*img.Stride+width*4]
		}
		raw[k] = 2 // the Up filter: each byte minus the one above
		k++
		if prev != nil && bytes.Equal(src, prev) {
			// Flat backgrounds, bars: nothing changes from the row above.
			clear(raw[k : k+rowLen])
			k += rowLen
			continue
		}
		flat = false
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
			return 0, false, errNotOpaque
		}
	}
	return k, flat, nil
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
