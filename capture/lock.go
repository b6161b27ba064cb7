package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/vpt-dev/vpt/internal/safename"
)

// DefaultLockDir is where device locks live unless configured (lock_dir:,
// VPT_LOCK_DIR): one folder for the whole machine, the same for every user,
// login shell, cron job and service, so that two of them never drive one
// device at once. /run/lock is not private to a service the way /tmp can be
// (systemd's PrivateTmp); machines without it use /tmp.
func DefaultLockDir() string {
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock/vpt"
	}
	return filepath.Join(os.TempDir(), "vpt-locks")
}

// lockPoll is how often a waiting run tries a busy device's lock again.
const lockPoll = 100 * time.Millisecond

// Lock is a held device lock. It is an flock on a file: the kernel
// releases it when the process dies, so a crash never leaves a device locked.
type Lock struct {
	f      *flock.Flock
	holder string
}

// LockKey names what a lock protects: the hardware behind a device, so two
// configured ids of one capture card share one lock.
func LockKey(c DeviceConfig) string {
	driver, _ := c.Driver()
	target := c.ID
	switch driver {
	case DriverADB:
		target = c.ADB
	case DriverHDMI:
		target = c.Video
	case DriverHost:
		target = c.Display
	}
	return driver + ":" + target
}

// AcquireLock takes the device's lock in dir ("" for DefaultLockDir). When
// another process holds it: with wait, it calls onWait once with what the
// holder wrote and waits until the lock is free or ctx ends (ctx.Err());
// without wait it fails with ErrDeviceBusy at once. owner describes this
// run for the next waiter.
func AcquireLock(ctx context.Context, dir string, c DeviceConfig, wait bool, owner string, onWait func(holder string)) (*Lock, error) {
	if dir == "" {
		dir = DefaultLockDir()
	}
	if err := sharedDir(dir); err != nil {
		return nil, fmt.Errorf("device lock folder %s: %w (set lock_dir: in vpt.yaml or VPT_LOCK_DIR to a folder every user of this machine can write)", dir, err)
	}
	name := safename.Key(LockKey(c), 0)
	path := filepath.Join(dir, name+".lock")
	// Read-only is enough to flock a file, so any user can lock a file
	// another user created.
	f := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDONLY), flock.SetPermissions(0o666))
	ok, err := f.TryLock()
	if err != nil {
		return nil, fmt.Errorf("device lock %s: %w", path, err)
	}
	if !ok {
		holder := readHolder(path)
		if !wait {
			return nil, fmt.Errorf("%w: %s is in use (%s)", ErrDeviceBusy, c.ID, holder)
		}
		if onWait != nil {
			onWait(holder)
		}
		if ok, err = f.TryLockContext(ctx, lockPoll); !ok {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("device lock %s: %w", path, err)
		}
	}
	l := &Lock{f: f, holder: path + ".holder"}
	// Who holds it, for the next one waiting: best effort, the lock is the flock.
	writeHolder(l.holder, fmt.Sprintf("pid %d, %s, since %s", os.Getpid(), owner, time.Now().Format(time.RFC3339)))
	return l, nil
}

// holderSize is what a holder note is padded to, so that the next holder
// overwrites it in place: truncating the file instead (O_TRUNC) costs
// 65 µs on ext4, and milliseconds while the journal commits.
const holderSize = 256

// writeHolder writes note over the holder file, padded with spaces; a
// longer note, or a longer file left by another version, is cut to size.
func writeHolder(path, note string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return
	}
	defer f.Close()
	b := []byte(note + "\n")
	if len(b) < holderSize {
		b = append(b, strings.Repeat(" ", holderSize-len(b))...)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return
	}
	if st, err := f.Stat(); err == nil && st.Size() > int64(len(b)) {
		_ = f.Truncate(int64(len(b)))
	}
}

// sharedDir makes dir, writable by every user (with the sticky bit, as
// /tmp), so that locks hold across the users of one machine.
func sharedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o002 == 0 {
		// Only its owner can widen it; others lock in it as it is.
		if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	return nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path + ".holder")
	if err != nil || len(b) == 0 {
		return "held by another vpt process"
	}
	return strings.TrimSpace(string(b))
}

// Release frees the lock; it may be called more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Close()
	l.f = nil
}
