package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vpt-dev/vpt/internal/tool"
)

// Files of a recording folder. Segments are written under a temporary name
// and renamed when complete (hls_flags temp_file), so every seg_*.ts on
// disk is playable even after the recorder was killed.
const (
	PlaylistName   = "index.m3u8"
	SegmentPattern = "seg_%05d.ts"
	// LatestFrame is raw RGB (PPM): a screenshot reads it without decoding.
	LatestFrame = "latest.ppm"
)

// Quality presets for re-encoding a recording when finalising it, upstream's
// values (video_utils.get_compression_settings). "copy" (the default) only
// remuxes.
var Qualities = map[string]Encoding{
	"low":    {Preset: "ultrafast", CRF: 30, MaxRate: "500k", BufSize: "1000k"},
	"fast":   {Preset: "veryfast", CRF: 28, MaxRate: "1000k", BufSize: "2000k"},
	"medium": {Preset: "medium", CRF: 23, MaxRate: "800k", BufSize: "1600k"},
	"high":   {Preset: "slow", CRF: 20, MaxRate: "600k", BufSize: "1200k"},
}

// Encoding is an x264 re-encode setting.
type Encoding struct {
	Preset  string
	CRF     int
	MaxRate string
	BufSize string
}

// hlsOutput is the tail of every recording command: H.264 into HLS
// segments with a keyframe at every segment boundary.
func hlsOutput(dir string, fps, seg int, encode bool) []string {
	var a []string
	if encode {
		gop := strconv.Itoa(fps * seg)
		a = append(a, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
			"-pix_fmt", "yuv420p", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0")
	} else {
		a = append(a, "-c:v", "copy")
	}
	return append(a, "-f", "hls", "-hls_time", strconv.Itoa(seg), "-hls_list_size", "0",
		"-hls_flags", "independent_segments+temp_file",
		"-hls_segment_filename", filepath.Join(dir, SegmentPattern), filepath.Join(dir, PlaylistName))
}

var ffmpegHead = []string{"-hide_banner", "-loglevel", "error", "-y"}

// RawVideoArgs records raw RGBA frames read from stdin (the virtual device)
// and, with audioRate > 0, mono 16-bit PCM at that rate read from the
// second pipe (fd 3, StartFFmpegInputs). ffmpeg reads each input in its own
// thread, so the two pipes are drained independently; the writers pace
// them by the wall clock, frame n and sample k at n/fps and k/rate.
func RawVideoArgs(dir string, w, h int, o VideoOptions, audioRate int) []string {
	a := append([]string{}, ffmpegHead...)
	// The raw inputs say everything about themselves: no probing, which
	// would read seconds of one pipe while the other waits.
	noProbe := []string{"-probesize", "32", "-analyzeduration", "0"}
	a = append(a, noProbe...)
	a = append(a, "-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", w, h),
		"-r", strconv.Itoa(o.FPS), "-i", "-")
	if audioRate <= 0 {
		return append(a, hlsOutput(dir, o.FPS, o.SegmentSeconds, true)...)
	}
	a = append(a, noProbe...)
	a = append(a, "-f", "s16le", "-ar", strconv.Itoa(audioRate), "-ac", "1", "-i", "pipe:3",
		"-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "64k")
	return append(a, hlsOutput(dir, o.FPS, o.SegmentSeconds, true)...)
}

// H264PipeArgs records raw H.264 read from stdin (adb screenrecord), copied
// without re-encoding. Raw H.264 has no timestamps: the wall clock gives
// them, so the video lasts as long as the run.
func H264PipeArgs(dir string, o VideoOptions) []string {
	a := append([]string{}, ffmpegHead...)
	a = append(a, "-use_wallclock_as_timestamps", "1", "-fflags", "+genpts", "-f", "h264", "-i", "-")
	return append(a, hlsOutput(dir, o.FPS, o.SegmentSeconds, false)...)
}

// CaptureSource is where a capture pipeline reads pictures (and sound).
type CaptureSource struct {
	// Kind: v4l2 (a capture card), x11grab (a display), lavfi (ffmpeg's
	// test sources, standing in for a card).
	Kind   string
	Input  string // /dev/video0, :99, testsrc2=size=1280x720:rate=10
	Size   string // 1280x720
	FPS    int
	Audio  string // ALSA device (plughw:1,0), v4l2 only
	Format string // v4l2 input format, default mjpeg
}

// PipelineFrameSize is the size of a capture pipeline's live grey frames:
// analysis needs no more, and a fixed size lets them be read off the pipe
// without asking ffmpeg.
var PipelineFrameSize = image.Pt(1280, 720)

// CaptureArgs keeps a capture source's latest frame in LatestFrame for
// screenshots and, with record, records it into HLS segments, from one
// ffmpeg process. The frame is written atomically (-atomic_writing), so a
// reader never sees half a picture. With framesFPS > 0 it also writes raw
// grey frames of PipelineFrameSize at that rate to stdout, for live
// analysis, from the same decoded pictures.
func CaptureArgs(dir string, src CaptureSource, o VideoOptions, shotFPS int, record bool, framesFPS int) []string {
	a := append([]string{}, ffmpegHead...)
	a = append(a, "-nostdin")
	switch src.Kind {
	case "v4l2":
		format := src.Format
		if format == "" {
			format = "mjpeg"
		}
		a = append(a, "-fflags", "+genpts", "-use_wallclock_as_timestamps", "1", "-thread_queue_size", "512",
			"-f", "v4l2", "-input_format", format, "-video_size", src.Size, "-framerate", strconv.Itoa(src.FPS), "-i", src.Input)
		if src.Audio != "" && record {
			a = append(a, "-thread_queue_size", "512", "-f", "alsa", "-i", src.Audio)
		}
	case "x11grab":
		a = append(a, "-thread_queue_size", "512", "-f", "x11grab", "-video_size", src.Size,
			"-framerate", strconv.Itoa(src.FPS), "-i", src.Input)
	case "lavfi":
		a = append(a, "-re", "-f", "lavfi", "-i", src.Input)
	}
	if shotFPS <= 0 {
		shotFPS = 5
	}
	latest := []string{"-c:v", "ppm", "-f", "image2", "-update", "1", "-atomic_writing", "1", filepath.Join(dir, LatestFrame)}
	// frames splits the source for the grey frames, when asked for.
	frames, in, grey := "", "[0:v]", []string(nil)
	if framesFPS > 0 {
		frames = fmt.Sprintf("[0:v]split=2[pics][f];[f]fps=%d,scale=%d:%d,format=gray[grey];", framesFPS, PipelineFrameSize.X, PipelineFrameSize.Y)
		in = "[pics]"
		grey = []string{"-map", "[grey]", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"}
	}
	if !record {
		if framesFPS <= 0 {
			a = append(a, "-an", "-vf", fmt.Sprintf("fps=%d", shotFPS))
			return append(a, latest...)
		}
		a = append(a, "-filter_complex", fmt.Sprintf("%s%sfps=%d[latest]", frames, in, shotFPS), "-map", "[latest]")
		return append(append(a, latest...), grey...)
	}
	a = append(a, "-filter_complex", fmt.Sprintf("%s%sfps=%d,split=2[rec][shot];[shot]fps=%d[latest]", frames, in, o.FPS, shotFPS))
	a = append(a, "-map", "[rec]")
	if src.Kind == "v4l2" && src.Audio != "" {
		a = append(a, "-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2")
	} else {
		a = append(a, "-an")
	}
	a = append(a, hlsOutput(dir, o.FPS, o.SegmentSeconds, true)...)
	a = append(a, "-map", "[latest]")
	return append(append(a, latest...), grey...)
}

// FinaliseArgs turns MPEG-TS segments, read one after the other on stdin,
// into an MP4 with its index at the front (faststart), so a browser plays
// it before the whole file arrives; quality "" or "copy" remuxes, a preset
// re-encodes. (TS segments join byte for byte; feeding them on stdin is
// several times faster than ffmpeg's concat demuxer, which probes each
// file, and has no limit of command line length.)
func FinaliseArgs(out, quality string) []string {
	a := append([]string{}, ffmpegHead...)
	a = append(a, "-f", "mpegts", "-i", "pipe:0")
	if enc, ok := Qualities[quality]; ok {
		a = append(a, "-c:v", "libx264", "-preset", enc.Preset, "-crf", strconv.Itoa(enc.CRF),
			"-maxrate", enc.MaxRate, "-bufsize", enc.BufSize, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k")
	} else {
		a = append(a, "-c", "copy")
	}
	return append(a, "-movflags", "+faststart", "-f", "mp4", out)
}

// Segments lists the complete segments of a recording folder in order.
func Segments(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "seg_*.ts"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	var out []string
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.Size() > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

// ErrNoVideo: a recording folder holds no segments.
var ErrNoVideo = errors.New("no video segments recorded")

// Finalise turns the segments in dir into the MP4 at out. The MP4 appears
// only when complete (written under a temporary name, then renamed). The
// segments are left in place; the caller removes them once the MP4 is safe.
func Finalise(ctx context.Context, ffmpeg, dir, out, quality string) error {
	segs, err := Segments(dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return fmt.Errorf("%w in %s", ErrNoVideo, dir)
	}
	tmp := out + ".part"
	cmd := ownGroup(exec.CommandContext(ctx, ffmpeg, FinaliseArgs(tmp, quality)...))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdin = &segmentReader{paths: segs}
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		if tool.Missing(err) {
			return fmt.Errorf("%w: ffmpeg (%s): install it (apt-get install ffmpeg)", ErrToolMissing, ffmpeg)
		}
		return fmt.Errorf("ffmpeg failed to finalise the video: %v: %s", err, lastLines(stderr.String(), 3))
	}
	return os.Rename(tmp, out)
}

// FFmpeg is a running ffmpeg with a graceful stop.
type FFmpeg struct {
	cmd *exec.Cmd
	// inputs are the pipes the caller writes into: stdin, then fd 3, 4…
	inputs []io.WriteCloser
	stdout io.Reader // when asked for: what ffmpeg writes to pipe:1
	stderr *limitedBuffer
	// done is closed when ffmpeg has exited, with waitErr its status.
	done    chan struct{}
	waitErr error
	once    sync.Once
	err     error
}

// StartFFmpeg starts ffmpeg with args. With pipeIn, its stdin is a pipe the
// caller writes frames into (Stdin), and closing it ends the recording.
func StartFFmpeg(ffmpeg string, args []string, pipeIn bool) (*FFmpeg, error) {
	n := 0
	if pipeIn {
		n = 1
	}
	return StartFFmpegInputs(ffmpeg, args, n)
}

// StartFFmpegInputs starts ffmpeg with n input pipes: its stdin (ffmpeg's
// "-" or pipe:0) and then file descriptors 3, 4… (pipe:3, pipe:4).
// Closing them all ends the recording.
func StartFFmpegInputs(ffmpeg string, args []string, n int) (*FFmpeg, error) {
	return startFFmpeg(ffmpeg, args, n, false)
}

func startFFmpeg(ffmpeg string, args []string, n int, stdout bool) (*FFmpeg, error) {
	if _, err := exec.LookPath(ffmpeg); err != nil {
		return nil, fmt.Errorf("%w: ffmpeg (%s) records video: install it (apt-get install ffmpeg) or run with --video off", ErrToolMissing, ffmpeg)
	}
	cmd := exec.Command(ffmpeg, args...)
	p := &FFmpeg{cmd: cmd, stderr: &limitedBuffer{b: &bytes.Buffer{}, max: 16 * 1024}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	// Its own process group: a Ctrl-C at the terminal reaches vpt, which
	// then stops the recording cleanly, instead of killing ffmpeg mid-segment.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var readEnds []*os.File
	closeAll := func() {
		for _, f := range readEnds {
			f.Close()
		}
		for _, w := range p.inputs {
			w.Close()
		}
	}
	for i := 0; i < n; i++ {
		if i == 0 {
			w, err := cmd.StdinPipe()
			if err != nil {
				return nil, err
			}
			p.inputs = append(p.inputs, w)
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, err
		}
		readEnds = append(readEnds, r)
		p.inputs = append(p.inputs, w)
		cmd.ExtraFiles = append(cmd.ExtraFiles, r)
	}
	if stdout {
		out, err := cmd.StdoutPipe()
		if err != nil {
			closeAll()
			return nil, err
		}
		p.stdout = out
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, err
	}
	// The child has its copies of the read ends.
	for _, f := range readEnds {
		f.Close()
	}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Stdin is the frame pipe (pipeIn only).
func (p *FFmpeg) Stdin() io.Writer { return p.Input(0) }

// Input is input pipe i: 0 is stdin, 1 is fd 3, and so on.
func (p *FFmpeg) Input(i int) io.Writer {
	if i >= len(p.inputs) {
		return nil
	}
	return p.inputs[i]
}

// Exited is closed once ffmpeg has ended; ExitErr is then its status.
func (p *FFmpeg) Exited() <-chan struct{} { return p.done }

// ExitErr is how ffmpeg ended, once Exited is closed.
func (p *FFmpeg) ExitErr() error {
	<-p.done
	return p.waitErr
}

// Stop ends the recording: EOF on the frame pipe, or SIGINT (ffmpeg then
// writes its last segment and playlist), SIGKILL after a grace period.
func (p *FFmpeg) Stop(grace time.Duration) error {
	p.once.Do(func() {
		if len(p.inputs) > 0 {
			for _, w := range p.inputs {
				w.Close()
			}
		} else {
			_ = p.cmd.Process.Signal(syscall.SIGINT)
		}
		select {
		case <-p.done:
			p.err = p.waitErr
		case <-time.After(grace):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			p.err = fmt.Errorf("ffmpeg did not stop within %s and was killed", grace)
			<-p.done
		}
		if p.err != nil {
			var ee *exec.ExitError
			// ffmpeg exits 255 after SIGINT even when it stopped cleanly.
			if errors.As(p.err, &ee) && ee.ExitCode() == 255 && len(p.inputs) == 0 {
				p.err = nil
			} else {
				p.err = fmt.Errorf("%v: %s", p.err, lastLines(p.stderr.String(), 3))
			}
		}
	})
	return p.err
}

// EndedEarly is the error of a recording whose ffmpeg exited before it was
// asked to stop (the device or its capture went away): nil when it runs.
// Its segments hold the video up to then.
func (p *FFmpeg) EndedEarly() error {
	select {
	case <-p.done:
		return fmt.Errorf("%w: the recording stopped before the run ended: ffmpeg exited (%v): %s", ErrUnreachable, p.waitErr, p.Stderr())
	default:
		return nil
	}
}

// ProcessRecorder is a Recorder backed by one ffmpeg process.
type ProcessRecorder struct {
	P     *FFmpeg
	Grace time.Duration
}

// Stop implements Recorder.
func (r *ProcessRecorder) Stop(ctx context.Context) error {
	g := r.Grace
	if g == 0 {
		g = 10 * time.Second
	}
	early := r.P.EndedEarly()
	if err := r.P.Stop(g); early == nil {
		return err
	}
	return early
}

// Stderr returns the end of ffmpeg's error output.
// It may be called while ffmpeg runs.
func (p *FFmpeg) Stderr() string { return lastLines(p.stderr.String(), 5) }

type limitedBuffer struct {
	mu  sync.Mutex
	b   *bytes.Buffer
	max int
}

// String is what was written, safe while writes go on.
func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > l.max {
		keep := l.b.Bytes()
		if len(keep) > l.max/2 {
			keep = keep[len(keep)-l.max/2:]
		}
		nb := append([]byte(nil), keep...)
		l.b.Reset()
		l.b.Write(nb)
	}
	return l.b.Write(p)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// ownGroup runs cmd in a process group of its own, so that a Ctrl-C sent
// to vpt's group (a terminal, GNU timeout, a CI runner) does not kill the
// ffmpeg finalising a video: vpt decides, through cmd's context, and the
// whole group is killed when that ends.
func ownGroup(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// ProbeDuration asks ffprobe how long a video lasts.
func ProbeDuration(ctx context.Context, path string) (time.Duration, error) {
	out, err := ownGroup(exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", path)).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %q is not a duration", path, strings.TrimSpace(string(out)))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// segmentReader reads files one after the other.
type segmentReader struct {
	paths []string
	cur   *os.File
}

func (r *segmentReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.paths) == 0 {
				return 0, io.EOF
			}
			f, err := os.Open(r.paths[0])
			if err != nil {
				return 0, err
			}
			r.cur, r.paths = f, r.paths[1:]
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}
