package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// s3Server is the S3-compatible server scripts/test starts (versitygw,
// which checks signatures as R2 does); without it these tests are skipped.
func s3Server(t testing.TB) UploadConfig {
	t.Helper()
	ep := os.Getenv("VPT_TEST_S3_ENDPOINT")
	if ep == "" {
		t.Skip("VPT_TEST_S3_ENDPOINT is not set: run scripts/test, which starts versitygw")
	}
	return UploadConfig{Endpoint: ep, Bucket: os.Getenv("VPT_TEST_S3_BUCKET"), Region: "auto",
		AccessKeyID: os.Getenv("VPT_TEST_S3_ACCESS_KEY"), SecretAccessKey: os.Getenv("VPT_TEST_S3_SECRET_KEY"),
		PathStyle: true, Concurrency: 8, Presign: time.Hour}
}

// runFolder makes a run folder: a report, a log, screenshots and a video
// of videoBytes (random, so nothing compresses it).
func runFolder(t testing.TB, shots, videoBytes int) *store.Result {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs", "3f1c2b7e-0000-4000-8000-000000000001")
	os.MkdirAll(filepath.Join(dir, "screenshots"), 0o755)
	res := fixture()
	res.ID, res.RunDir, res.Details.Screenshots = "3f1c2b7e-0000-4000-8000-000000000001", dir, nil
	for i := 0; i < shots; i++ {
		p := fmt.Sprintf("screenshots/%03d-s.png", i+1)
		os.WriteFile(filepath.Join(dir, p), bytes.Repeat([]byte{byte(i)}, 40_000+i), 0o644)
		res.Details.Screenshots = append(res.Details.Screenshots, store.Screenshot{Label: "s", Path: p, Thumbnail: p})
	}
	if videoBytes > 0 {
		f, _ := os.Create(filepath.Join(dir, VideoMP4))
		io.CopyN(f, randReader{}, int64(videoBytes))
		f.Close()
	}
	os.WriteFile(filepath.Join(dir, OutputLog), []byte("hello\n"), 0o644)
	if err := WriteRunReport(res, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteResultJSON(res); err != nil {
		t.Fatal(err)
	}
	return res
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	var x uint64 = 88172645463325252
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x)
	}
	return len(p), nil
}

// snapshot hashes every file of a folder.
func snapshot(t testing.TB, dir string) map[string][32]byte {
	out := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = sha256.Sum256(b)
		}
		return nil
	})
	return out
}

func sameFiles(t *testing.T, a, b map[string][32]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d files before, %d after", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s changed", k)
		}
	}
}

func TestUploadRun(t *testing.T) {
	cfg := s3Server(t)
	cfg.Prefix = fmt.Sprintf("t%d", time.Now().UnixNano())
	up, err := NewUploader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := runFolder(t, 5, 20<<20)
	if err := up.UploadRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	prefix := up.RunPrefix(res)
	if !strings.HasPrefix(prefix, cfg.Prefix+"/script-reports/virtual/zap_") || !strings.HasSuffix(prefix, "_3f1c2b7e") {
		t.Fatalf("prefix %s", prefix)
	}
	if res.UploadStatus != store.UploadDone || res.HTMLReportR2Path != prefix+"/report.html" || !strings.Contains(res.HTMLReportR2URL, "X-Amz-Signature") {
		t.Fatalf("result %+v", res)
	}
	for key, wantType := range map[string]string{"report.html": "text/html; charset=utf-8", "video.mp4": "video/mp4",
		"screenshots/001-s.png": "image/png", "output.log": "text/plain; charset=utf-8", "result.json": "application/json"} {
		body, typ, err := up.Object(context.Background(), prefix+"/"+key)
		if err != nil {
			t.Fatal(err)
		}
		if typ != wantType {
			t.Errorf("%s: Content-Type %q, want %q", key, typ, wantType)
		}
		local, _ := os.ReadFile(filepath.Join(res.RunDir, key))
		if !bytes.Equal(body, local) {
			t.Errorf("%s: the uploaded copy differs (%d vs %d bytes)", key, len(body), len(local))
		}
	}
	// The presigned URL works with a plain GET, as a browser would use it.
	resp, err := http.Get(res.HTMLReportR2URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(res.HTMLReportR2URL[:40])) {
		t.Fatalf("GET report: %d, names its URL: %v", resp.StatusCode, bytes.Contains(body, []byte("X-Amz")))
	}
	// A relative link of the report works from the bucket too.
	u, _ := url.Parse(res.HTMLReportR2URL)
	logURL, err := up.URL(context.Background(), strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"+cfg.Bucket+"/"), "report.html")+"output.log")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(logURL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("output.log beside the report: %v %v", resp, err)
	}
	if err := up.DeleteRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	if _, _, err := up.Object(context.Background(), prefix+"/report.html"); err == nil {
		t.Fatal("objects left after DeleteRun")
	}
}

func TestPublicURLs(t *testing.T) {
	cfg := s3Server(t)
	cfg.PublicURL = "https://pub-0123.r2.dev/"
	up, _ := NewUploader(cfg)
	got, _ := up.URL(context.Background(), "script-reports/x/report.html")
	if got != "https://pub-0123.r2.dev/script-reports/x/report.html" {
		t.Fatal(got)
	}
}

// faultProxy sits between vpt and the S3 server and misbehaves on demand.
type faultProxy struct {
	srv      *httptest.Server
	failNext atomic.Int64 // answer this many requests with failCode
	failCode atomic.Int64
	down     atomic.Bool // close every connection
	delay    atomic.Int64
	requests atomic.Int64
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	fp := &faultProxy{}
	fp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.requests.Add(1)
		if d := fp.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if fp.down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				c, _, _ := hj.Hijack()
				c.Close()
				return
			}
		}
		if fp.failNext.Add(-1) >= 0 {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(int(fp.failCode.Load()))
			fmt.Fprint(w, "<Error><Code>InternalError</Code><Message>injected</Message></Error>")
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(fp.srv.Close)
	return fp
}

func TestUploadFaults(t *testing.T) {
	base := s3Server(t)
	ctx := context.Background()

	t.Run("server down before the upload", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := "http://" + ln.Addr().String()
		ln.Close()
		cfg := base
		cfg.Endpoint = dead
		up, _ := NewUploader(cfg)
		res := runFolder(t, 3, 0)
		before := snapshot(t, res.RunDir)
		err := up.UploadRun(ctx, res)
		if !errors.Is(err, ErrUpload) || res.UploadStatus != store.UploadPending || res.HTMLReportR2URL != "" {
			t.Fatalf("err %v, status %q", err, res.UploadStatus)
		}
		sameFiles(t, before, snapshot(t, res.RunDir))
	})

	t.Run("500 and 503 answers are retried", func(t *testing.T) {
		for _, code := range []int64{500, 503} {
			fp := newFaultProxy(t, base.Endpoint)
			fp.failCode.Store(code)
			fp.failNext.Store(3)
			cfg := base
			cfg.Endpoint, cfg.Prefix = fp.srv.URL, fmt.Sprintf("faults%d", code)
			cfg.Concurrency = 1
			up, _ := NewUploader(cfg)
			res := runFolder(t, 2, 0)
			if err := up.UploadRun(ctx, res); err != nil {
				t.Fatalf("%d: %v", code, err)
			}
			if res.UploadStatus != store.UploadDone {
				t.Fatalf("%d: status %q", code, res.UploadStatus)
			}
		}
	})

	t.Run("server dies during the upload", func(t *testing.T) {
		fp := newFaultProxy(t, base.Endpoint)
		cfg := base
		cfg.Endpoint, cfg.Prefix, cfg.Concurrency = fp.srv.URL, "dies", 2
		up, _ := NewUploader(cfg)
		res := runFolder(t, 30, 40<<20)
		before := snapshot(t, res.RunDir)
		go func() {
			for fp.requests.Load() < 3 {
				time.Sleep(time.Millisecond)
			}
			fp.down.Store(true)
		}()
		err := up.UploadRun(ctx, res)
		if !errors.Is(err, ErrUpload) || res.UploadStatus != store.UploadPending {
			t.Fatalf("err %v status %q", err, res.UploadStatus)
		}
		sameFiles(t, before, snapshot(t, res.RunDir))
		// Back up: the retry succeeds.
		fp.down.Store(false)
		if err := up.UploadRun(ctx, res); err != nil || res.UploadStatus != store.UploadDone {
			t.Fatalf("retry: %v %q", err, res.UploadStatus)
		}
	})

	t.Run("slow server", func(t *testing.T) {
		fp := newFaultProxy(t, base.Endpoint)
		fp.delay.Store(int64(150 * time.Millisecond))
		cfg := base
		cfg.Endpoint, cfg.Prefix = fp.srv.URL, "slow"
		up, _ := NewUploader(cfg)
		res := runFolder(t, 8, 0)
		if err := up.UploadRun(ctx, res); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong keys never show in errors", func(t *testing.T) {
		cfg := base
		cfg.AccessKeyID, cfg.SecretAccessKey = "AKIAWRONGWRONGWRONG1", "wrong-secret-0123456789abcdefghij"
		up, _ := NewUploader(cfg)
		res := runFolder(t, 1, 0)
		err := up.UploadRun(ctx, res)
		if err == nil || strings.Contains(err.Error(), cfg.SecretAccessKey) || strings.Contains(err.Error(), cfg.AccessKeyID) {
			t.Fatalf("error: %v", err)
		}
	})
}

// An opt-in check against real Cloudflare R2 (over HTTPS, where the SDK's
// checksum behaviour differs from plain HTTP).
func TestLiveR2(t *testing.T) {
	ep := os.Getenv("VPT_TEST_R2_ENDPOINT")
	if ep == "" {
		t.Skip("set VPT_TEST_R2_ENDPOINT, VPT_TEST_R2_BUCKET, VPT_TEST_R2_ACCESS_KEY_ID, VPT_TEST_R2_SECRET_ACCESS_KEY to run against R2")
	}
	up, err := NewUploader(UploadConfig{Endpoint: ep, Bucket: os.Getenv("VPT_TEST_R2_BUCKET"), Region: "auto",
		AccessKeyID: os.Getenv("VPT_TEST_R2_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("VPT_TEST_R2_SECRET_ACCESS_KEY"),
		Prefix: "vpt-live-test", Presign: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	res := runFolder(t, 3, 20<<20)
	if err := up.UploadRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(res.HTMLReportR2URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %v %v", resp, err)
	}
	up.DeleteRun(context.Background(), res)
}

func TestContentTypes(t *testing.T) {
	for name, want := range map[string]string{"a/report.html": "text/html; charset=utf-8", "x.ts": "video/mp2t",
		"index.m3u8": "application/vnd.apple.mpegurl", "output.log": "text/plain; charset=utf-8", "a.bin": "application/octet-stream"} {
		if got := ContentType(name); got != want {
			t.Errorf("%s: %s", name, got)
		}
	}
}
