package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vpt-dev/vpt/internal/tool"
)

// MediaInfo is what ffprobe says about a recording.
type MediaInfo struct {
	Duration time.Duration
	// Video: the first video stream's size and frame rate (0 without one).
	Width, Height int
	FPS           float64
	// Audio: whether it has a sound track, its rate and channels.
	Audio    bool
	Rate     int
	Channels int
}

// HasVideo reports whether the recording has a picture.
func (m MediaInfo) HasVideo() bool { return m.Width > 0 && m.Height > 0 }

// ProbeArgs asks ffprobe for a recording's streams and duration as JSON.
func ProbeArgs(path string) []string {
	return []string{"-v", "error", "-show_entries",
		"stream=codec_type,width,height,avg_frame_rate,sample_rate,channels:format=duration", "-of", "json", path}
}

// Probe asks ffprobe what a recording holds.
func Probe(ctx context.Context, ffprobe, path string) (MediaInfo, error) {
	if ffprobe == "" {
		ffprobe = "ffprobe"
	}
	cmd := exec.CommandContext(ctx, ffprobe, ProbeArgs(path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if tool.Missing(err) {
			return MediaInfo{}, fmt.Errorf("%w: ffprobe (%s): install it (apt-get install ffmpeg)", ErrToolMissing, ffprobe)
		}
		return MediaInfo{}, fmt.Errorf("ffprobe %s: %v: %s", path, err, lastLines(stderr.String(), 2))
	}
	return parseProbe(out)
}

func parseProbe(out []byte) (MediaInfo, error) {
	var doc struct {
		Streams []struct {
			Type     string `json:"codec_type"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
			Rate     string `json:"avg_frame_rate"`
			Sample   string `json:"sample_rate"`
			Channels int    `json:"channels"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return MediaInfo{}, fmt.Errorf("ffprobe: unreadable answer: %v", err)
	}
	var m MediaInfo
	if secs, err := strconv.ParseFloat(doc.Format.Duration, 64); err == nil {
		m.Duration = time.Duration(secs * float64(time.Second))
	}
	for _, s := range doc.Streams {
		switch {
		case s.Type == "video" && m.Width == 0:
			m.Width, m.Height = s.Width, s.Height
			if num, den, ok := strings.Cut(s.Rate, "/"); ok {
				n, _ := strconv.ParseFloat(num, 64)
				d, _ := strconv.ParseFloat(den, 64)
				if d > 0 {
					m.FPS = n / d
				}
			}
		case s.Type == "audio" && !m.Audio:
			m.Audio = true
			m.Rate, _ = strconv.Atoi(s.Sample)
			m.Channels = s.Channels
		}
	}
	return m, nil
}

// DecodeOptions describe raw grey frames decoded by ffmpeg.
type DecodeOptions struct {
	// Input is ffmpeg's input part: ["-i", "video.mp4"], or
	// ["-f", "x11grab", "-i", ":99"], with -ss/-t before -i for a window.
	Input []string
	// Width, Height: the size frames are scaled to (required).
	Width, Height int
	// FPS: frames a second (required); ffmpeg duplicates or drops frames
	// to keep that rate, so frame n is at n/FPS.
	FPS int
	// Base is the time of the first frame; frame n is at Base + n/FPS.
	// Without it (a live source), each frame's time is when it arrived.
	Base time.Time
	// Live: a source that must not be held up; when the reader falls
	// behind, frames are dropped (Seq shows the gap) instead of making
	// ffmpeg wait.
	Live bool
}

// DecodeArgs is the ffmpeg command that writes raw grey frames to stdout.
func DecodeArgs(o DecodeOptions) []string {
	a := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	a = append(a, o.Input...)
	vf := fmt.Sprintf("fps=%d,scale=%d:%d:flags=area,format=gray", o.FPS, o.Width, o.Height)
	return append(a, "-an", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
}

// DecodeFrames starts ffmpeg decoding o.Input into grey frames.
func DecodeFrames(ctx context.Context, ffmpeg string, o DecodeOptions) (FrameReader, error) {
	if o.Width <= 0 || o.Height <= 0 || o.FPS <= 0 {
		return nil, fmt.Errorf("decode frames: size %dx%d at %d fps: give a positive size and rate", o.Width, o.Height, o.FPS)
	}
	if _, err := exec.LookPath(ffmpeg); err != nil {
		return nil, fmt.Errorf("%w: ffmpeg (%s) decodes frames: install it (apt-get install ffmpeg)", ErrToolMissing, ffmpeg)
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, ffmpeg, DecodeArgs(o)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr := &limitedBuffer{b: &bytes.Buffer{}, max: 8 * 1024}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	depth := 2
	if o.Live {
		depth = max(2, o.FPS) // a second of frames
	}
	r := &decodeReader{o: o, cancel: cancel, frames: make(chan Frame, depth), done: make(chan struct{})}
	go r.read(cmd, out, stderr)
	return r, nil
}

type decodeReader struct {
	o      DecodeOptions
	cancel context.CancelFunc
	frames chan Frame
	done   chan struct{}
	err    error // how reading ended; set before done closes
	once   sync.Once
}

func (r *decodeReader) read(cmd *exec.Cmd, out io.Reader, stderr *limitedBuffer) {
	defer close(r.done)
	defer close(r.frames)
	size := r.o.Width * r.o.Height
	period := time.Second / time.Duration(r.o.FPS)
	for n := uint64(0); ; n++ {
		img := image.NewGray(image.Rect(0, 0, r.o.Width, r.o.Height))
		if _, err := io.ReadFull(out, img.Pix[:size]); err != nil {
			werr := cmd.Wait()
			switch {
			case errors.Is(err, io.EOF) && werr == nil:
				r.err = io.EOF
			case werr != nil:
				r.err = fmt.Errorf("ffmpeg stopped decoding frames: %v: %s", werr, lastLines(stderr.String(), 3))
			default:
				r.err = fmt.Errorf("ffmpeg ended mid-frame: %s", lastLines(stderr.String(), 3))
			}
			return
		}
		f := Frame{Image: img, Seq: n, Time: time.Now()}
		if !r.o.Base.IsZero() {
			f.Time = r.o.Base.Add(time.Duration(n) * period)
		}
		if r.o.Live {
			select {
			case r.frames <- f:
			default: // the reader is behind: this frame is lost
			}
			continue
		}
		r.frames <- f
	}
}

// Next implements FrameReader.
func (r *decodeReader) Next(ctx context.Context) (Frame, error) {
	select {
	case f, ok := <-r.frames:
		if ok {
			return f, nil
		}
		<-r.done
		return Frame{}, r.err
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// FPS implements FrameReader.
func (r *decodeReader) FPS() int { return r.o.FPS }

// Close implements FrameReader: it stops ffmpeg.
func (r *decodeReader) Close() error {
	r.once.Do(func() {
		r.cancel()
		// Drain so the reading goroutine can finish.
		for range r.frames {
		}
		<-r.done
	})
	return nil
}
