package capture

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
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
			// Room for filterRows' 8-byte stores past the last pixel.
			raw := make([]byte, bandRows*(rowLen+1)+8)
			z := &bandDeflater{}
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
				n, zero, err := filterRows(img, raw, y0, y1)
				if err != nil {
					errs[i] = err
					return
				}
				if out[i], err = z.band(raw[:n], rowLen, y1-y0, zero); err != nil {
					errs[i] = err
					return
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

// bandDeflater compresses the filtered rows of bands, one worker's.
type bandDeflater struct {
	fw *flate.Writer
}

// band compresses the filtered rows of one band, rows rows of rowLen
// bytes (plus their filter byte) in raw; bit r of zero tells that row r
// repeats the row above it. A screen is mostly such rows (seven in ten on
// the virtual device's home screen: backgrounds, bars, the space between
// lines of text): a run of them is taken from flatRuns, compressed once
// per process, and only the other rows are compressed. Each run ends with
// a sync flush, so the runs join into one stream as the bands do.
func (z *bandDeflater) band(raw []byte, rowLen, rows int, zero uint32) (pngBand, error) {
	stride := rowLen + 1
	var packed []byte
	var sum uint32 = 1
	for r := 0; r < rows; {
		isZero := zero&(1<<r) != 0
		end := r + 1
		for end < rows && (zero&(1<<end) != 0) == isZero {
			end++
		}
		var seg pngBand
		if isZero {
			seg = z.flatRun(rowLen, end-r)
		} else {
			var err error
			if seg, err = z.deflate(raw[r*stride : end*stride]); err != nil {
				return pngBand{}, err
			}
		}
		packed = append(packed, seg.packed...)
		sum = adler32Combine(sum, seg.adler, seg.n)
		r = end
	}
	return pngBand{packed: packed, adler: sum, n: rows * stride}, nil
}

// deflate compresses b into a sync-flushed piece of a stream.
func (z *bandDeflater) deflate(b []byte) (pngBand, error) {
	var buf bytes.Buffer
	if z.fw == nil {
		z.fw, _ = flate.NewWriter(&buf, flate.BestSpeed)
	} else {
		z.fw.Reset(&buf)
	}
	if _, err := z.fw.Write(b); err != nil {
		return pngBand{}, err
	}
	if err := z.fw.Flush(); err != nil {
		return pngBand{}, err
	}
	return pngBand{packed: buf.Bytes(), adler: adler32Sparse(b), n: len(b)}, nil
}

// flatRuns holds the compressed form of runs of rows that repeat the row
// above (their filtered bytes: the filter byte, then zeros), by row length
// and number of rows.
var flatRuns sync.Map // [2]int{row length, rows} -> pngBand

// flatRun compresses with the worker's own writer: a writer of its own
// for each new length was a megabyte of garbage apiece, 7 MiB more peak
// memory for a run's first screenshots.
func (z *bandDeflater) flatRun(rowLen, rows int) pngBand {
	key := [2]int{rowLen, rows}
	if b, ok := flatRuns.Load(key); ok {
		return b.(pngBand)
	}
	raw := make([]byte, rows*(rowLen+1))
	for r := range rows {
		raw[r*(rowLen+1)] = 2
	}
	b, _ := z.deflate(raw) // a bytes.Buffer does not fail
	flatRuns.Store(key, b)
	return b
}

// filterRows writes rows y0 to y1 (exclusive) as RGB scanlines with the Up
// filter into raw, which has room for 8 bytes past them, and returns how
// many bytes it wrote and which rows (bit y-y0) repeat the row above, or
// errNotOpaque. Two pixels are filtered at once: the bytes of one word
// less those of the word above, without borrows between them.
func filterRows(img *image.RGBA, raw []byte, y0, y1 int) (n int, zero uint32, err error) {
	width := img.Rect.Dx()
	rowLen := width * 3
	const (
		high   = 0x8080808080808080
		alphas = 0xff000000ff000000
	)
	k := 0
	for y := y0; y < y1; y++ {
		src := img.Pix[y*img.Stride : y*img.Stride+width*4]
		raw[k] = 2 // the Up filter: each byte minus the one above
		k++
		out := raw[k : k+rowLen+8]
		if y == 0 {
			// Nothing above: the bytes as they are.
			opaque := byte(255)
			for x, o := 0, 0; x+3 < len(src); x, o = x+4, o+3 {
				out[o], out[o+1], out[o+2] = src[x], src[x+1], src[x+2]
				opaque &= src[x+3]
			}
			if opaque != 255 {
				return 0, 0, errNotOpaque
			}
			k += rowLen
			continue
		}
		prev := img.Pix[(y-1)*img.Stride : (y-1)*img.Stride+width*4]
		if bytes.Equal(src, prev) {
			// Flat backgrounds, bars: nothing changes from the row above
			// (whose opacity was checked with it).
			clear(out[:rowLen])
			zero |= 1 << (y - y0)
			k += rowLen
			continue
		}
		opaque := uint64(alphas)
		x, o := 0, 0
		for ; x+8 <= len(src); x, o = x+8, o+6 {
			a, b := binary.LittleEndian.Uint64(src[x:x+8]), binary.LittleEndian.Uint64(prev[x:x+8])
			opaque &= a
			d := ((a | high) - (b &^ high)) ^ ((a ^ ^b) & high)
			binary.LittleEndian.PutUint64(out[o:o+8], d&0xffffff|(d>>8)&0xffffff000000)
		}
		if x < len(src) {
			// An odd last pixel.
			out[o], out[o+1], out[o+2] = src[x]-prev[x], src[x+1]-prev[x+1], src[x+2]-prev[x+2]
			if src[x+3] != 255 {
				return 0, 0, errNotOpaque
			}
		}
		if opaque&alphas != alphas {
			return 0, 0, errNotOpaque
		}
		k += rowLen
	}
	return k, zero, nil
}

// adler32Sparse is adler32.Checksum for data that is mostly zeros (the
// filtered rows of a screen): a zero byte leaves the first sum as it is
// and adds it to the second, so a zero word adds it eight times at once.
func adler32Sparse(b []byte) uint32 {
	const (
		mod = 65521
		// nmax bytes keep both sums within 32 bits (zlib's NMAX).
		nmax = 5552 &^ 7
	)
	s1, s2 := uint32(1), uint32(0)
	for len(b) > 0 {
		n := min(len(b), nmax)
		p := b[:n]
		for len(p) >= 8 {
			if binary.LittleEndian.Uint64(p) == 0 {
				s2 += 8 * s1
			} else {
				for _, c := range p[:8] {
					s1 += uint32(c)
					s2 += s1
				}
			}
			p = p[8:]
		}
		for _, c := range p {
			s1 += uint32(c)
			s2 += s1
		}
		s1, s2 = s1%mod, s2%mod
		b = b[n:]
	}
	return s2<<16 | s1
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
