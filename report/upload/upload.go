// Package upload publishes runs and campaigns to an artifact store (R2, any
// S3 bucket, a folder) and records the outcome in the results store.
//
// The contract, for every caller (the executor after a run, `vpt report
// upload`, `vpt campaign --upload`):
//   - An upload honours its context (Ctrl-C) and a total time limit of its
//     own (Options.Timeout), so a server that hangs holds nothing for long.
//   - Nothing local changes unless the upload succeeded: the copies in the
//     bucket (a report whose links work from there, result.json naming the
//     URLs) are rendered in memory; report.html and result.json of the run
//     folder are rewritten only once every object is stored.
//   - A failed upload leaves the result `pending` with a readable reason
//     (Details.UploadError, secrets masked), and leaves no unfinished
//     multipart upload on the server when the server can still be reached;
//     every upload of a run starts by aborting the unfinished ones under the
//     run's prefix, which a killed vpt leaves behind.
//   - Uploading again is always safe: same keys, same objects. Publish
//     lets one process at a time upload a run (an flock on its folder), so
//     two retries at once do not abort each other's multipart uploads.
package upload

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/internal/safename"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/report/artifact"
	"github.com/vpt-dev/vpt/store"
)

// ErrFailed: the artifact store could not be reached or refused an upload.
var ErrFailed = errors.New("upload failed")

// DefaultTimeout bounds one run's (or one campaign's) upload: minutes of
// video over an ordinary office link, not a server that never answers.
const DefaultTimeout = 10 * time.Minute

// Options tune an Uploader; the zero value is usable.
type Options struct {
	// Prefix starts every key (optional).
	Prefix string
	// Concurrency is how many files go up at once (default 8).
	Concurrency int
	// Timeout bounds each UploadRun and UploadCampaign (default
	// DefaultTimeout).
	Timeout time.Duration
	// Secrets never appear in an error or a stored reason.
	Secrets []string
	// Progress hears bytes sent of the files of one upload.
	Progress func(sent, total int64)
	// Waiting hears that another process is uploading the run Publish
	// was given, and that Publish waits for it to end.
	Waiting func(r *store.Result)
	// InUse tells whether a run's own vpt may still be uploading it;
	// Republish leaves those alone (nil: none is).
	InUse func(r *store.Result) bool
}

// Uploader publishes runs and campaigns to one artifact store.
type Uploader struct {
	store artifact.Store
	opt   Options
}

// New builds an uploader over st.
func New(st artifact.Store, opt Options) *Uploader {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	return &Uploader{store: st, opt: opt}
}

// Store is the artifact store uploads go to.
func (u *Uploader) Store() artifact.Store { return u.store }

// Check reports whether the artifact store answers with these settings.
func (u *Uploader) Check(ctx context.Context) error {
	if err := u.store.Check(ctx); err != nil {
		return u.failure(ctx, err)
	}
	return nil
}

// RunPrefix is the key prefix of a run's folder: upstream's layout,
// script-reports/<device model>/<script>_<YYYYMMDD>_<YYYYMMDDHHMMSS>,
// made unique per run by the run id.
func (u *Uploader) RunPrefix(r *store.Result) string {
	t := r.StartedAt.UTC()
	model := safename.Key(r.DeviceModel, 80)
	if model == "" {
		model = "unknown"
	}
	folder := fmt.Sprintf("%s_%s_%s_%s", safename.Key(r.ScriptName, 80), t.Format("20060102"), t.Format("20060102150405"), shortID(r.ID))
	return u.key("script-reports", model, folder)
}

// CampaignPrefix is the key prefix of a campaign folder.
func (u *Uploader) CampaignPrefix(executionID string) string {
	return u.key("campaign-reports", executionID)
}

func (u *Uploader) key(parts ...string) string {
	if p := strings.Trim(u.opt.Prefix, "/"); p != "" {
		parts = append([]string{p}, parts...)
	}
	return path.Join(parts...)
}

func shortID(id string) string { return id[:min(len(id), 8)] }

// errTimeout is the cause of an upload's own deadline.
var errTimeout = errors.New("upload time limit")

// bounded gives one upload its total time limit.
func (u *Uploader) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, u.opt.Timeout, errTimeout)
}

// failure turns an error into ErrFailed with the reason people read:
// the store's own reason, "out of time" said as the limit that ran out,
// the secrets masked. An interruption stays visible (context.Canceled),
// so the command exits 130, not 3.
func (u *Uploader) failure(ctx context.Context, err error) *Failure {
	var reason string
	var ae *artifact.Error
	switch {
	case errors.Is(context.Cause(ctx), errTimeout):
		// Not context.DeadlineExceeded: a timeout of the upload, not of the run.
		return &Failure{Reason: fmt.Sprintf("gave up after %s (upload.timeout)", u.opt.Timeout)}
	case errors.Is(err, context.Canceled):
		return &Failure{Reason: "interrupted", err: context.Canceled}
	case errors.As(err, &ae) && ae.Key != "":
		reason = ae.Reason + " (" + ae.Op + " " + ae.Key + ")"
	default:
		reason = artifact.Reason(err)
	}
	return &Failure{Reason: u.mask(reason)}
}

// Failure is a failed upload: errors.Is(err, ErrFailed) holds, and
// errors.Is(err, context.Canceled) when it was interrupted.
type Failure struct {
	Reason string
	err    error
}

func (f *Failure) Error() string { return ErrFailed.Error() + ": " + f.Reason }

func (f *Failure) Unwrap() []error {
	if f.err != nil {
		return []error{ErrFailed, f.err}
	}
	return []error{ErrFailed}
}

// mask replaces every secret in s.
func (u *Uploader) mask(s string) string {
	for _, secret := range u.opt.Secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}

// UploadRun copies a run folder to the store. On success it fills the
// result's keys and URLs, marks it uploaded and rewrites the run folder's
// report.html and result.json to name them. On failure it marks the result
// pending with the reason in Details.UploadError, changes no local file,
// and returns a *Failure. It never writes the results store: the caller
// records the result (and marks the row pending before calling, so that a
// vpt killed during the upload leaves it pending).
//
// One process at a time uploads a run (lockRun): another one's upload of
// it is waited for.
func (u *Uploader) UploadRun(ctx context.Context, r *store.Result) error {
	release, _, err := u.lock(ctx, r)
	if err != nil {
		return u.failed(ctx, r, err)
	}
	defer release()
	return u.upload(ctx, r)
}

// lock takes the upload lock of r's folder (none when it has no folder
// here: the upload says why it cannot go on).
func (u *Uploader) lock(ctx context.Context, r *store.Result) (release func(), waited bool, err error) {
	if r.RunDir == "" || !fileExists(r.RunDir) {
		return func() {}, false, nil
	}
	return lockRun(ctx, r.RunDir, func() {
		if u.opt.Waiting != nil {
			u.opt.Waiting(r)
		}
	})
}

// upload is UploadRun under the lock.
func (u *Uploader) upload(ctx context.Context, r *store.Result) error {
	ctx, cancel := u.bounded(ctx)
	defer cancel()
	updated, err := u.uploadRun(ctx, r)
	if err != nil {
		return u.failed(ctx, r, err)
	}
	*r = *updated
	return nil
}

// failed marks r pending with the reason of err, and returns the *Failure.
func (u *Uploader) failed(ctx context.Context, r *store.Result, err error) error {
	f := u.failure(ctx, err)
	r.UploadStatus, r.Details.UploadError = store.UploadPending, f.Reason
	return f
}

func (u *Uploader) uploadRun(ctx context.Context, r *store.Result) (*store.Result, error) {
	if r.RunDir == "" {
		return nil, fmt.Errorf("run %s has no folder", shortID(r.ID))
	}
	files, err := runFiles(r.RunDir)
	if err != nil {
		return nil, err
	}
	prefix := u.RunPrefix(r)
	// What an earlier, killed attempt left: parts nobody will complete.
	if _, err := u.store.AbortIncomplete(ctx, prefix); err != nil {
		return nil, err
	}
	if err := u.putFiles(ctx, r.RunDir, prefix, files); err != nil {
		return nil, err
	}
	updated := *r
	updated.HTMLReportR2Path = prefix + "/" + report.ReportHTML
	updated.LogsR2Path = prefix + "/" + report.OutputLog
	if updated.HTMLReportR2URL, err = u.store.URL(ctx, updated.HTMLReportR2Path); err != nil {
		return nil, err
	}
	if updated.LogsR2URL, err = u.store.URL(ctx, updated.LogsR2Path); err != nil {
		return nil, err
	}
	updated.UploadStatus, updated.Details.UploadError = store.UploadDone, ""
	html, err := u.sharedReport(ctx, &updated, prefix, files)
	if err != nil {
		return nil, err
	}
	result, err := json.MarshalIndent(report.NewRunFile(&updated), "", "  ")
	if err != nil {
		return nil, err
	}
	// The report last: once it is there, everything it links is.
	if err := u.store.PutBytes(ctx, prefix+"/"+report.ResultJSON, append(result, '\n')); err != nil {
		return nil, err
	}
	if err := u.store.PutBytes(ctx, updated.HTMLReportR2Path, html); err != nil {
		return nil, err
	}
	// Only now the local files, which name the URLs that work.
	if err := report.WriteRunFiles(&updated, nil); err != nil {
		return nil, fmt.Errorf("uploaded, but the run folder's %w", err)
	}
	return &updated, nil
}

// sharedReport renders the report for the store: the run folder's report,
// its links to the folder's files replaced by their URLs, so that it works
// where relative links would not (a private R2 bucket answers each object
// only to its own presigned URL).
func (u *Uploader) sharedReport(ctx context.Context, r *store.Result, prefix string, files []string) ([]byte, error) {
	uploaded := map[string]string{}
	for _, f := range append(files, report.ResultJSON) {
		url, err := u.store.URL(ctx, prefix+"/"+f)
		if err != nil {
			return nil, err
		}
		uploaded[f] = url
	}
	link := func(rel string) string {
		if url, ok := uploaded[path.Clean(rel)]; ok {
			return url
		}
		return rel
	}
	tail, truncated := report.ReadTail(filepath.Join(r.RunDir, report.OutputLog), report.TailBytes)
	var buf bytes.Buffer
	if err := report.RenderRunLinked(&buf, r, tail, truncated, link); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// runFiles lists the files of a run folder to upload, relative to it:
// everything but report.html and result.json (rendered for the store),
// unfinished files, leftover video segments, and what is not a regular
// file. A symbolic link the script made (to /etc/passwd, to vpt.yaml and
// its secrets, to a folder) is not followed out of the run folder, as
// vpt report serve does not follow one either.
func runFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "video" {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(rel, ".part") || strings.HasPrefix(d.Name(), ".") ||
			rel == report.ReportHTML || rel == report.ResultJSON {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("run folder %s: %w", dir, err)
	}
	slices.Sort(out)
	return out, nil
}

// putFiles uploads files of dir under prefix, Concurrency at once, the
// largest first (the video's parts start early); the first failure stops
// the others.
func (u *Uploader) putFiles(ctx context.Context, dir, prefix string, files []string) error {
	sizes := map[string]int64{}
	var total int64
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		sizes[f] = st.Size()
		total += st.Size()
	}
	order := slices.Clone(files)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(sizes[b], sizes[a]) })
	if u.opt.Progress != nil {
		var sent atomic.Int64
		ctx = artifact.WithProgress(ctx, func(n int64) { u.opt.Progress(sent.Add(n), total) })
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.opt.Concurrency)
	for _, f := range order {
		g.Go(func() error { return u.store.PutFile(gctx, prefix+"/"+f, filepath.Join(dir, filepath.FromSlash(f))) })
	}
	return g.Wait()
}

// UploadCampaign copies a campaign's report, summary and JUnit file to the
// store, its links to runs pointing at their uploaded reports, and records
// the key and URL in sum.Campaign. Nothing local changes.
func (u *Uploader) UploadCampaign(ctx context.Context, dir string, sum summary.Summary, results map[string]*store.Result) error {
	ctx, cancel := u.bounded(ctx)
	defer cancel()
	c, err := u.uploadCampaign(ctx, dir, sum, results)
	if err != nil {
		return u.failure(ctx, err)
	}
	sum.Campaign.HTMLReportR2Path, sum.Campaign.HTMLReportR2URL = c.HTMLReportR2Path, c.HTMLReportR2URL
	return nil
}

func (u *Uploader) uploadCampaign(ctx context.Context, dir string, sum summary.Summary, results map[string]*store.Result) (*store.Campaign, error) {
	remote := sum
	remote.Entries = slices.Clone(sum.Entries)
	for i := range remote.Entries {
		atts := slices.Clone(remote.Entries[i].Attempts)
		for j := range atts {
			if r := results[atts[j].ResultID]; r != nil {
				atts[j].Report = r.HTMLReportR2URL
			}
		}
		remote.Entries[i].Attempts = atts
	}
	c := *sum.Campaign
	prefix := u.CampaignPrefix(c.ExecutionID)
	c.HTMLReportR2Path = prefix + "/" + report.CampaignHTML
	var err error
	if c.HTMLReportR2URL, err = u.store.URL(ctx, c.HTMLReportR2Path); err != nil {
		return nil, err
	}
	remote.Campaign = &c
	summary, err := json.MarshalIndent(remote, "", "  ")
	if err != nil {
		return nil, err
	}
	var html bytes.Buffer
	if err := report.RenderCampaign(&html, remote); err != nil {
		return nil, err
	}
	if junit := filepath.Join(dir, report.JUnitXML); fileExists(junit) {
		if err := u.store.PutFile(ctx, prefix+"/"+report.JUnitXML, junit); err != nil {
			return nil, err
		}
	}
	if err := u.store.PutBytes(ctx, prefix+"/"+report.SummaryJSON, append(summary, '\n')); err != nil {
		return nil, err
	}
	if err := u.store.PutBytes(ctx, c.HTMLReportR2Path, html.Bytes()); err != nil {
		return nil, err
	}
	return &c, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// DeleteCampaign removes a campaign's uploaded report from the store.
func (u *Uploader) DeleteCampaign(ctx context.Context, c store.Campaign) error {
	prefix, ok := strings.CutSuffix(c.HTMLReportR2Path, "/"+report.CampaignHTML)
	if !ok || prefix == "" {
		prefix = u.CampaignPrefix(c.ExecutionID)
	}
	if err := u.store.DeletePrefix(ctx, prefix); err != nil {
		return u.failure(ctx, err)
	}
	return nil
}

// DeleteRun removes a run's objects from the store.
func (u *Uploader) DeleteRun(ctx context.Context, r *store.Result) error {
	prefix, ok := strings.CutSuffix(r.HTMLReportR2Path, "/"+report.ReportHTML)
	if !ok || prefix == "" {
		prefix = u.RunPrefix(r)
	}
	if err := u.store.DeletePrefix(ctx, prefix); err != nil {
		return u.failure(ctx, err)
	}
	return nil
}
