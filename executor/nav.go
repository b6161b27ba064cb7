package executor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// errNavigation: a goto failed, after its one recovery attempt.
var errNavigation = errors.New("navigation failed")

// navState tracks where the device is in its userinterface. One navigation
// runs at a time.
type navState struct {
	mu      sync.Mutex
	ui      *ui.UI
	current string // node id; "" when unknown
	refs    map[string]image.Image
	copied  map[string]string // reference path → its copy in the run folder
}

// forget makes the position unknown (after a key pressed outside navigation).
func (n *navState) forget() {
	n.mu.Lock()
	n.current = ""
	n.mu.Unlock()
}

func (n *navState) where() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current
}

// userInterface returns the named userinterface, or the run's.
func (run *runState) userInterface(name string) (*ui.UI, error) {
	if name == "" || run.ui != nil && name == run.ui.Name {
		if run.ui != nil {
			return run.ui, nil
		}
		if run.dev != nil && run.dev.Info().Driver == capture.DriverVirtual {
			return ui.Builtin(), nil
		}
		return nil, &APIError{CodeNotFound, "this run has no userinterface: pass --userinterface NAME, or set userinterface: on the device in vpt.yaml"}
	}
	return run.r.UIs.Find(name)
}

// NavResult is what goto answers.
type NavResult struct {
	Target    string `json:"target"`
	Node      string `json:"node"`
	Steps     []int  `json:"steps"`
	Recovered bool   `json:"recovered"`
	Already   bool   `json:"already_there"`
}

// stepFailure names the step that failed.
type stepFailure struct {
	number   int
	from, to string
	msg      string
}

func (f *stepFailure) Error() string {
	return fmt.Sprintf("step %d (%s → %s): %s", f.number, f.from, f.to, f.msg)
}

func (run *runState) gotoNode(ctx context.Context, uiName, target string) (*NavResult, error) {
	u, err := run.userInterface(uiName)
	if err != nil {
		return nil, err
	}
	node, err := u.Node(target)
	if err != nil {
		return nil, err
	}
	if unreachable := u.Unreachable(); slices.Contains(unreachable, node.ID) && node.ID != u.Entry {
		return nil, &ui.NodeError{Err: ui.ErrUnreachable, Node: node.ID, From: u.Entry, UI: u.Name}
	}
	n := &run.nav
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ui != u {
		n.ui, n.current = u, ""
	}
	res := &NavResult{Target: node.ID}

	startShot := -1
	if n.current == "" || n.current == node.ID {
		// Unknown position: is the device already there? If not, is it on
		// the entry node? If not, assume the entry node, as upstream does.
		// One screenshot serves both checks and starts the first step.
		entry, _ := u.Node(u.Entry)
		img, shot := run.lookIfNeeded(ctx, u, node, entry)
		if node.ID != run.unverified {
			if ok, _ := run.verify(ctx, u, node, img, shot); ok {
				n.current = node.ID
				number := run.recordAlready(u, node, shot)
				res.Node, res.Already, res.Steps = node.ID, true, []int{number}
				return res, nil
			}
		}
		if n.current == "" {
			n.current = u.Entry
			if ok, _ := run.verify(ctx, u, entry, img, shot); !ok {
				// Neither: look the screen up among all nodes with the same
				// screenshot, and assume the entry node only if none matches.
				if where, err := run.locateIn(ctx, u, img, shot); err == nil {
					n.current = where
				}
			}
		} else {
			n.current = ""
		}
		startShot = shot
	}

	var first error
	if n.current != "" {
		steps, err := run.walk(ctx, u, node, false, startShot)
		res.Steps = append(res.Steps, steps...)
		if err == nil {
			res.Node = node.ID
			return res, nil
		}
		first = err
		if errors.Is(err, context.Canceled) {
			return res, err
		}
		run.note("goto %s: %v; recovering: back to %s, then again", node.ID, err, u.Entry)
	} else {
		first = fmt.Errorf("the device is not on %s as expected", node.ID)
	}

	// One recovery attempt: back to the entry node, then plan again.
	rsteps, rerr := run.recover(ctx, u)
	res.Steps = append(res.Steps, rsteps...)
	if rerr != nil {
		return res, fmt.Errorf("%w: goto '%s' in '%s': %v; recovery failed: %v", errNavigation, node.ID, u.Name, first, rerr)
	}
	steps, err := run.walk(ctx, u, node, true, -1)
	res.Steps = append(res.Steps, steps...)
	if err != nil {
		return res, fmt.Errorf("%w: goto '%s' in '%s' failed after one recovery attempt: %v (before recovery: %v)", errNavigation, node.ID, u.Name, err, first)
	}
	res.Node, res.Recovered = node.ID, true
	return res, nil
}

// traverseEdge runs one given edge (after a goto to its start when the
// device is elsewhere), recorded as a step, without recovery: validation
// scripts test each transition on its own.
func (run *runState) traverseEdge(ctx context.Context, uiName, fromID, toID string) (*NavResult, error) {
	u, err := run.userInterface(uiName)
	if err != nil {
		return nil, err
	}
	from, err := u.Node(fromID)
	if err != nil {
		return nil, err
	}
	to, err := u.Node(toID)
	if err != nil {
		return nil, err
	}
	var edge *ui.Edge
	for _, e := range u.Out(from.ID) {
		if e.To == to.ID {
			e := e
			edge = &e
			break
		}
	}
	if edge == nil {
		return nil, &APIError{CodeNotFound, fmt.Sprintf("no edge from '%s' to '%s' in '%s'", from.ID, to.ID, u.Name)}
	}
	res := &NavResult{Target: to.ID}
	if run.nav.where() != from.ID {
		pre, err := run.gotoNode(ctx, u.Name, from.ID)
		if pre != nil {
			res.Steps = append(res.Steps, pre.Steps...)
		}
		if err != nil {
			return res, err
		}
	}
	n := &run.nav
	n.mu.Lock()
	defer n.mu.Unlock()
	number, _, err := run.traverse(ctx, u, *edge, false, -1)
	res.Steps = append(res.Steps, number)
	if err != nil {
		n.current = ""
		return res, fmt.Errorf("%w: %w", errNavigation, &stepFailure{number: number, from: from.ID, to: to.ID, msg: err.Error()})
	}
	n.current, res.Node = to.ID, to.ID
	return res, nil
}

// walk follows the shortest path from the current node to target, one
// recorded step per edge. It stops at the first failed step.
func (run *runState) walk(ctx context.Context, u *ui.UI, target *ui.Node, recovery bool, startShot int) ([]int, error) {
	n := &run.nav
	path, err := u.Path(n.current, target.ID)
	if err != nil {
		return nil, err
	}
	var numbers []int
	for _, e := range path {
		if err := ctx.Err(); err != nil {
			return numbers, err
		}
		number, endShot, err := run.traverse(ctx, u, e, recovery, startShot)
		numbers = append(numbers, number)
		startShot = endShot
		if err != nil {
			n.current = ""
			return numbers, &stepFailure{number: number, from: e.From, to: e.To, msg: err.Error()}
		}
		n.current = e.To
	}
	return numbers, nil
}

// traverse runs one edge: its actions, a check of the node reached, the
// retry actions when that check fails, and records it as a step.
func (run *runState) traverse(ctx context.Context, u *ui.UI, e ui.Edge, recovery bool, startShot int) (number, endShot int, err error) {
	from, _ := u.Node(e.From)
	to, _ := u.Node(e.To)
	start := time.Now()
	st := store.Step{Kind: "navigation", Name: from.Label + " → " + to.Label, From: e.From, To: e.To,
		Recovered: recovery, StartedAt: start.UTC(), OffsetMs: start.Sub(run.start).Milliseconds()}
	if startShot < 0 {
		startShot, _ = run.screenshotIfAble(ctx, fmt.Sprintf("%s to %s start", e.From, e.To))
	}
	if startShot >= 0 {
		st.Screenshots = append(st.Screenshots, startShot)
	}
	actionErr := run.doActions(ctx, e.Actions, false, &st)
	var passed bool
	if actionErr == nil {
		img, shot := run.verificationShot(ctx, u, to, fmt.Sprintf("%s to %s", e.From, e.To))
		endShot = shot
		var vs []store.Verification
		passed, vs = run.verify(ctx, u, to, img, shot)
		st.Verifications = append(st.Verifications, vs...)
		if !passed && len(e.RetryActions) > 0 {
			actionErr = run.doActions(ctx, e.RetryActions, true, &st)
			if actionErr == nil {
				img, shot = run.verificationShot(ctx, u, to, fmt.Sprintf("%s to %s retry", e.From, e.To))
				endShot = shot
				passed, vs = run.verify(ctx, u, to, img, shot)
				st.Verifications = append(st.Verifications, vs...)
			}
		}
	}
	if endShot < 0 || actionErr != nil {
		endShot, _ = run.screenshotIfAble(ctx, fmt.Sprintf("%s to %s end", e.From, e.To))
	}
	if endShot >= 0 && (len(st.Screenshots) == 0 || st.Screenshots[len(st.Screenshots)-1] != endShot) {
		st.Screenshots = append(st.Screenshots, endShot)
	}
	st.DurationMs = time.Since(start).Milliseconds()
	switch {
	case actionErr != nil:
		st.Status, st.Error = store.StatusFailed, actionErr.Error()
		err = actionErr
	case !passed:
		st.Status = store.StatusFailed
		st.Error = "verification failed: " + describeFailures(st.Verifications)
		err = errors.New(st.Error)
	default:
		st.Status = store.StatusPassed
	}
	return run.addStep(st), endShot, err
}

func describeFailures(vs []store.Verification) string {
	var parts []string
	for _, v := range vs {
		if !v.Passed {
			parts = append(parts, v.Error)
		}
	}
	if len(parts) == 0 {
		return "the node was not reached"
	}
	return strings.Join(parts, "; ")
}

func (run *runState) doActions(ctx context.Context, actions []ui.Action, retry bool, st *store.Step) error {
	for _, a := range actions {
		rec := store.Action{Command: a.Action, Params: actionParams(a), Retry: retry}
		err := run.doAction(ctx, a)
		rec.Passed = err == nil
		if err != nil {
			rec.Error = err.Error()
		}
		st.Actions = append(st.Actions, rec)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
}

func actionParams(a ui.Action) map[string]string {
	p := map[string]string{}
	switch a.Action {
	case "press_key":
		p["key"] = a.Key
	case "tap":
		p["x"], p["y"] = fmt.Sprint(a.X), fmt.Sprint(a.Y)
	case "swipe":
		p["from"], p["to"] = fmt.Sprintf("%d,%d", a.X, a.Y), fmt.Sprintf("%d,%d", a.X2, a.Y2)
	case "text":
		p["text"] = a.Text
	}
	if a.Repeat > 1 {
		p["repeat"] = fmt.Sprint(a.Repeat)
	}
	if a.Wait > 0 {
		p["wait"] = a.Wait.String()
	}
	return p
}

func (run *runState) doAction(ctx context.Context, a ui.Action) error {
	for i := 0; i < max(1, a.Repeat); i++ {
		if err := run.deviceAction(ctx, a); err != nil {
			return err
		}
	}
	if a.Wait > 0 {
		select {
		case <-time.After(a.Wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// deviceAction does one action on the device, bounded by deviceCallTimeout.
func (run *runState) deviceAction(ctx context.Context, a ui.Action) error {
	ctx, cancel := deviceCall(ctx)
	defer cancel()
	var err error
	{
		switch a.Action {
		case "press_key":
			err = run.dev.Press(ctx, a.Key)
		case "tap":
			err = run.dev.Tap(ctx, a.X, a.Y)
		case "swipe", "text":
			t, ok := run.dev.(capture.Typer)
			if !ok {
				return fmt.Errorf("%s: %w", a.Action, capture.ErrNotSupported)
			}
			if a.Action == "text" {
				err = t.Text(ctx, a.Text)
			} else {
				err = t.Swipe(ctx, a.X, a.Y, a.X2, a.Y2, 300*time.Millisecond)
			}
		case "wait":
		}
	}
	return err
}

// verificationShot takes the screenshot a node's verification looks at
// (and the step's end screenshot); it returns the image and its index.
func (run *runState) verificationShot(ctx context.Context, u *ui.UI, node *ui.Node, label string) (image.Image, int) {
	if run.dev == nil || !run.dev.Info().Has(capture.CapScreenshot) {
		return nil, -1
	}
	ctx, cancel := deviceCall(ctx)
	img, err := run.dev.Screenshot(ctx)
	cancel()
	if err != nil {
		run.note("screenshot for %s failed: %v", node.ID, err)
		return nil, -1
	}
	shot, err := run.shots.Save(img, label)
	if err != nil {
		run.note("saving screenshot: %v", err)
		return img, -1
	}
	run.mu.Lock()
	run.shotList = append(run.shotList, store.Screenshot{Label: label, Path: shot.Path, Thumbnail: shot.Thumbnail,
		TakenAt: shot.TakenAt.UTC(), OffsetMs: shot.TakenAt.Sub(run.start).Milliseconds(), Width: shot.Width, Height: shot.Height})
	idx := len(run.shotList) - 1
	run.mu.Unlock()
	return img, idx
}

// verify checks that the device shows node. A node without verifications
// is checked by the device's own knowledge of its screen where it has it,
// and otherwise passes unverified.
func (run *runState) verify(ctx context.Context, u *ui.UI, node *ui.Node, img image.Image, shot int) (bool, []store.Verification) {
	if node.ID == run.unverified {
		return true, []store.Verification{{Type: "none", Label: node.ID, Passed: true, Detail: "not verified: its reference is being captured"}}
	}
	vs := node.Verifications
	if len(vs) == 0 {
		if run.dev.Info().Has(capture.CapScreen) {
			vs = []ui.Verification{{Type: "screen"}}
		} else {
			return true, []store.Verification{{Type: "none", Label: node.ID, Passed: true, Error: "", Threshold: 0}}
		}
	}
	var out []store.Verification
	all := true
	source := ""
	if shot >= 0 {
		run.mu.Lock()
		source = run.shotList[shot].Path
		run.mu.Unlock()
	}
	for _, v := range vs {
		r := store.Verification{Type: v.Type, Label: cmp.Or(v.Label, node.ID), Source: source}
		switch v.Type {
		case ui.VerifyText, ui.VerifyBlack, ui.VerifyMotion, ui.VerifyAudio:
			run.verifyAV(ctx, v, img, &r)
		case "screen":
			s, ok := run.dev.(capture.Screens)
			if !ok {
				r.Error = "this device cannot report its screen; give the node an image verification"
				break
			}
			cur := s.CurrentScreen()
			r.Passed = cur == node.ID
			if !r.Passed {
				r.Error = fmt.Sprintf("the device shows '%s', not '%s'", cur, node.ID)
			}
		case "image":
			r.Threshold = v.Threshold
			if r.Threshold == 0 {
				r.Threshold = ui.DefaultThreshold
			}
			ref, rel, err := run.reference(u, v.Reference)
			r.Reference = rel
			switch {
			case err != nil:
				r.Error = err.Error()
			case img == nil:
				r.Error = "no screenshot to compare with"
			default:
				region := image.Rectangle{}
				if len(v.Region) == 4 {
					region = image.Rect(v.Region[0], v.Region[1], v.Region[0]+v.Region[2], v.Region[1]+v.Region[3])
				}
				r.Score, _ = capture.Match(img, ref, region)
				r.Passed = r.Score >= r.Threshold
				if !r.Passed {
					r.Error = fmt.Sprintf("%s matched %.0f%%, needs %.0f%%", filepath.Base(v.Reference), r.Score*100, r.Threshold*100)
				}
			}
		}
		all = all && r.Passed
		out = append(out, r)
	}
	rv := store.RunVerification{Node: node.ID, Passed: all, Checks: len(out)}
	if !all {
		rv.Error = describeFailures(out)
	}
	run.ev.emit(store.EventRunVerification, rv)
	return all, out
}

// reference loads a reference image (once per run) and copies it into the
// run folder, so the report shows it and travels with it.
func (run *runState) reference(u *ui.UI, ref string) (image.Image, string, error) {
	n := &run.nav
	path := u.RefPath(ref)
	if n.refs == nil {
		n.refs, n.copied = map[string]image.Image{}, map[string]string{}
	}
	if img, ok := n.refs[path]; ok {
		return img, n.copied[path], nil
	}
	img, err := capture.DecodeImage(path)
	if err != nil {
		return nil, "", fmt.Errorf("reference image: %w", err)
	}
	rel := filepath.ToSlash(filepath.Join("references", u.Name, filepath.Base(path)))
	if data, err := os.ReadFile(path); err == nil {
		dst := filepath.Join(run.dir, rel)
		if os.MkdirAll(filepath.Dir(dst), 0o755) == nil {
			_ = os.WriteFile(dst, data, 0o644)
		}
	}
	n.refs[path], n.copied[path] = img, rel
	return img, rel, nil
}

func (run *runState) recordAlready(u *ui.UI, node *ui.Node, shot int) int {
	now := time.Now()
	st := store.Step{Kind: "navigation", Name: "Already at " + node.Label, From: node.ID, To: node.ID,
		Status: store.StatusPassed, Message: "already at destination", StartedAt: now.UTC(), OffsetMs: now.Sub(run.start).Milliseconds()}
	if shot >= 0 {
		st.Screenshots = []int{shot}
	}
	return run.addStep(st)
}

// recover brings the device back to the entry node: with the
// userinterface's recovery actions when it has them, else by finding which
// node it shows and walking back from there.
func (run *runState) recover(ctx context.Context, u *ui.UI) ([]int, error) {
	n := &run.nav
	entry, _ := u.Node(u.Entry)
	if len(u.Recovery) > 0 {
		st := store.Step{Kind: "navigation", Name: "Recovery → " + entry.Label, To: entry.ID, Recovered: true,
			StartedAt: time.Now().UTC(), OffsetMs: time.Since(run.start).Milliseconds()}
		start := time.Now()
		err := run.doActions(ctx, u.Recovery, false, &st)
		img, shot := run.verificationShot(ctx, u, entry, "recovery")
		ok, vs := run.verify(ctx, u, entry, img, shot)
		st.Verifications = vs
		if shot >= 0 {
			st.Screenshots = []int{shot}
		}
		st.DurationMs = time.Since(start).Milliseconds()
		st.Status = passFail(err == nil && ok)
		if err == nil && !ok {
			err = errors.New("verification failed: " + describeFailures(vs))
		}
		if err != nil {
			st.Error = err.Error()
		}
		number := run.addStep(st)
		if err != nil {
			return []int{number}, fmt.Errorf("recovery actions did not reach %s: %v", entry.ID, err)
		}
		n.current = entry.ID
		return []int{number}, nil
	}
	where, err := run.locate(ctx, u)
	if err != nil {
		return nil, err
	}
	n.current = where
	if where == entry.ID {
		return nil, nil
	}
	return run.walk(ctx, u, entry, true, -1)
}

// locate finds which node the device shows by checking every node.
func (run *runState) locate(ctx context.Context, u *ui.UI) (string, error) {
	return run.locateIn(ctx, u, nil, -1)
}

// locateIn is locate with a screenshot already taken (nil: take one when
// needed).
func (run *runState) locateIn(ctx context.Context, u *ui.UI, img image.Image, shot int) (string, error) {
	for i := range u.Nodes {
		node := &u.Nodes[i]
		if img == nil && needsPicture(node) {
			img, shot = run.verificationShot(ctx, u, node, "locate")
		}
		if len(node.Verifications) == 0 && !run.dev.Info().Has(capture.CapScreen) || node.ID == run.unverified {
			continue
		}
		if ok, _ := run.verify(ctx, u, node, img, shot); ok {
			return node.ID, nil
		}
	}
	return "", errors.New("cannot tell which screen the device shows (add recovery: actions to the userinterface)")
}

// lookIfNeeded takes one screenshot when one of the nodes is checked by
// what the screenshot shows (image, text, black); the virtual device's own
// screen check needs none.
func (run *runState) lookIfNeeded(ctx context.Context, u *ui.UI, nodes ...*ui.Node) (image.Image, int) {
	for _, n := range nodes {
		if needsPicture(n) {
			return run.verificationShot(ctx, u, nodes[0], "where")
		}
	}
	return nil, -1
}

func needsPicture(n *ui.Node) bool {
	for _, v := range n.Verifications {
		if v.NeedsPicture() {
			return true
		}
	}
	return false
}

// verifyNode is the verify call of the script API.
func (run *runState) verifyNode(ctx context.Context, uiName, id string) (any, error) {
	u, err := run.userInterface(uiName)
	if err != nil {
		return nil, err
	}
	node, err := u.Node(id)
	if err != nil {
		return nil, err
	}
	img, shot := run.verificationShot(ctx, u, node, "verify "+node.ID)
	ok, vs := run.verify(ctx, u, node, img, shot)
	now := time.Now()
	st := store.Step{Kind: "verification", Name: "Verify " + node.Label, To: node.ID, Status: passFail(ok),
		Verifications: vs, StartedAt: now.UTC(), OffsetMs: now.Sub(run.start).Milliseconds()}
	if shot >= 0 {
		st.Screenshots = []int{shot}
	}
	if !ok {
		st.Error = describeFailures(vs)
		// A failed verify records the step; the script decides what it means.
		st.Status = store.StatusFailed
	}
	number := run.addStep(st)
	if ok {
		run.nav.mu.Lock()
		if run.nav.ui == u || run.nav.ui == nil {
			run.nav.ui, run.nav.current = u, node.ID
		}
		run.nav.mu.Unlock()
	}
	return map[string]any{"passed": ok, "node": node.ID, "verifications": vs, "step": number}, nil
}
