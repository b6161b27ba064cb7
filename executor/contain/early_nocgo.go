//go:build !cgo

package contain

// early: without cgo no supervisor starts before the Go runtime.
func early() (fd, pid int, ok bool) { return 0, 0, false }
