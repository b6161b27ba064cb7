package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// Rooted returns s with the folders of runs and campaigns recorded
// relative to the results folder dir ("runs/<id>", "campaigns/<id>") and
// read back as absolute paths inside dir, wherever dir is now: a results
// folder that was moved or copied (a CI artifact downloaded elsewhere)
// keeps working. A folder outside dir is recorded as it is. A row written
// before, with an absolute path where nothing is any more, is looked for
// in dir by its folder's name.
//
// A store that several hosts share (PostgreSQL) records run folders as
// absolute paths instead (shared): a relative one would be read on another
// host (the coordinator of a distributed campaign) as a folder of its own
// results. Campaign folders stay relative: whichever host writes a
// campaign's report (its coordinator, one that attaches) writes it in its
// own results folder. Relative rows written before are still read as above.
func Rooted(s Store, dir string, shared bool) Store {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return s
	}
	return rooted{Store: s, dir: abs, shared: shared}
}

type rooted struct {
	Store
	dir    string
	shared bool
}

// Sub-folders of the results folder.
const (
	runsFolder      = "runs"
	campaignsFolder = "campaigns"
)

// rel is how a row records path p: relative to the results folder when
// inside it.
func (r rooted) rel(p string) string {
	if p == "" {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(r.dir, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(rel)
}

// resolve is where the folder a row records as p is now; sub is the
// sub-folder of the results folder such folders live in.
func (r rooted) resolve(p, sub string) string {
	switch {
	case p == "":
		return ""
	case !filepath.IsAbs(p) && strings.HasPrefix(filepath.ToSlash(p), sub+"/"):
		return filepath.Join(r.dir, filepath.FromSlash(p))
	}
	// Recorded before: an absolute path, or one relative to the working
	// directory of the time. Where it was, else in this results folder.
	if _, err := os.Stat(p); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	if here := filepath.Join(r.dir, sub, filepath.Base(p)); exists(here) {
		return here
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// runRel is how a row records run folder p: as rel does, but absolute in
// a shared store, where the folder is on the host that ran it.
func (r rooted) runRel(p string) string {
	if r.shared && p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return r.rel(p)
}

func (r rooted) recordResult(res *Result) *Result {
	c := *res
	c.RunDir = r.runRel(res.RunDir)
	return &c
}

func (r rooted) readResult(res *Result) {
	if res != nil {
		res.RunDir = r.resolve(res.RunDir, runsFolder)
	}
}

func (r rooted) recordCampaign(c *Campaign) *Campaign {
	cc := *c
	cc.ReportDir = r.rel(c.ReportDir)
	return &cc
}

func (r rooted) readCampaign(c *Campaign) {
	if c != nil {
		c.ReportDir = r.resolve(c.ReportDir, campaignsFolder)
	}
}

func (r rooted) CreateResult(ctx context.Context, res *Result, evs ...Event) error {
	return r.Store.CreateResult(ctx, r.recordResult(res), evs...)
}

func (r rooted) UpdateResult(ctx context.Context, res *Result, evs ...Event) error {
	return r.Store.UpdateResult(ctx, r.recordResult(res), evs...)
}

func (r rooted) FinishResult(ctx context.Context, res *Result, evs ...Event) (bool, error) {
	return r.Store.FinishResult(ctx, r.recordResult(res), evs...)
}

func (r rooted) GetResult(ctx context.Context, id string) (*Result, error) {
	res, err := r.Store.GetResult(ctx, id)
	r.readResult(res)
	return res, err
}

func (r rooted) ListResults(ctx context.Context, f ResultFilter) ([]Result, error) {
	rows, err := r.Store.ListResults(ctx, f)
	for i := range rows {
		r.readResult(&rows[i])
	}
	return rows, err
}

func (r rooted) RunningResults(ctx context.Context) ([]Result, error) {
	rows, err := r.Store.RunningResults(ctx)
	for i := range rows {
		r.readResult(&rows[i])
	}
	return rows, err
}

func (r rooted) CreateCampaign(ctx context.Context, c *Campaign, evs ...Event) (bool, error) {
	rec := r.recordCampaign(c)
	joined, err := r.Store.CreateCampaign(ctx, rec, evs...)
	if err == nil && joined {
		// The row of another shard, loaded into rec.
		r.readCampaign(rec)
		*c = *rec
	}
	return joined, err
}

func (r rooted) UpdateCampaign(ctx context.Context, c *Campaign, evs ...Event) error {
	return r.Store.UpdateCampaign(ctx, r.recordCampaign(c), evs...)
}

func (r rooted) FinishCampaign(ctx context.Context, c *Campaign, evs ...Event) (bool, error) {
	return r.Store.FinishCampaign(ctx, r.recordCampaign(c), evs...)
}

func (r rooted) PutCampaignEntry(ctx context.Context, e CampaignEntry, evs ...Event) error {
	e.RunDir = r.runRel(e.RunDir)
	return r.Store.PutCampaignEntry(ctx, e, evs...)
}

func (r rooted) GetCampaign(ctx context.Context, id string) (*Campaign, []CampaignEntry, error) {
	c, entries, err := r.Store.GetCampaign(ctx, id)
	r.readCampaign(c)
	for i := range entries {
		entries[i].RunDir = r.resolve(entries[i].RunDir, runsFolder)
	}
	return c, entries, err
}

func (r rooted) CampaignResults(ctx context.Context, campaignID string) ([]Result, error) {
	rows, err := r.Store.CampaignResults(ctx, campaignID)
	for i := range rows {
		r.readResult(&rows[i])
	}
	return rows, err
}

func (r rooted) ListCampaigns(ctx context.Context, f CampaignFilter) ([]Campaign, error) {
	list, err := r.Store.ListCampaigns(ctx, f)
	for i := range list {
		r.readCampaign(&list[i])
	}
	return list, err
}

func (r rooted) RunningCampaigns(ctx context.Context) ([]Campaign, error) {
	list, err := r.Store.RunningCampaigns(ctx)
	for i := range list {
		r.readCampaign(&list[i])
	}
	return list, err
}
