package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Abandoned runs whose video waits to be finalised are noted as empty
// files named by their id in a pending folder (RecoverOptions.Pending).
// A process works on a note while it holds its lock (flock, let go when
// the process ends however it ends), and removes it once the video is
// safe: a finalisation cut short (the command ended first) is taken up
// by the next run or campaign.

// PendingDir is the pending folder of a results folder.
func PendingDir(resultsDir string) string { return filepath.Join(resultsDir, ".pending-video") }

func notePending(dir, id string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, id), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// FinalisePending finalises the video of each run noted in o.Pending that
// no other process is finalising, records it in the run's row, result.json
// and report, and removes the note. It stops when ctx ends (ffmpeg is
// stopped; the segments and the note stay). A video that failed because
// ffmpeg is missing is recorded failed and keeps its note, for a later
// try. done is called for each video finished or failed.
func FinalisePending(ctx context.Context, st store.Store, o RecoverOptions, done func(*store.Result)) error {
	entries, err := os.ReadDir(o.Pending)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil
		}
		if res, err := finaliseNoted(ctx, st, o, filepath.Join(o.Pending, e.Name())); err != nil {
			return err
		} else if res != nil && done != nil {
			done(res)
		}
	}
	return nil
}

// finaliseNoted finalises one noted run's video; nil when another process
// holds the note, or when ctx ended first.
func finaliseNoted(ctx context.Context, st store.Store, o RecoverOptions, note string) (*store.Result, error) {
	f, err := os.Open(note)
	if err != nil {
		return nil, nil // finished by another process meanwhile
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, nil
	}
	if _, err := os.Stat(note); err != nil {
		return nil, nil // removed between our open and our lock
	}
	res, err := st.GetResult(ctx, filepath.Base(note))
	if errors.Is(err, store.ErrNotFound) {
		return nil, os.Remove(note)
	}
	if err != nil {
		return nil, err
	}
	awaitsTool := finaliseLeftVideo(ctx, res, o)
	if ctx.Err() != nil {
		return nil, nil // cut short: the note stays for the next run
	}
	// The row first (it is what every reader trusts), then the files that
	// describe it; each write is the store's, or an atomic file write.
	if err := st.UpdateResult(ctx, res); err != nil {
		return nil, err
	}
	_ = report.WriteResultJSON(res)
	_ = report.WriteRunReport(res, nil)
	if awaitsTool {
		return res, nil // the note stays: ffmpeg, once installed, makes it
	}
	return res, os.Remove(note)
}
