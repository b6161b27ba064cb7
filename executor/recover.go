package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// RecoverOptions say how far recovery goes.
type RecoverOptions struct {
	FFmpeg, Quality string
	// Video finalises the video a dead run left as segments (ffmpeg: it may
	// take seconds); without it the segments stay for a later recovery.
	Video bool
	// Pending defers that finalisation: Recover only notes the run in this
	// folder (with or without Video), and FinalisePending does the ffmpeg
	// part in the background of a command, so recovery never holds one up.
	Pending string
}

// Recovered is a run recovery finished.
type Recovered struct {
	store.Result
	// FromFiles: the run had finished (its result.json was complete) and
	// only its row was behind; otherwise it is abandoned.
	FromFiles bool
	// VideoPending: its video is left for FinalisePending.
	VideoPending bool
}

// Recover finishes the running rows whose vpt process is gone. Recovery
// only ever adds: a run whose folder holds a complete result.json (vpt died,
// or the store failed, after writing it) gets that result as its row, not
// "abandoned"; only a run without a verdict is marked abandoned, with what
// its folder holds (screenshots, the video from its segments). A run whose
// owner cannot be checked (another machine or PID namespace) is judged by
// its heartbeat, and its folder is left as it is: it may still be in use.
func Recover(ctx context.Context, st store.Store, o RecoverOptions) ([]Recovered, error) {
	rows, err := st.RunningResults(ctx)
	if err != nil {
		return nil, err
	}
	var out []Recovered
	for i := range rows {
		res := &rows[i]
		life := store.OwnerLife(res.Owner, res.HeartbeatAt)
		if life == store.Alive {
			continue
		}
		rec, ok, err := recoverRun(ctx, st, res, life == store.Dead, o)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

func recoverRun(ctx context.Context, st store.Store, res *store.Result, certain bool, o RecoverOptions) (Recovered, bool, error) {
	if done, err := report.ReadResultJSON(res.RunDir); err == nil && done.ID == res.ID && done.Status.Final() {
		changed, err := st.FinishResult(ctx, done, recoveredEvents(done)...)
		if err != nil || !changed {
			return Recovered{}, false, err
		}
		if _, err := os.Stat(filepath.Join(res.RunDir, report.ReportHTML)); err != nil {
			_ = report.WriteRunReport(done, nil)
		}
		return Recovered{Result: *done, FromFiles: true}, true, nil
	}
	abandon(res)
	if _, err := os.Stat(res.RunDir); err == nil && res.RunDir != "" {
		if len(res.Details.Screenshots) == 0 {
			res.Details.Screenshots = screenshotsOnDisk(res.RunDir, res.StartedAt)
		}
		res.Details.OutputBytes, res.Details.OutputLines = outputOnDisk(res.RunDir)
		os.Remove(filepath.Join(res.RunDir, LiveFrame)) // as a run that ends removes it
		if certain && o.Video && o.Pending == "" {
			finaliseLeftVideo(ctx, res, o)
		} else if segs, _ := capture.Segments(filepath.Join(res.RunDir, "video")); len(segs) > 0 {
			res.Details.Video = &store.Video{State: "recorded", Error: "not finalised yet: segments kept in video/"}
		}
	}
	if len(res.Details.Steps) == 0 {
		res.Details.Steps = stepsFromEvents(ctx, st, res.ID)
	}
	changed, err := st.FinishResult(ctx, res, recoveredEvents(res)...)
	if err != nil || !changed {
		return Recovered{}, false, err
	}
	pending := false
	if certain && o.Pending != "" && res.Details.Video != nil && res.Details.Video.State == "recorded" {
		pending = notePending(o.Pending, res.ID) == nil
	}
	// Written only where nothing is: a run judged by its heartbeat may
	// still finish and write its own, complete files.
	if res.RunDir != "" {
		_ = report.WriteResultJSONIfAbsent(res)
		_ = report.WriteRunReportIfAbsent(res)
	}
	return Recovered{Result: *res, VideoPending: pending}, true, nil
}

// outputOnDisk is the size of a dead run's output.log and its count of
// lines (a last line without a newline counts), as a run that ends
// records them.
func outputOnDisk(runDir string) (size, lines int64) {
	f, err := os.Open(filepath.Join(runDir, report.OutputLog))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	buf := make([]byte, 256*1024)
	var last byte = '\n'
	for {
		n, err := f.Read(buf)
		if n > 0 {
			size += int64(n)
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			last = buf[n-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		lines++
	}
	return size, lines
}

// stepsFromEvents rebuilds a dead run's steps from the events its API
// calls left in the store (run.step, the last of each step number): the
// row gets them only when the run ends.
func stepsFromEvents(ctx context.Context, st store.Store, runID string) []store.Step {
	evs, err := st.Events(ctx, store.EventFilter{Run: runID, Types: []store.EventType{store.EventRunStep}})
	if err != nil {
		return nil
	}
	var steps []store.Step
	at := map[int]int{} // step number -> index in steps
	for _, e := range evs {
		var d store.RunStep
		if e.Decode(&d) != nil || d.Number <= 0 {
			continue
		}
		s := store.Step{Number: d.Number, Name: d.Name, Kind: d.Kind, Status: d.Status, Message: d.Message,
			Error: d.Error, DurationMs: d.DurationMs, StartedAt: e.At}
		if i, ok := at[d.Number]; ok {
			s.StartedAt = steps[i].StartedAt
			steps[i] = s
			continue
		}
		at[d.Number] = len(steps)
		steps = append(steps, s)
	}
	return steps
}

// recoveredEvents tell that a run's row was finished by recovery and its
// device is free.
func recoveredEvents(res *store.Result) []store.Event {
	var evs []store.Event
	for _, e := range []store.Event{
		store.NewEvent(store.EventRunFinished, finishedData(res, true)),
		store.NewEvent(store.EventDeviceIdle, store.DeviceData{Script: res.ScriptName}),
	} {
		e.RunID, e.CampaignID, e.HostName, e.DeviceID = res.ID, res.Details.CampaignID, res.HostName, res.DeviceID
		evs = append(evs, e)
	}
	return evs
}

// abandon marks a result as abandoned at its last sign of life.
func abandon(res *store.Result) {
	end := lastSign(res)
	res.Status, res.Success = store.StatusAbandoned, false
	res.CompletedAt = &end
	res.ExecutionTimeMs = end.Sub(res.StartedAt).Milliseconds()
	res.ErrorMsg = "the vpt process running this script stopped without finishing it"
	res.Details.FailReason = res.ErrorMsg
}

// lastSign is when a run was last known alive: its last heartbeat, or a
// later write to its folder (its output, a screenshot, a video segment),
// since a run that dies before its first heartbeat has only those.
func lastSign(res *store.Result) time.Time {
	end := res.HeartbeatAt
	if end.Before(res.StartedAt) {
		end = res.StartedAt
	}
	if res.RunDir == "" {
		return end
	}
	for _, sub := range []string{".", "screenshots", "video"} {
		entries, _ := os.ReadDir(filepath.Join(res.RunDir, sub))
		for _, e := range entries {
			if info, err := e.Info(); err == nil && !e.IsDir() && info.ModTime().After(end) {
				end = info.ModTime()
			}
		}
	}
	return end.UTC()
}

// finaliseLeftVideo turns the segments of a dead run into video.mp4.
// awaitsTool: ffmpeg is missing, so the segments wait for it to be
// installed (a later try may succeed).
func finaliseLeftVideo(ctx context.Context, res *store.Result, o RecoverOptions) (awaitsTool bool) {
	videoDir := filepath.Join(res.RunDir, "video")
	if segs, _ := capture.Segments(videoDir); len(segs) == 0 {
		return false
	}
	v := &store.Video{State: "recorded"}
	out := filepath.Join(res.RunDir, report.VideoMP4)
	fctx, cancel := context.WithTimeout(ctx, DefaultFinaliseBudget)
	defer cancel()
	if err := capture.Finalise(fctx, o.FFmpeg, videoDir, out, o.Quality); err != nil {
		v.State, v.Error = "failed", err.Error()
		awaitsTool = errors.Is(err, capture.ErrToolMissing)
	} else {
		v.Path, v.State = report.VideoMP4, "finalised"
		if d, err := capture.ProbeDuration(fctx, out); err == nil {
			v.DurationMs = d.Milliseconds()
		}
		if fi, err := os.Stat(out); err == nil {
			v.SizeBytes = fi.Size()
		}
		os.RemoveAll(videoDir)
	}
	res.Details.Video = v
	return awaitsTool
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
