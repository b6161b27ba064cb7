package secret

import "strings"

// FilterEnv returns environ (NAME=value entries) without the variables
// named in drop, except those also named in keep. Names are compared
// exactly, as the process environment does on Unix.
func FilterEnv(environ, drop, keep []string) []string {
	if len(drop) == 0 {
		return append([]string(nil), environ...)
	}
	gone := map[string]bool{}
	for _, n := range drop {
		gone[n] = true
	}
	for _, n := range keep {
		delete(gone, n)
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !gone[name] {
			out = append(out, kv)
		}
	}
	return out
}
