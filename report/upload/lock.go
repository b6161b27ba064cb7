package upload

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often an upload waiting for a run's lock tries again.
const lockPoll = 50 * time.Millisecond

// lockRun takes a run's upload lock: an flock on its folder, which the
// kernel lets go when the process ends however it ends. Two vpt uploading
// one run (two `report upload --pending`, a run's own upload and a retry)
// take turns under it instead of aborting each other's multipart uploads.
// waiting is called once when another process holds it; waited says
// whether it did.
func lockRun(ctx context.Context, dir string, waiting func()) (release func(), waited bool, err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, waited, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, waited, err
		}
		if !waited && waiting != nil {
			waiting()
		}
		waited = true
		select {
		case <-ctx.Done():
			f.Close()
			return nil, waited, ctx.Err() // context.Canceled: interrupted, exit 130
		case <-time.After(lockPoll):
		}
	}
}
