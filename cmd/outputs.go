package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// checkOutputFile makes sure the file a flag names (--junit) can be
// written, before anything runs: a path found unwritable once every
// script ran would turn their verdict into an infrastructure error. The
// file's folder is created (it would be anyway); the file itself is not.
func checkOutputFile(flag, path string) error {
	if path == "" {
		return nil
	}
	bad := func(why string) error {
		return &usageError{msg: fmt.Sprintf("--%s %s: %s", flag, path, why), hint: "give a file in a folder vpt can write"}
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return bad("is a folder")
		}
		if !st.Mode().IsRegular() {
			// A FIFO would block an open until its reader comes, and take
			// the check for the output.
			if err := unix.Access(path, unix.W_OK); err != nil {
				return bad(err.Error())
			}
			return nil
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return bad(err.Error())
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return bad(err.Error())
	}
	f, err := os.CreateTemp(dir, ".vpt-check-*")
	if err != nil {
		return bad(err.Error())
	}
	f.Close()
	return os.Remove(f.Name())
}
