// Package safename turns names people choose (device targets, screenshot
// labels, script names) into names that are safe as one file name or one
// key of an object store on every system, with no escaping anywhere.
package safename

import "strings"

// Key keeps the ASCII letters, digits, '.', '-' and '_' of s and turns every
// other character into '_', cut to at most max bytes (0: no limit). The
// result has the length of s in runes: "adb:10.0.0.5:5555" is
// "adb_10.0.0.5_5555". Lock files are named with it, so it must not change.
func Key(s string, max int) string {
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// Slug is s as lower-case words for a file name people read: ASCII letters
// and digits, '-' and '_' kept, every run of other characters one '-',
// none at either end, cut to about max bytes; fallback when nothing is left.
// "Home Screen (after zap)" is "home-screen-after-zap".
func Slug(s string, max int, fallback string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= max {
			break
		}
	}
	if out := strings.Trim(b.String(), "-"); out != "" {
		return out
	}
	return fallback
}
