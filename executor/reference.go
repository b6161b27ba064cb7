package executor

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// ReferenceRequest asks for the reference picture of a node, for an image
// verification.
type ReferenceRequest struct {
	DeviceID      string
	UserInterface string
	Node          string
	// Region crops the screenshot (empty: the whole screen).
	Region image.Rectangle
	// Output is the file to write ("" for where the node's image
	// verification expects it, else <userinterfaces_dir>/<ui>/<node>.png).
	Output string
	// NoWait fails at once when the device is busy instead of waiting.
	NoWait bool
}

// Reference is a reference picture taken and saved.
type Reference struct {
	Path   string
	Size   image.Point
	Node   string
	UIFile string // the userinterface's file ("" for the built-in one)
	// Verification is the image verification to add to the node, in the
	// userinterface's YAML, when it has none yet ("" when it has).
	Verification string
}

// CaptureReference navigates a device to a node, with the same navigation
// as scripts, and saves its screenshot (cropped to the region) as the
// node's reference picture. It needs no store and records no run: it takes
// the device's lock, opens it showing the userinterface, and closes it.
// notice hears of a wait for the device (nil: none).
func CaptureReference(ctx context.Context, devices *capture.Registry, uis ui.Library, notice func(format string, args ...any), req ReferenceRequest) (*Reference, error) {
	devCfg, err := devices.Config(req.DeviceID)
	if err != nil {
		return nil, err
	}
	u, err := uis.FindDraft(req.UserInterface)
	if err != nil {
		return nil, err
	}
	node, err := u.Node(req.Node)
	if err != nil {
		return nil, err
	}
	r := &Runner{Devices: devices, UIs: uis, Notice: notice}
	lock, err := devices.Lock(ctx, devCfg, !req.NoWait, "ui reference "+node.ID, func(holder string) {
		r.notice("device %s is busy (%s); waiting for it", devCfg.ID, holder)
	})
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	img, err := r.navigateAndShoot(ctx, devCfg, u, node.ID)
	if err != nil {
		return nil, err
	}
	if !req.Region.Empty() {
		img = capture.Crop(img, req.Region)
	}
	ref := &Reference{Path: req.Output, Size: img.Bounds().Size(), Node: node.ID, UIFile: u.File}
	if ref.Path == "" {
		ref.Path = referencePath(uis, u, node)
	}
	if err := os.MkdirAll(filepath.Dir(ref.Path), 0o755); err != nil {
		return nil, err
	}
	if err := capture.SavePNG(ref.Path, img); err != nil {
		return nil, err
	}
	if !hasImageVerification(node) {
		ref.Verification = verificationSnippet(uis.Dir, ref.Path, req.Region)
	}
	return ref, nil
}

// navigateAndShoot opens the device showing u, goes to the node as a
// script's goto would (a run without a script or a row) and takes its
// screenshot.
func (r *Runner) navigateAndShoot(ctx context.Context, devCfg capture.DeviceConfig, u *ui.UI, nodeID string) (image.Image, error) {
	dev, err := r.Devices.OpenWithUI(devCfg, u)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	if err := dev.Check(ctx); err != nil {
		return nil, err
	}
	if !dev.Info().Has(capture.CapScreenshot) {
		return nil, fmt.Errorf("device %s: screenshots: %w", devCfg.ID, capture.ErrNotSupported)
	}
	dir, err := os.MkdirTemp("", "vpt-reference-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	run := &runState{r: r, res: &store.Result{}, dir: dir, start: time.Now(), ui: u, dev: dev,
		shots: capture.NewShots(dir, capture.ShotOptions{}), log: slog.New(slog.DiscardHandler)}
	run.out = newSink(NewTail(1024), &markerScanner{}, nil, nil)
	if _, err := run.gotoNode(ctx, "", nodeID); err != nil {
		return nil, err
	}
	return dev.Screenshot(ctx)
}

// referencePath is where a node's picture belongs: the reference its image
// verification names, else <userinterfaces_dir>/<ui>/<node>.png.
func referencePath(uis ui.Library, u *ui.UI, node *ui.Node) string {
	out := filepath.Join(uis.Dir, u.Name, node.ID+".png")
	for _, v := range node.Verifications {
		if v.Type == "image" && v.Reference != "" {
			out = u.RefPath(v.Reference)
		}
	}
	return out
}

func hasImageVerification(node *ui.Node) bool {
	for _, v := range node.Verifications {
		if v.Type == "image" {
			return true
		}
	}
	return false
}

// verificationSnippet is the YAML of an image verification of the picture.
func verificationSnippet(uiDir, path string, region image.Rectangle) string {
	rel, _ := filepath.Rel(uiDir, path)
	s := fmt.Sprintf("verifications: [{type: image, reference: %s", rel)
	if !region.Empty() {
		s += fmt.Sprintf(", region: [%d, %d, %d, %d]", region.Min.X, region.Min.Y, region.Dx(), region.Dy())
	}
	return s + "}]"
}
