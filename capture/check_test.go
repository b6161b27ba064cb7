package capture_test

import (
	"context"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	_ "github.com/vpt-dev/vpt/capture/virtual"
)

// CheckAll reports every device, in the registry's order, the ones that
// cannot be opened with why.
func TestCheckAll(t *testing.T) {
	reg, err := capture.NewRegistry([]capture.DeviceConfig{
		{ID: "tv", Model: "android_tv", ADB: "127.0.0.1:1"},
	}, capture.Environment{ADB: "/nonexistent/adb"})
	if err != nil {
		t.Fatal(err)
	}
	list := reg.CheckAll(context.Background(), 5*time.Second)
	if len(list) != 2 || list[0].ID != "device1" || !list[0].OK || list[0].Driver != capture.DriverVirtual {
		t.Fatalf("device1: %+v", list)
	}
	if list[1].ID != "tv" || list[1].OK || list[1].Error == "" || list[1].Driver != capture.DriverADB {
		t.Fatalf("tv: %+v", list[1])
	}
	if err := reg.Check(context.Background(), "device1"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Check(context.Background(), "nope"); err == nil {
		t.Fatal("an unknown device answered")
	}
}
