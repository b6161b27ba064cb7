package executor

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/store"
)

// Reference takes the picture of a node for an image verification: it
// navigates a device to the node (with the same navigation as scripts)
// and returns its screenshot, cropped to region when it is not empty.
func (r *Runner) Reference(ctx context.Context, deviceID, uiName, nodeID string, region image.Rectangle, noWait bool) (image.Image, error) {
	devCfg, err := r.Devices.Config(deviceID)
	if err != nil {
		return nil, err
	}
	u, err := r.UIs.FindDraft(uiName)
	if err != nil {
		return nil, err
	}
	node, err := u.Node(nodeID)
	if err != nil {
		return nil, err
	}
	lock, err := r.Devices.Lock(ctx, devCfg, !noWait, "ui reference "+node.ID, func(holder string) {
		r.notice("device %s is busy (%s); waiting for it", devCfg.ID, holder)
	})
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	dev, err := r.Devices.OpenWithUI(devCfg, u)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	if err := dev.Check(ctx); err != nil {
		return nil, err
	}
	if !dev.Info().Has(capture.CapScreenshot) {
		return nil, fmt.Errorf("device %s: screenshots: %w", deviceID, capture.ErrNotSupported)
	}
	dir, err := os.MkdirTemp("", "vpt-reference-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// A run without a script or a row: just the navigation.
	run := &runState{r: r, res: &store.Result{}, dir: dir, start: time.Now(), ui: u, dev: dev,
		shots: capture.NewShots(dir, capture.ShotOptions{}), log: slog.New(slog.DiscardHandler)}
	run.out = newSink(NewTail(1024), &markerScanner{}, nil, nil)
	if _, err := run.gotoNode(ctx, "", node.ID); err != nil {
		return nil, err
	}
	img, err := dev.Screenshot(ctx)
	if err != nil {
		return nil, err
	}
	if !region.Empty() {
		img = capture.Crop(img, region)
	}
	return img, nil
}
