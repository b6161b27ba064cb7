package results

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// PruneOptions say what Prune deletes.
type PruneOptions struct {
	// Before: results that started before it go.
	Before time.Time
	// KeepFailed keeps every result that did not pass.
	KeepFailed bool
	// DryRun deletes nothing and says what would go.
	DryRun bool
	// RunsDir is the folder of run folders (<results_dir>/runs): a run
	// folder is deleted only when it is inside it.
	RunsDir string
	// Remote deletes a run's uploaded copy before its row (nil: uploaded
	// copies stay).
	Remote func(ctx context.Context, r *store.Result) error
	// Pruned hears of each result deleted (or, with DryRun, that would be).
	Pruned func(r store.Result)
	// Warn hears of a run folder that could not be deleted (its row is gone).
	Warn func(format string, args ...any)
}

// PruneReport counts what Prune did (or, with DryRun, would do).
type PruneReport struct {
	Deleted, Kept int
	// Bytes is the size of the run folders deleted.
	Bytes int64
	// Events deleted from the event log (none counted with DryRun).
	Events int64
}

// Prune deletes old results: for each, its uploaded copy (Remote), then
// its row, then its run folder; then the events older than Before, so that
// the event log keeps the same history as the results. A running result is
// never touched. It stops at the first error of the store or of Remote;
// what was deleted until then is counted.
func Prune(ctx context.Context, st Store, o PruneOptions) (PruneReport, error) {
	var rep PruneReport
	rows, err := st.ListResults(ctx, store.ResultFilter{Before: o.Before})
	if err != nil {
		return rep, err
	}
	for _, r := range rows {
		if r.Status == store.StatusRunning || o.KeepFailed && r.Status != store.StatusPassed {
			rep.Kept++
			continue
		}
		size := dirSize(r.RunDir)
		if !o.DryRun {
			if err := o.prune(ctx, st, &r); err != nil {
				return rep, err
			}
		}
		if o.Pruned != nil {
			o.Pruned(r)
		}
		rep.Deleted++
		rep.Bytes += size
	}
	if !o.DryRun {
		if rep.Events, err = st.PruneEvents(ctx, o.Before); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (o PruneOptions) prune(ctx context.Context, st Store, r *store.Result) error {
	if o.Remote != nil && r.UploadStatus == store.UploadDone {
		if err := o.Remote(ctx, r); err != nil {
			return fmt.Errorf("run %s: its uploaded copy: %w (nothing of the run was deleted)", r.ID[:8], err)
		}
	}
	// The row goes first: a folder without a row is only disk space, a row
	// without its folder would be a broken link.
	if err := st.DeleteResult(ctx, r.ID); err != nil {
		return err
	}
	if r.RunDir != "" && within(o.RunsDir, r.RunDir) {
		if err := os.RemoveAll(r.RunDir); err != nil && o.Warn != nil {
			o.Warn("could not delete %s: %v", r.RunDir, err)
		}
	}
	return nil
}

// within reports whether path is inside dir (both made absolute).
func within(dir, path string) bool {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
