package artifact

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Folder stores artifacts as files under a folder: a disk that a web
// server publishes, a network share, or a test's temporary folder.
type Folder struct {
	dir string
	// baseURL serves the folder; without it URLs are file:// URLs.
	baseURL string
}

// NewFolder stores under dir (made if missing). baseURL, when set, is the
// address that serves dir ("https://lab.example/vpt").
func NewFolder(dir, baseURL string) (*Folder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, &Error{Op: "check", Key: abs, Reason: err.Error(), Err: err}
	}
	return &Folder{dir: abs, baseURL: strings.TrimRight(baseURL, "/")}, nil
}

// tempSuffix ends the names of unfinished files, hidden beside their
// final name.
const tempSuffix = ".part"

func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempSuffix)
}

func (f *Folder) path(op, key string) (string, error) {
	if err := ValidKey(key); err != nil {
		var e *Error
		errors.As(err, &e)
		e.Op = op
		return "", e
	}
	return filepath.Join(f.dir, filepath.FromSlash(key)), nil
}

func fail(op, key string, err error) error {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	if errors.Is(err, context.Canceled) {
		reason = "interrupted"
	} else if errors.Is(err, context.DeadlineExceeded) {
		reason = "out of time"
	}
	return &Error{Op: op, Key: key, Reason: reason, Err: err}
}

// PutFile copies the file to a hidden temporary file beside the key's and
// renames it over the key's: readers see the old file or the new one.
func (f *Folder) PutFile(ctx context.Context, key, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fail("put", key, err)
	}
	defer src.Close()
	return f.put(ctx, key, src)
}

// PutBytes stores data as PutFile does.
func (f *Folder) PutBytes(ctx context.Context, key string, data []byte) error {
	return f.put(ctx, key, bytes.NewReader(data))
}

func (f *Folder) put(ctx context.Context, key string, r io.Reader) error {
	dst, err := f.path("put", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail("put", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fail("put", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*"+tempSuffix)
	if err != nil {
		return fail("put", key, err)
	}
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fail("put", key, err)
	}
	progress(ctx, n)
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get reads a stored file.
func (f *Folder) Get(ctx context.Context, key string) ([]byte, Info, error) {
	p, err := f.path("get", key)
	if err != nil {
		return nil, Info{}, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, Info{}, fail("get", key, err)
	}
	return b, Info{Key: key, Size: int64(len(b)), ContentType: ContentType(key)}, nil
}

// List walks the folder of prefix.
func (f *Folder) List(ctx context.Context, prefix string) ([]Info, error) {
	root := f.dir
	if prefix != "" {
		p, err := f.path("list", prefix)
		if err != nil {
			return nil, err
		}
		root = p
	}
	var out []Info
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || isTemp(d.Name()) {
			return nil
		}
		if p == root && prefix != "" {
			return nil // a file named like the prefix is not under it
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		out = append(out, Info{Key: filepath.ToSlash(rel), Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fail("list", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes files, then the folders they leave empty.
func (f *Folder) Delete(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		p, err := f.path("delete", key)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail("delete", key, err)
		}
		f.pruneEmpty(filepath.Dir(p))
	}
	return nil
}

// pruneEmpty removes empty folders from dir up to the root.
func (f *Folder) pruneEmpty(dir string) {
	for dir != f.dir && strings.HasPrefix(dir, f.dir+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// DeletePrefix removes the folder of prefix.
func (f *Folder) DeletePrefix(ctx context.Context, prefix string) error {
	p, err := f.path("delete", prefix)
	if err != nil {
		return err
	}
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return nil // a file named like the prefix is not under it
	}
	if err := os.RemoveAll(p); err != nil {
		return fail("delete", prefix, err)
	}
	f.pruneEmpty(filepath.Dir(p))
	return nil
}

// AbortIncomplete removes the temporary files a killed put left.
func (f *Folder) AbortIncomplete(ctx context.Context, prefix string) (int, error) {
	root, err := f.path("abort", prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && isTemp(d.Name()) {
			if err := os.Remove(p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, fail("abort", prefix, err)
	}
	return n, nil
}

// URL is under the base URL, or a file:// URL.
func (f *Folder) URL(ctx context.Context, key string) (string, error) {
	p, err := f.path("url", key)
	if err != nil {
		return "", err
	}
	if f.baseURL != "" {
		return f.baseURL + "/" + escapeKey(key), nil
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String(), nil
}

// Check makes sure the folder can be written.
func (f *Folder) Check(ctx context.Context) error {
	tmp, err := os.CreateTemp(f.dir, ".check.*"+tempSuffix)
	if err != nil {
		return fail("check", f.dir, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}
