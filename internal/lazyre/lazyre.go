// Package lazyre compiles a regular expression on its first use, not when
// the program starts. Every vpt process (a script's supervisor too) runs
// every package's initialisation; expressions compiled there cost each one
// of them the time, whether it uses them or not.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that gives expr compiled, compiling it the first
// time it is called (from any goroutine). expr must be valid: it panics as
// regexp.MustCompile does.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
