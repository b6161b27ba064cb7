package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// vpt ui reference repairs a node's reference: it crops to the node's own
// region, does not verify the node it is capturing (its reference may be
// the broken one), refuses a region off the screen and writes the format
// the file name says.
func TestUIReferenceRepairsANode(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/golive.py", "import vpt\nvpt.goto('live')\n")
	ref := filepath.Join(p.dir, "userinterfaces", "horizon_tv", "live.png")

	// The mistake: a whole frame over the node's 700x120 reference.
	p.vpt("ui", "reference", "live", "--region", "0,0,1280,720").expect(t, 0, "(1280x720)")
	p.vpt("run", "golive").expect(t, 1, "live.png matched 0%")

	// The repair: the node's region by default, captured without
	// verifying the broken reference.
	p.vpt("ui", "reference", "live").expect(t, 0, "saved userinterfaces/horizon_tv/live.png (700x120)")
	p.vpt("run", "golive").expect(t, 0)

	before, _ := os.ReadFile(ref)
	p.vpt("ui", "reference", "live", "--region", "1200,700,200,100").expectErr(t, 2, "1200,700,200,100", "outside the screen (1280x720)")
	if after, _ := os.ReadFile(ref); !bytes.Equal(before, after) {
		t.Fatal("a refused region changed the reference")
	}

	jpg := filepath.Join(p.dir, "live.jpg")
	p.vpt("ui", "reference", "live", "-o", jpg).expect(t, 0, "(700x120)")
	if b, _ := os.ReadFile(jpg); len(b) < 3 || !bytes.Equal(b[:3], []byte{0xff, 0xd8, 0xff}) {
		t.Fatalf("%s is not a JPEG file", jpg)
	}
	p.vpt("ui", "reference", "live", "-o", filepath.Join(p.dir, "live.gif")).expectErr(t, 2, "live.gif", ".png", ".jpg")
	if _, err := os.Stat(filepath.Join(p.dir, "live.gif")); err == nil {
		t.Fatal("a .gif was written")
	}
}
