package capture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockDir is where device locks live: one file per device, shared by every
// vpt process of this machine whatever folder it runs in.
func LockDir() string {
	if d := os.Getenv("VPT_LOCK_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "vpt", "locks")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("vpt-%d", os.Getuid()), "locks")
}

// Lock is a held device lock. It is an flock on a file: the kernel
// releases it when the process dies, so a crash never leaves a device locked.
type Lock struct {
	f *os.File
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

// AcquireLock takes the device's lock. When another process holds it:
// with wait, it calls onWait once with what the holder wrote and waits
// until the lock is free or ctx ends; without wait it fails with
// ErrDeviceBusy at once. owner describes this run for the next waiter.
func AcquireLock(ctx context.Context, c DeviceConfig, wait bool, owner string, onWait func(holder string)) (*Lock, error) {
	dir := LockDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("device lock folder %s: %w", dir, err)
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, LockKey(c))
	path := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("device lock %s: %w", path, err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("device lock %s: %w", path, err)
		}
		holder := readHolder(path)
		if !wait {
			f.Close()
			return nil, fmt.Errorf("%w: %s is in use (%s)", ErrDeviceBusy, c.ID, holder)
		}
		if !told && onWait != nil {
			onWait(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d, %s, since %s", os.Getpid(), owner, time.Now().Format(time.RFC3339))), 0)
	return &Lock{f: f}, nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "held by another vpt process"
	}
	return strings.TrimSpace(string(b))
}

// Release frees the lock.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
