package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Recover marks the running rows of dead vpt processes as abandoned and
// finalises the video their runs left as segments. It returns the rows it
// changed. Their run folders keep everything the run wrote.
func Recover(ctx context.Context, st store.Store, host, ffmpeg, quality string) ([]store.Result, error) {
	rows, err := st.RecoverAbandoned(ctx, store.LocalLiveness(host))
	for i := range rows {
		res := &rows[i]
		if res.RunDir == "" {
			continue
		}
		if _, err := os.Stat(res.RunDir); err != nil {
			continue
		}
		if len(res.Details.Screenshots) == 0 {
			res.Details.Screenshots = screenshotsOnDisk(res.RunDir, res.StartedAt)
		}
		videoDir := filepath.Join(res.RunDir, "video")
		if segs, _ := capture.Segments(videoDir); len(segs) > 0 {
			v := &store.Video{State: "recorded"}
			out := filepath.Join(res.RunDir, report.VideoMP4)
			fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			if ferr := capture.Finalise(fctx, ffmpeg, videoDir, out, quality); ferr != nil {
				v.State, v.Error = "failed", ferr.Error()
			} else {
				v.Path, v.State = report.VideoMP4, "finalised"
				if d, perr := capture.ProbeDuration(fctx, out); perr == nil {
					v.DurationMs = d.Milliseconds()
				}
				if fi, serr := os.Stat(out); serr == nil {
					v.SizeBytes = fi.Size()
				}
				os.RemoveAll(videoDir)
			}
			cancel()
			res.Details.Video = v
		}
		_ = st.UpdateResult(ctx, res)
		_ = report.WriteResultJSON(res)
		_ = report.WriteRunReport(res, nil)
	}
	return rows, err
}

// screenshotsOnDisk lists the screenshots a run folder holds, for a run
// that died before recording them.
func screenshotsOnDisk(runDir string, start time.Time) []store.Screenshot {
	entries, err := os.ReadDir(filepath.Join(runDir, "screenshots"))
	if err != nil {
		return nil
	}
	var out []store.Screenshot
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || strings.HasSuffix(name, ".thumb.jpg") || (ext != ".png" && ext != ".jpg") {
			continue
		}
		base := strings.TrimSuffix(name, ext)
		label := base
		if _, rest, ok := strings.Cut(base, "-"); ok {
			label = rest
		}
		sc := store.Screenshot{Label: label, Path: "screenshots/" + name, Thumbnail: "screenshots/" + base + ".thumb.jpg"}
		if info, err := e.Info(); err == nil {
			sc.TakenAt = info.ModTime().UTC()
			sc.OffsetMs = info.ModTime().Sub(start).Milliseconds()
		}
		out = append(out, sc)
	}
	return out
}
