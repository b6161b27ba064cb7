package bench

import (
	"os"
	"path/filepath"
	"time"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// xorshift fills files with bytes that do not compress, like real video.
type xorshift struct{ x uint64 }

func newRand() *xorshift { return &xorshift{x: 88172645463325252} }

func (r *xorshift) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		r.x ^= r.x << 13
		r.x ^= r.x >> 7
		r.x ^= r.x << 17
		b[i] = byte(r.x)
	}
	return b
}

// benchResult describes a run folder made by hand, with its report.
func benchResult(dir string) *store.Result {
	end := time.Now()
	res := &store.Result{ID: filepath.Base(dir), ScriptName: "bench", DeviceModel: "virtual", DeviceID: "device1",
		Status: store.StatusPassed, StartedAt: end.Add(-time.Minute), CompletedAt: &end, RunDir: dir}
	os.WriteFile(filepath.Join(dir, report.OutputLog), []byte("bench\n"), 0o644)
	report.WriteRunReport(res, nil)
	report.WriteResultJSON(res)
	return res
}
