package executor

import (
	"context"
	"image"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/capture"
	_ "github.com/vpt-dev/vpt/capture/virtual"
	"github.com/vpt-dev/vpt/internal/ui"
)

// A reference is taken with a registry and a userinterface library only:
// no store, no run recorded.
func TestCaptureReference(t *testing.T) {
	dir := t.TempDir()
	reg, err := capture.NewRegistry(nil, capture.Environment{LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	uis := ui.Library{Dir: dir}
	ref, err := CaptureReference(context.Background(), reg, uis, nil, ReferenceRequest{
		DeviceID: "device1", UserInterface: ui.BuiltinName, Node: "live", Region: image.Rect(10, 20, 110, 70)})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Path != filepath.Join(dir, ui.BuiltinName, "live.png") || ref.Size != image.Pt(100, 50) || ref.Node != "live" {
		t.Fatalf("%+v", ref)
	}
	img, err := capture.DecodeImage(ref.Path)
	if err != nil || img.Bounds().Size() != ref.Size {
		t.Fatalf("saved picture: %v", err)
	}
	want := "verifications: [{type: image, reference: " + ui.BuiltinName + "/live.png, region: [10, 20, 100, 50]}]"
	if ref.Verification != want {
		t.Fatalf("snippet %q, want %q", ref.Verification, want)
	}
	if _, err := CaptureReference(context.Background(), reg, uis, nil, ReferenceRequest{
		DeviceID: "device1", UserInterface: ui.BuiltinName, Node: "nowhere"}); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("unknown node: %v", err)
	}
}
