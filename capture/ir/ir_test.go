package ir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/capture"
)

func TestBuiltinKeymaps(t *testing.T) {
	if got := strings.Join(Builtin(), ","); got != "lg,samsung" {
		t.Fatalf("built in: %s", got)
	}
	k, err := LoadKeymap("samsung", nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.Keys["OK"] != "0xE0E016E9" || k.Keys["0"] == "" {
		t.Fatalf("keys: %v", k.Keys)
	}
	// LG: NEC scancodes that ir-ctl encodes; the remote's OK is 0x20DF22DD
	// as 32 raw bits, address 0x04 and command 0x44.
	lg, err := LoadKeymap("lg", nil)
	if err != nil {
		t.Fatal(err)
	}
	argv, file, err := (&Sender{Keymap: lg}).Argv("DPAD_CENTER", lg.Keys["OK"])
	if err != nil || file != "" || strings.Join(argv, " ") != "ir-ctl -d /dev/lirc0 -S nec:0x0444" {
		t.Fatalf("LG OK: %v %q %v", argv, file, err)
	}
	for _, key := range capture.StandardKeys {
		switch key {
		case "ENTER", "PLAY_PAUSE", "SEARCH":
			continue // not on the LG remote
		}
		if lg.Keys[key] == "" {
			t.Errorf("the LG keymap lacks %s", key)
		}
	}
}

// Two names of one key (EXIT is BACK in vpt) with different codes are
// refused, instead of one of them winning at random.
func TestKeymapAliasClash(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tv.yaml"), []byte("remote: tv\nprotocol: nec\nkeys:\n  BACK: 0x0428\n  EXIT: 0x045B\n  ok: 0x0444\n"), 0o644)
	_, err := LoadKeymap("tv", []string{dir})
	if !errors.Is(err, capture.ErrBadDeviceConfig) || !strings.Contains(err.Error(), "BACK and EXIT") {
		t.Fatalf("clashing aliases: %v", err)
	}
}

func TestSamsung32(t *testing.T) {
	s := Samsung32(0x80000001)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) != 2+64+1 || lines[3] != "space 1690" || lines[5] != "space 560" || lines[len(lines)-2] != "space 1690" {
		t.Fatalf("timings:\n%s", s)
	}
}

func TestArgvAndKeymapDirs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "firetv.yaml"), []byte("remote: firetv\nprotocol: necx\nkeys:\n  home: 0x01fe0c\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("remote: x\nprotocol: samsung32\nkeys:\n  OK: zz\n"), 0o644)
	k, err := LoadKeymap("firetv", []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{Keymap: k, Device: "/dev/lirc1"}
	argv, file, err := s.Argv("HOME", k.Keys["HOME"])
	if err != nil || file != "" || strings.Join(argv, " ") != "ir-ctl -d /dev/lirc1 -S necx:0x01fe0c" {
		t.Fatalf("ir-ctl: %v %q %v", argv, file, err)
	}
	lirc := &Sender{Keymap: k, Tool: "irsend"}
	argv, _, _ = lirc.Argv("HOME", k.Keys["HOME"])
	if strings.Join(argv, " ") != "irsend SEND_ONCE firetv KEY_HOME" {
		t.Fatalf("irsend: %v", argv)
	}
	if _, err := LoadKeymap("broken", []string{dir}); !errors.Is(err, capture.ErrBadDeviceConfig) || !strings.Contains(err.Error(), "OK") {
		t.Fatalf("broken keymap: %v", err)
	}
	if _, err := LoadKeymap("nothere", []string{dir}); !errors.Is(err, capture.ErrBadDeviceConfig) {
		t.Fatalf("missing keymap: %v", err)
	}
}
