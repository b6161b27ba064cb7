package executor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/virtual"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/store"
)

// blind is a device without screenshots: navigation on it measures the
// navigation alone.
type blind struct{ *virtual.Device }

func (b blind) Info() capture.Info {
	i := b.Device.Info()
	var caps []string
	for _, c := range i.Capabilities {
		if c != capture.CapScreenshot && c != capture.CapVideo {
			caps = append(caps, c)
		}
	}
	i.Capabilities = caps
	return i
}

// chain is a userinterface of n nodes in a row, one RIGHT apart.
func chain(b *testing.B, n int) *ui.UI {
	var nodes, edges strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&nodes, "  - {id: n%d, label: Screen %d}\n", i, i)
		if i > 0 {
			fmt.Fprintf(&edges, "  - {from: n%d, to: n%d, actions: [{action: press_key, key: RIGHT}]}\n", i-1, i)
		}
	}
	u, err := ui.Parse("chain.yaml", []byte("entry: n0\nnodes:\n"+nodes.String()+"edges:\n"+edges.String()))
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// BenchmarkGoto: goto across a 50-node userinterface on the virtual device
// (49 steps, each verified), without screenshots and with them. Goal: at
// most 100 ms plus the screenshots it takes.
func BenchmarkGoto(b *testing.B) {
	u := chain(b, 50)
	for _, withShots := range []bool{false, true} {
		name := "without-screenshots"
		if withShots {
			name = "with-screenshots"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var dev capture.Device = virtual.New(capture.DeviceConfig{ID: "v", Model: "virtual"}, u, "ffmpeg")
				if !withShots {
					dev = blind{dev.(*virtual.Device)}
				}
				dir := b.TempDir()
				run := &runState{r: &Runner{}, res: &store.Result{}, dir: dir, start: time.Now(), ui: u, dev: dev,
					shots: capture.NewShots(dir, capture.ShotOptions{}), log: slog.New(slog.DiscardHandler)}
				run.out = newSink(NewTail(1024), &markerScanner{}, nil, nil)
				b.StartTimer()
				res, err := run.gotoNode(context.Background(), "", "n49")
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Steps) != 49 {
					b.Fatalf("%d steps", len(res.Steps))
				}
			}
		})
	}
}
