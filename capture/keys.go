package capture

import (
	"fmt"
	"sort"
	"strings"
)

// Remote keys have one canonical name in vpt (the names of a TV remote:
// HOME, BACK, UP, OK, CH_UP, VOLUME_UP, 0…9); drivers map them to their own
// codes. Aliases let scripts use Android's names too.
var keyAliases = map[string]string{
	"DPAD_UP": "UP", "DPAD_DOWN": "DOWN", "DPAD_LEFT": "LEFT", "DPAD_RIGHT": "RIGHT",
	"DPAD_CENTER": "OK", "SELECT": "OK", "CENTER": "OK",
	"CHANNEL_UP": "CH_UP", "CHANNEL_DOWN": "CH_DOWN", "CHUP": "CH_UP", "CHDOWN": "CH_DOWN",
	"VOL_UP": "VOLUME_UP", "VOL_DOWN": "VOLUME_DOWN", "VOLUP": "VOLUME_UP", "VOLDOWN": "VOLUME_DOWN",
	"VOLUME_MUTE": "MUTE", "RETURN": "BACK", "EXIT": "BACK",
	"MEDIA_PLAY_PAUSE": "PLAY_PAUSE", "MEDIA_PLAY": "PLAY", "MEDIA_PAUSE": "PAUSE", "MEDIA_STOP": "STOP",
	"MEDIA_FAST_FORWARD": "FAST_FORWARD", "MEDIA_REWIND": "REWIND", "EPG": "GUIDE",
}

// StandardKeys are the keys every remote-like device understands by name.
var StandardKeys = []string{
	"POWER", "HOME", "BACK", "MENU", "GUIDE", "INFO", "UP", "DOWN", "LEFT", "RIGHT", "OK", "ENTER",
	"CH_UP", "CH_DOWN", "VOLUME_UP", "VOLUME_DOWN", "MUTE", "PLAY", "PAUSE", "PLAY_PAUSE", "STOP",
	"FAST_FORWARD", "REWIND", "RECORD", "RED", "GREEN", "YELLOW", "BLUE", "SETTINGS", "SEARCH",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
}

// NormalizeKey returns the canonical name of a key: upper case, without an
// Android KEYCODE_ prefix, aliases resolved.
func NormalizeKey(k string) string {
	k = strings.ToUpper(strings.TrimSpace(k))
	k = strings.TrimPrefix(k, "KEYCODE_")
	k = strings.TrimPrefix(k, "KEY_")
	if a, ok := keyAliases[k]; ok {
		return a
	}
	return k
}

// IsStandardKey reports whether k (canonical) is a standard key.
func IsStandardKey(k string) bool {
	for _, s := range StandardKeys {
		if s == k {
			return true
		}
	}
	return false
}

// UnknownKeyError names a key a device cannot send.
type UnknownKeyError struct {
	Key    string
	Device string
	Known  []string
}

func (e *UnknownKeyError) Error() string {
	known := append([]string(nil), e.Known...)
	sort.Strings(known)
	return fmt.Sprintf("key %q is not a key of %s (keys: %s)", e.Key, e.Device, strings.Join(known, ", "))
}

// Unwrap returns ErrUnknownKey.
func (e *UnknownKeyError) Unwrap() error { return ErrUnknownKey }

// AndroidKeycode maps a canonical key to an Android key event name, as
// `adb shell input keyevent` takes it.
func AndroidKeycode(k string) (string, bool) {
	k = NormalizeKey(k)
	special := map[string]string{
		"UP": "KEYCODE_DPAD_UP", "DOWN": "KEYCODE_DPAD_DOWN", "LEFT": "KEYCODE_DPAD_LEFT",
		"RIGHT": "KEYCODE_DPAD_RIGHT", "OK": "KEYCODE_DPAD_CENTER", "CH_UP": "KEYCODE_CHANNEL_UP",
		"CH_DOWN": "KEYCODE_CHANNEL_DOWN", "MUTE": "KEYCODE_VOLUME_MUTE", "PLAY": "KEYCODE_MEDIA_PLAY",
		"PAUSE": "KEYCODE_MEDIA_PAUSE", "PLAY_PAUSE": "KEYCODE_MEDIA_PLAY_PAUSE", "STOP": "KEYCODE_MEDIA_STOP",
		"FAST_FORWARD": "KEYCODE_MEDIA_FAST_FORWARD", "REWIND": "KEYCODE_MEDIA_REWIND",
		"RECORD": "KEYCODE_MEDIA_RECORD", "RED": "KEYCODE_PROG_RED", "GREEN": "KEYCODE_PROG_GREEN",
		"YELLOW": "KEYCODE_PROG_YELLOW", "BLUE": "KEYCODE_PROG_BLUE",
	}
	if v, ok := special[k]; ok {
		return v, true
	}
	if IsStandardKey(k) || strings.HasPrefix(k, "F") && len(k) <= 3 {
		return "KEYCODE_" + k, true
	}
	// Any other Android key name passes through (KEYCODE_APP_SWITCH…).
	for _, c := range k {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "", false
		}
	}
	return "KEYCODE_" + k, true
}
