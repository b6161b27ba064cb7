// Package artifact stores files under keys: a bucket of Cloudflare R2 or any
// S3-compatible server (S3), or a folder (Folder). Both pass the conformance
// suite in report/artifact/artifacttest.
//
// Keys are slash-separated paths ("script-reports/virtual/goto_…/report.html")
// checked by ValidKey. A prefix names a folder of keys: "a/b" holds "a/b/c"
// but not "a/bc". Every method is safe for concurrent use, honours its
// context, and reports failures as *Error, whose Reason says in words a
// person can act on why it failed (never a secret).
package artifact

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Store is where artifacts go.
type Store interface {
	// PutFile stores the file at path under key, replacing any object
	// there. Readers never see part of it: on failure (or cancellation)
	// the key keeps its old object or none, and no unfinished upload is
	// left behind unless the server itself became unreachable.
	PutFile(ctx context.Context, key, path string) error
	// PutBytes stores data under key, as PutFile does.
	PutBytes(ctx context.Context, key string, data []byte) error
	// Get returns an object's content and what it is; a missing key is an
	// error that matches fs.ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, Info, error)
	// List returns the objects under prefix ("" for all), sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes keys; a missing key is not an error.
	Delete(ctx context.Context, keys ...string) error
	// DeletePrefix removes every object under prefix (never "").
	DeletePrefix(ctx context.Context, prefix string) error
	// AbortIncomplete discards the unfinished uploads under prefix (never
	// ""), which a killed process leaves behind, and says how many it
	// found.
	AbortIncomplete(ctx context.Context, prefix string) (int, error)
	// URL is the address a browser fetches key from: public, or signed
	// for a limited time.
	URL(ctx context.Context, key string) (string, error)
	// Check reports whether the store answers and accepts these settings.
	Check(ctx context.Context) error
}

// Info describes a stored object.
type Info struct {
	Key  string
	Size int64
	// ContentType is filled by Get.
	ContentType string
}

// Error is a failed operation of a Store.
type Error struct {
	Op     string // put, get, list, delete, abort, url, check
	Key    string // the key or prefix, when there is one
	Reason string // why, for people: "the server refused the secret access key"
	Err    error  // what the reason was read from (context.Canceled, an SDK error)
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Op + ": " + e.Reason
	}
	return e.Op + " " + e.Key + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Reason returns the readable reason of a Store's error, or err's text
// when it is not one.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return err.Error()
}

// ErrBadKey: a key or prefix that ValidKey refuses.
var ErrBadKey = errors.New("bad key")

// ValidKey checks a key or prefix: slash-separated names, none empty, "."
// or "..", no leading or trailing slash, no control characters. The same
// rule for every Store, so a key that works on a folder works on a bucket.
func ValidKey(key string) error {
	bad := func(why string) error {
		return &Error{Op: "key", Key: fmt.Sprintf("%q", key), Reason: why, Err: ErrBadKey}
	}
	if key == "" {
		return bad("empty")
	}
	if strings.IndexFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0 {
		return bad("control characters and backslashes are not allowed")
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return bad("every name between slashes must be a real name (no empty, . or .. parts)")
		}
	}
	return nil
}

// progressKey carries a progress callback in a context.
type progressKey struct{}

// WithProgress returns a context under which stores report the bytes they
// have stored so far, a part or an object at a time, to fn (called from
// several goroutines at once). Like net/http/httptrace, it travels in the
// context because it belongs to one request, not to the store.
func WithProgress(ctx context.Context, fn func(n int64)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// progress reports n bytes stored, when the context asks for it.
func progress(ctx context.Context, n int64) {
	if fn, ok := ctx.Value(progressKey{}).(func(int64)); ok && fn != nil {
		fn(n)
	}
}

// ContentType names each kind of file explicitly: browsers must render a
// report, not download it, and Go's table lacks .m3u8, .ts and .log.
func ContentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".mp4":
		return "video/mp4"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".json":
		return "application/json"
	case ".xml":
		return "application/xml"
	case ".log", ".txt":
		return "text/plain; charset=utf-8"
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".webm":
		return "video/webm"
	}
	return "application/octet-stream"
}

// escapeKey escapes each name of a key for a URL path.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
