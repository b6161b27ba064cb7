package executor

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
	// Region crops the screenshot (empty: the region of the node's image
	// verification, else the whole screen). It must lie on the screen.
	Region image.Rectangle
	// Output is the file to write ("" for where the node's image
	// verification expects it, else <userinterfaces_dir>/<ui>/<node>.png).
	Output string
	// NoWait fails at once when the device is busy instead of waiting.
	NoWait bool
}

// Reference is a reference picture taken and saved.
type Reference struct {
	Path string
	// Region is the part of the screen saved (empty: all of it).
	Region image.Rectangle
	Size   image.Point
	Node   string
	UIFile string // the userinterface's file ("" for the built-in one)
	// Verification is the image verification to add to the node, in the
	// userinterface's YAML, when it has none yet ("" when it has).
	Verification string
}

// ErrBadReference: a reference request that cannot be met as asked (a
// region off the screen, a file format vpt does not write); a usage error.
var ErrBadReference = errors.New("bad reference request")

// CaptureReference navigates a device to a node, with the same navigation
// as scripts, and saves its screenshot (cropped to the region) as the
// node's reference picture, in the format its file name says (.png, .jpg).
// The node itself is not verified on arrival: its reference may be the
// broken one being replaced. It needs no store and records no run: it
// takes the device's lock, opens it showing the userinterface, and closes
// it. notice hears of a wait for the device (nil: none).
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
	path := req.Output
	if path == "" {
		path = referencePath(uis, u, node)
	}
	format, err := imageFormat(path)
	if err != nil {
		return nil, err
	}
	region := req.Region
	if region.Empty() {
		region = nodeRegion(node)
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
	if !region.Empty() {
		if b := img.Bounds(); !region.In(b) {
			return nil, fmt.Errorf("%w: region %d,%d,%d,%d is outside the screen (%dx%d)", ErrBadReference,
				region.Min.X, region.Min.Y, region.Dx(), region.Dy(), b.Dx(), b.Dy())
		}
		img = capture.Crop(img, region)
	}
	ref := &Reference{Path: path, Region: region, Size: img.Bounds().Size(), Node: node.ID, UIFile: u.File}
	if err := os.MkdirAll(filepath.Dir(ref.Path), 0o755); err != nil {
		return nil, err
	}
	if err := saveImage(ref.Path, img, format); err != nil {
		return nil, err
	}
	if !hasImageVerification(node) {
		ref.Verification = verificationSnippet(uis.Dir, ref.Path, region)
	}
	return ref, nil
}

// imageFormat is the format a reference file's name asks for.
func imageFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png", nil
	case ".jpg", ".jpeg":
		return "jpeg", nil
	}
	return "", fmt.Errorf("%w: %s: vpt writes references as .png (best: lossless) or .jpg files", ErrBadReference, path)
}

// nodeRegion is the region of the node's image verification: the part of
// the screen its reference shows.
func nodeRegion(node *ui.Node) image.Rectangle {
	for _, v := range node.Verifications {
		if v.Type == "image" && len(v.Region) == 4 {
			return image.Rect(v.Region[0], v.Region[1], v.Region[0]+v.Region[2], v.Region[1]+v.Region[3])
		}
	}
	return image.Rectangle{}
}

// saveImage writes img as format (png, jpeg), atomically.
func saveImage(path string, img image.Image, format string) error {
	if format == "png" {
		return capture.SavePNG(path, img)
	}
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
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
	run.unverified = nodeID
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
