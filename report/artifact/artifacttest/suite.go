// Package artifacttest is the conformance suite every artifact.Store
// passes: run it from the store's tests with the real backend (a folder,
// the S3 server scripts/test starts).
package artifacttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vpt-dev/vpt/report/artifact"
)

// Harness is one store under test.
type Harness struct {
	Store artifact.Store
	// Prefix starts every key the suite writes (the store may be shared).
	Prefix string
	// Large is a size that takes the store's path for large files.
	Large int64
	// StartIncomplete leaves an unfinished upload of key behind, as a
	// process killed in the middle of PutFile does.
	StartIncomplete func(t *testing.T, key string)
	// Incomplete counts the unfinished uploads under prefix, asked of the
	// backend itself.
	Incomplete func(t *testing.T, prefix string) int
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	st := h.Store
	key := func(parts ...string) string { return h.Prefix + "/" + strings.Join(parts, "/") }

	t.Run("bytes round trip", func(t *testing.T) {
		for name, want := range map[string]string{"report.html": "text/html; charset=utf-8", "a/b.png": "image/png",
			"output.log": "text/plain; charset=utf-8", "video.mp4": "video/mp4", "result.json": "application/json"} {
			data := []byte("content of " + name)
			if err := st.PutBytes(ctx, key("rt", name), data); err != nil {
				t.Fatal(err)
			}
			got, info, err := st.Get(ctx, key("rt", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || info.Size != int64(len(data)) || info.Key != key("rt", name) {
				t.Fatalf("%s: got %q, %+v", name, got, info)
			}
			if info.ContentType != want {
				t.Errorf("%s: Content-Type %q, want %q", name, info.ContentType, want)
			}
		}
	})

	t.Run("files, small and large", func(t *testing.T) {
		for _, size := range []int64{0, 1, 100_000, h.Large} {
			path := randomFile(t, size)
			k := key("files", fmt.Sprint(size)+".bin")
			var reported atomic.Int64
			pctx := artifact.WithProgress(ctx, func(n int64) { reported.Add(n) })
			if err := st.PutFile(pctx, k, path); err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			got, _, err := st.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(path)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: the stored copy differs (%d bytes back)", size, len(got))
			}
			if reported.Load() != size {
				t.Errorf("%d bytes: progress reported %d", size, reported.Load())
			}
		}
		if n := incomplete(t, h, key("files")); n != 0 {
			t.Fatalf("%d unfinished uploads left after success", n)
		}
	})

	t.Run("overwrite", func(t *testing.T) {
		k := key("over", "x.txt")
		for _, v := range []string{"first, longer", "second"} {
			if err := st.PutBytes(ctx, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		got, _, _ := st.Get(ctx, k)
		if string(got) != "second" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("missing keys", func(t *testing.T) {
		_, _, err := st.Get(ctx, key("missing", "nothing.txt"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Get of a missing key: %v, want fs.ErrNotExist", err)
		}
		if err := st.Delete(ctx, key("missing", "nothing.txt")); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		if err := st.DeletePrefix(ctx, key("missing")); err != nil {
			t.Fatalf("DeletePrefix of nothing: %v", err)
		}
		if got, err := st.List(ctx, key("missing")); err != nil || len(got) != 0 {
			t.Fatalf("List of nothing: %v %v", got, err)
		}
	})

	t.Run("list and delete", func(t *testing.T) {
		want := []string{key("ls", "a.txt"), key("ls", "b", "c.txt"), key("ls", "b", "d", "e.txt")}
		for _, k := range append(append([]string(nil), want...), key("lsx", "sibling.txt")) {
			if err := st.PutBytes(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.List(ctx, key("ls"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(keys(got), " ") != strings.Join(want, " ") {
			t.Fatalf("List: %v, want %v (sorted, nothing of the sibling prefix)", keys(got), want)
		}
		for _, o := range got {
			if o.Size != int64(len(o.Key)) {
				t.Errorf("%s: size %d", o.Key, o.Size)
			}
		}
		if err := st.Delete(ctx, want[0], key("ls", "never.txt")); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.List(ctx, key("ls")); len(got) != 2 {
			t.Fatalf("after Delete: %v", keys(got))
		}
		if err := st.DeletePrefix(ctx, key("ls")); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.List(ctx, key("ls")); len(got) != 0 {
			t.Fatalf("after DeletePrefix: %v", keys(got))
		}
		if _, _, err := st.Get(ctx, key("lsx", "sibling.txt")); err != nil {
			t.Fatalf("DeletePrefix took a sibling prefix: %v", err)
		}
	})

	t.Run("many at once", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- st.PutBytes(ctx, key("many", fmt.Sprintf("%02d.txt", i)), bytes.Repeat([]byte{byte(i)}, 1000+i))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := st.List(ctx, key("many")); len(got) != 40 {
			t.Fatalf("%d objects, want 40", len(got))
		}
	})

	t.Run("URLs fetch the object", func(t *testing.T) {
		k := key("url", "with space", "report.html")
		if err := st.PutBytes(ctx, k, []byte("<p>hello</p>")); err != nil {
			t.Fatal(err)
		}
		u, err := st.URL(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		body, typ := fetch(t, u)
		if string(body) != "<p>hello</p>" {
			t.Fatalf("GET %s: %q", u, body)
		}
		if typ != "" && typ != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: Content-Type %q", u, typ)
		}
	})

	t.Run("bad keys", func(t *testing.T) {
		for _, k := range []string{"", "/abs", "a//b", "a/../../b", "a/./b", "a/", "..", "a\\b", "a\x00b"} {
			if err := st.PutBytes(ctx, k, []byte("x")); !errors.Is(err, artifact.ErrBadKey) {
				t.Errorf("PutBytes(%q): %v, want ErrBadKey", k, err)
			}
			if _, _, err := st.Get(ctx, k); !errors.Is(err, artifact.ErrBadKey) {
				t.Errorf("Get(%q): %v, want ErrBadKey", k, err)
			}
		}
		if err := st.DeletePrefix(ctx, ""); !errors.Is(err, artifact.ErrBadKey) {
			t.Errorf(`DeletePrefix(""): %v; it must never empty the whole store`, err)
		}
		if _, err := st.AbortIncomplete(ctx, ""); !errors.Is(err, artifact.ErrBadKey) {
			t.Errorf(`AbortIncomplete(""): %v`, err)
		}
	})

	t.Run("a cancelled put stores nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		for _, size := range []int64{10, h.Large} {
			k := key("cancel", fmt.Sprint(size))
			err := st.PutFile(cctx, k, randomFile(t, size))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%d bytes: %v, want context.Canceled", size, err)
			}
			if _, _, err := st.Get(ctx, k); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%d bytes: stored anyway (%v)", size, err)
			}
		}
		if n := incomplete(t, h, key("cancel")); n != 0 {
			t.Fatalf("%d unfinished uploads left", n)
		}
	})

	t.Run("unfinished uploads are aborted", func(t *testing.T) {
		if h.StartIncomplete == nil {
			t.Fatal("the harness must say how to leave an unfinished upload")
		}
		h.StartIncomplete(t, key("stale", "run1", "video.mp4"))
		h.StartIncomplete(t, key("stale", "run1", "deep", "x.bin"))
		h.StartIncomplete(t, key("stale", "run10", "video.mp4"))
		if n := incomplete(t, h, key("stale", "run1")); n != 2 {
			t.Fatalf("%d unfinished uploads under run1, want the 2 made", n)
		}
		n, err := st.AbortIncomplete(ctx, key("stale", "run1"))
		if err != nil || n != 2 {
			t.Fatalf("AbortIncomplete: %d, %v; want 2", n, err)
		}
		if n := incomplete(t, h, key("stale", "run1")); n != 0 {
			t.Fatalf("%d left", n)
		}
		if n := incomplete(t, h, key("stale", "run10")); n != 1 {
			t.Fatalf("the sibling prefix's upload: %d, want it kept", n)
		}
		if got, _ := st.List(ctx, key("stale")); len(got) != 0 {
			t.Fatalf("unfinished uploads listed as objects: %v", keys(got))
		}
		if n, err := st.AbortIncomplete(ctx, key("stale", "run1")); err != nil || n != 0 {
			t.Fatalf("second AbortIncomplete: %d, %v", n, err)
		}
		st.AbortIncomplete(ctx, key("stale"))
	})

	t.Run("check", func(t *testing.T) {
		if err := st.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Cleanup(func() {
		for _, p := range []string{"rt", "files", "over", "many", "url", "lsx"} {
			st.DeletePrefix(ctx, key(p))
		}
	})
}

func incomplete(t *testing.T, h Harness, prefix string) int {
	if h.Incomplete == nil {
		t.Fatal("the harness must say how to count unfinished uploads")
	}
	return h.Incomplete(t, prefix)
}

func keys(infos []artifact.Info) []string {
	out := make([]string, len(infos))
	for i, o := range infos {
		out[i] = o.Key
	}
	sort.Strings(out)
	return out
}

// randomFile writes size bytes that nothing compresses.
func randomFile(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, &xorshift{x: uint64(size) | 1}, size); err != nil {
		t.Fatal(err)
	}
	return path
}

type xorshift struct{ x uint64 }

func (r *xorshift) Read(p []byte) (int, error) {
	for i := range p {
		r.x ^= r.x << 13
		r.x ^= r.x >> 7
		r.x ^= r.x << 17
		p[i] = byte(r.x)
	}
	return len(p), nil
}

// fetch GETs a URL as a browser would: http(s) or file.
func fetch(t *testing.T, raw string) ([]byte, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "file" {
		b, err := os.ReadFile(u.Path)
		if err != nil {
			t.Fatal(err)
		}
		return b, ""
	}
	resp, err := http.Get(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", raw, resp.StatusCode, b)
	}
	return b, resp.Header.Get("Content-Type")
}
