package capture

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// busyHolder takes c's lock in dir as owner, and returns what a second
// taker is told about the holder.
func busyHolder(t *testing.T, dir string, c DeviceConfig, owner string) string {
	t.Helper()
	l, err := AcquireLock(context.Background(), dir, c, false, owner, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = AcquireLock(context.Background(), dir, c, false, "second", nil)
	if !errors.Is(err, ErrDeviceBusy) {
		t.Fatalf("second lock: %v, want busy", err)
	}
	return err.Error()
}

// The holder note is overwritten in place: a shorter note after a longer
// one, or after a longer file left behind, shows nothing of the old.
func TestLockHolderNoteIsOverwritten(t *testing.T) {
	dir := t.TempDir()
	c := DeviceConfig{ID: "device1", Model: "virtual"}
	long := strings.TrimSpace(strings.Repeat("a very long owner ", 30)) // beyond the padded size
	if msg := busyHolder(t, dir, c, long); !strings.Contains(msg, long+", since ") {
		t.Fatalf("long owner not told in full: %s", msg)
	}
	if msg := busyHolder(t, dir, c, "run short.py"); !strings.Contains(msg, ", run short.py, since ") || strings.Contains(msg, "very long") {
		t.Fatalf("short owner after a long one: %s", msg)
	}
	holders, _ := filepath.Glob(filepath.Join(dir, "*.holder"))
	if len(holders) != 1 {
		t.Fatalf("holder files: %v", holders)
	}
	if err := os.WriteFile(holders[0], []byte(strings.Repeat("left by another version\n", 100)), 0o666); err != nil {
		t.Fatal(err)
	}
	if msg := busyHolder(t, dir, c, "run again.py"); strings.Contains(msg, "another version") || !strings.Contains(msg, "run again.py, since ") {
		t.Fatalf("after a longer file: %s", msg)
	}
}
