package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/report/artifact"
	"github.com/vpt-dev/vpt/store"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

// s3Server is the S3-compatible server scripts/test starts (versitygw,
// which checks signatures as R2 does); without it these tests are
// skipped, except under VPT_REQUIRE_SERVICES=1 (CI), where they fail.
func s3Server(t testing.TB) artifact.S3Config {
	t.Helper()
	ep := testenv.Server(t, "VPT_TEST_S3_ENDPOINT", "versitygw, an S3 server")
	return artifact.S3Config{Endpoint: ep, Bucket: os.Getenv("VPT_TEST_S3_BUCKET"), Region: "auto",
		AccessKeyID: os.Getenv("VPT_TEST_S3_ACCESS_KEY"), SecretAccessKey: os.Getenv("VPT_TEST_S3_SECRET_KEY"),
		PathStyle: true, Concurrency: 8, Presign: time.Hour}
}

func newUploader(t testing.TB, cfg artifact.S3Config, opt Options) *Uploader {
	t.Helper()
	st, err := artifact.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opt.Secrets = append(opt.Secrets, cfg.SecretAccessKey, cfg.AccessKeyID)
	return New(st, opt)
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// runFolder makes a run folder: a report, a log, screenshots and a video
// of videoBytes (random, so nothing compresses it).
func runFolder(t testing.TB, shots, videoBytes int) *store.Result {
	t.Helper()
	id := "3f1c2b7e-0000-4000-8000-000000000001"
	dir := filepath.Join(t.TempDir(), "runs", id)
	os.MkdirAll(filepath.Join(dir, "screenshots"), 0o755)
	end := t0.Add(12 * time.Second)
	res := &store.Result{ID: id, TeamID: "team", ScriptName: "zap <b>", DeviceID: "device1", DeviceName: "Virtual STB",
		DeviceModel: "virtual", HostName: "lab-1", Status: store.StatusPassed, Success: true, StartedAt: t0, CompletedAt: &end,
		ExecutionTimeMs: 12000, RunDir: dir, Details: store.Details{OutputBytes: 6, OutputLines: 1, VerdictSource: "api"}}
	for i := 0; i < shots; i++ {
		p := fmt.Sprintf("screenshots/%03d-s.png", i+1)
		os.WriteFile(filepath.Join(dir, p), bytes.Repeat([]byte{byte(i)}, 40_000+i), 0o644)
		res.Details.Screenshots = append(res.Details.Screenshots, store.Screenshot{Label: "s", Path: p, Thumbnail: p, OffsetMs: int64(i) * 100})
	}
	if shots > 0 {
		res.Details.Steps = []store.Step{{Number: 1, Name: "zap", Status: store.StatusPassed, Screenshots: []int{0},
			Verifications: []store.Verification{{Type: "image", Label: "live", Passed: true, Source: res.Details.Screenshots[0].Path}}}}
	}
	if videoBytes > 0 {
		f, _ := os.Create(filepath.Join(dir, report.VideoMP4))
		io.CopyN(f, randReader{}, int64(videoBytes))
		f.Close()
		res.Details.Video = &store.Video{Path: report.VideoMP4, DurationMs: 11000, State: "finalised"}
	}
	os.WriteFile(filepath.Join(dir, report.OutputLog), []byte("hello\n"), 0o644)
	if err := report.WriteRunReport(res, nil); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteResultJSON(res); err != nil {
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

// fileState is what a rewrite changes, even one that puts the same bytes
// back: the content, the inode, the modification time.
type fileState struct {
	sum   [32]byte
	inode uint64
	mtime time.Time
}

// snapshot records every file of a folder.
func snapshot(t testing.TB, dir string) map[string]fileState {
	out := map[string]fileState{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			info, _ := d.Info()
			out[p] = fileState{sum: sha256.Sum256(b), inode: info.Sys().(*syscall.Stat_t).Ino, mtime: info.ModTime()}
		}
		return nil
	})
	return out
}

func sameFiles(t *testing.T, a, b map[string]fileState) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d files before, %d after", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s was rewritten", k)
		}
	}
}

// unsign replaces each presigned URL of an object under prefix, as it
// appears in HTML or in JSON, by the object's path under prefix.
func unsign(prefix string, b []byte) []byte {
	re := regexp.MustCompile(`https?://[^"\s]*?/` + regexp.QuoteMeta(prefix) + `/([^?"\s]+)\?[^"\s<]*`)
	return re.ReplaceAll(b, []byte("$1"))
}

func TestUploadRun(t *testing.T) {
	cfg := s3Server(t)
	up := newUploader(t, cfg, Options{Prefix: fmt.Sprintf("t%d", time.Now().UnixNano())})
	if err := up.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := runFolder(t, 5, 20<<20)
	if err := up.UploadRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	prefix := up.RunPrefix(res)
	if !strings.HasPrefix(prefix, up.opt.Prefix+"/script-reports/virtual/zap__b__") || !strings.HasSuffix(prefix, "_3f1c2b7e") {
		t.Fatalf("prefix %s", prefix)
	}
	if res.UploadStatus != store.UploadDone || res.HTMLReportR2Path != prefix+"/report.html" || !strings.Contains(res.HTMLReportR2URL, "X-Amz-Signature") {
		t.Fatalf("result %+v", res)
	}
	for key, wantType := range map[string]string{"report.html": "text/html; charset=utf-8", "video.mp4": "video/mp4",
		"screenshots/001-s.png": "image/png", "output.log": "text/plain; charset=utf-8", "result.json": "application/json"} {
		body, info, err := up.Store().Get(context.Background(), prefix+"/"+key)
		if err != nil {
			t.Fatal(err)
		}
		if info.ContentType != wantType {
			t.Errorf("%s: Content-Type %q, want %q", key, info.ContentType, wantType)
		}
		local, _ := os.ReadFile(filepath.Join(res.RunDir, key))
		if key == "report.html" {
			// The bucket's report links its media by presigned URL; it is
			// otherwise the local report.
			if !bytes.Contains(body, []byte(`src="http`)) || bytes.Contains(local, []byte(`src="http`)) {
				t.Errorf("report.html: the bucket's copy should link its media by URL, the local one relatively")
			}
			body, local = unsign(prefix, body), unsign(prefix, local)
		}
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
	// Every file the bucket's report links answers, from the bucket.
	links := regexp.MustCompile(`(?:src|href|data-shot)="(http[^"]+)"`).FindAllSubmatch(body, -1)
	if len(links) < 8 {
		t.Fatalf("%d links in the report", len(links))
	}
	for _, l := range links {
		u := strings.ReplaceAll(string(l[1]), "&amp;", "&")
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", u, resp, err)
		}
		resp.Body.Close()
	}
	// A link beside the report works from the bucket too.
	u, _ := url.Parse(res.HTMLReportR2URL)
	logURL, err := up.Store().URL(context.Background(), strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"+cfg.Bucket+"/"), "report.html")+"output.log")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(logURL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("output.log beside the report: %v %v", resp, err)
	}
	if err := up.DeleteRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	if _, _, err := up.Store().Get(context.Background(), prefix+"/report.html"); err == nil {
		t.Fatal("objects left after DeleteRun")
	}
}

// A folder is an artifact store like a bucket.
func TestUploadRunToFolder(t *testing.T) {
	dir := t.TempDir()
	st, _ := artifact.NewFolder(dir, "https://lab.example/vpt")
	up := New(st, Options{})
	res := runFolder(t, 2, 1000)
	if err := up.UploadRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	if res.HTMLReportR2URL != "https://lab.example/vpt/"+up.RunPrefix(res)+"/report.html" {
		t.Fatal(res.HTMLReportR2URL)
	}
	html, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(res.HTMLReportR2Path)))
	if !bytes.Contains(html, []byte(`src="https://lab.example/vpt/`+up.RunPrefix(res)+`/video.mp4"`)) {
		t.Fatal("the stored report does not link the stored video")
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
	// refuse answers 403 to the requests it matches.
	refuse atomic.Pointer[func(*http.Request) bool]
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
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
		if f := fp.refuse.Load(); f != nil && (*f)(r) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(403)
			fmt.Fprint(w, "<Error><Code>AccessDenied</Code><Message>injected</Message></Error>")
			return
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
		up := newUploader(t, cfg, Options{})
		res := runFolder(t, 3, 0)
		before := snapshot(t, res.RunDir)
		err := up.UploadRun(ctx, res)
		if !errors.Is(err, ErrFailed) || res.UploadStatus != store.UploadPending || res.HTMLReportR2URL != "" {
			t.Fatalf("err %v, status %q", err, res.UploadStatus)
		}
		if !strings.Contains(res.Details.UploadError, "nothing answers at "+dead) {
			t.Fatalf("reason %q", res.Details.UploadError)
		}
		sameFiles(t, before, snapshot(t, res.RunDir))
	})

	t.Run("500 and 503 answers are retried", func(t *testing.T) {
		for _, code := range []int64{500, 503} {
			fp := newFaultProxy(t, base.Endpoint)
			fp.failCode.Store(code)
			fp.failNext.Store(3)
			cfg := base
			cfg.Endpoint, cfg.Concurrency = fp.srv.URL, 1
			up := newUploader(t, cfg, Options{Prefix: fmt.Sprintf("faults%d", code), Concurrency: 1})
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
		cfg.Endpoint, cfg.Concurrency = fp.srv.URL, 2
		up := newUploader(t, cfg, Options{Prefix: "dies", Concurrency: 2})
		res := runFolder(t, 30, 40<<20)
		before := snapshot(t, res.RunDir)
		go func() {
			for fp.requests.Load() < 3 {
				time.Sleep(time.Millisecond)
			}
			fp.down.Store(true)
		}()
		err := up.UploadRun(ctx, res)
		if !errors.Is(err, ErrFailed) || res.UploadStatus != store.UploadPending {
			t.Fatalf("err %v status %q", err, res.UploadStatus)
		}
		sameFiles(t, before, snapshot(t, res.RunDir))
		// Back up: the retry succeeds, and nothing unfinished is left.
		fp.down.Store(false)
		if err := up.UploadRun(ctx, res); err != nil || res.UploadStatus != store.UploadDone || res.Details.UploadError != "" {
			t.Fatalf("retry: %v %q %q", err, res.UploadStatus, res.Details.UploadError)
		}
		if left := unfinished(t, base, up.RunPrefix(res)); len(left) != 0 {
			t.Fatalf("unfinished uploads: %v", left)
		}
	})

	t.Run("the last objects refused", func(t *testing.T) {
		// Everything but the report goes up; the local files stay exactly
		// as they were, not rewritten and put back.
		fp := newFaultProxy(t, base.Endpoint)
		refuseReport := func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/report.html") }
		fp.refuse.Store(&refuseReport)
		cfg := base
		cfg.Endpoint = fp.srv.URL
		up := newUploader(t, cfg, Options{Prefix: "refused"})
		res := runFolder(t, 3, 0)
		before := snapshot(t, res.RunDir)
		time.Sleep(10 * time.Millisecond) // a rewrite would show in the modification time
		err := up.UploadRun(ctx, res)
		if !errors.Is(err, ErrFailed) || res.UploadStatus != store.UploadPending || res.HTMLReportR2URL != "" {
			t.Fatalf("err %v status %q", err, res.UploadStatus)
		}
		if !strings.Contains(res.Details.UploadError, "access denied to bucket "+cfg.Bucket) {
			t.Fatalf("reason %q", res.Details.UploadError)
		}
		sameFiles(t, before, snapshot(t, res.RunDir))
	})

	t.Run("slow server", func(t *testing.T) {
		fp := newFaultProxy(t, base.Endpoint)
		fp.delay.Store(int64(150 * time.Millisecond))
		cfg := base
		cfg.Endpoint = fp.srv.URL
		up := newUploader(t, cfg, Options{Prefix: "slow"})
		res := runFolder(t, 8, 0)
		if err := up.UploadRun(ctx, res); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong keys never show in errors", func(t *testing.T) {
		cfg := base
		cfg.AccessKeyID, cfg.SecretAccessKey = "AKIAWRONGWRONGWRONG1", "wrong-secret-0123456789abcdefghij"
		up := newUploader(t, cfg, Options{})
		res := runFolder(t, 1, 0)
		err := up.UploadRun(ctx, res)
		if err == nil || strings.Contains(err.Error(), cfg.SecretAccessKey) || strings.Contains(err.Error(), cfg.AccessKeyID) {
			t.Fatalf("error: %v", err)
		}
		if strings.Contains(res.Details.UploadError, cfg.SecretAccessKey) || res.Details.UploadError == "" {
			t.Fatalf("stored reason: %q", res.Details.UploadError)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		cfg := base
		cfg.SecretAccessKey = "wrong-secret-0123456789abcdefghij"
		up := newUploader(t, cfg, Options{})
		res := runFolder(t, 1, 0)
		err := up.UploadRun(ctx, res)
		want := "upload failed: the server refused the secret access key (the request signature does not match): check upload.secret_access_key ("
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), up.RunPrefix(res)) {
			t.Fatalf("error: %v", err)
		}
		if res.Details.UploadError != strings.TrimPrefix(err.Error(), "upload failed: ") {
			t.Fatalf("stored reason %q, error %q", res.Details.UploadError, err)
		}
	})
}

// hungServer accepts connections and never answers: a fault no real
// server produces on demand.
func hungServer(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), &accepted
}

// A server that never answers holds an upload for its time limit, no
// longer; an interrupt ends it at once. Either way it is pending, with
// the reason, and exits as an upload failure or as an interrupt.
func TestUploadHungServer(t *testing.T) {
	ep, accepted := hungServer(t)
	cfg := artifact.S3Config{Endpoint: ep, Bucket: "b", AccessKeyID: "key-id", SecretAccessKey: "the-secret", PathStyle: true}

	up := newUploader(t, cfg, Options{Timeout: time.Second})
	res := runFolder(t, 2, 0)
	before := snapshot(t, res.RunDir)
	err := up.UploadRun(context.Background(), res)
	if !errors.Is(err, ErrFailed) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want an upload failure, neither a timeout of the run nor an interrupt", err)
	}
	if res.UploadStatus != store.UploadPending || !strings.Contains(res.Details.UploadError, "gave up after 1s (upload.timeout)") {
		t.Fatalf("status %q, reason %q", res.UploadStatus, res.Details.UploadError)
	}
	sameFiles(t, before, snapshot(t, res.RunDir))

	up = newUploader(t, cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	n := accepted.Load()
	go func() {
		for accepted.Load() <= n {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	err = up.UploadRun(ctx, res)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want an interrupted upload", err)
	}
	if res.UploadStatus != store.UploadPending || !strings.Contains(res.Details.UploadError, "interrupted") {
		t.Fatalf("status %q, reason %q", res.UploadStatus, res.Details.UploadError)
	}
}

// rawClient talks to the test server directly.
func rawClient(cfg artifact.S3Config) *s3.Client {
	return s3.New(s3.Options{Region: "auto", BaseEndpoint: aws.String(cfg.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
}

func unfinished(t testing.TB, cfg artifact.S3Config, prefix string) []string {
	t.Helper()
	out, err := rawClient(cfg).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(cfg.Bucket), Prefix: aws.String(prefix + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// What a killed upload left on the server (a multipart upload nobody will
// complete) goes with the next upload of the run.
func TestUploadAbortsWhatAKilledUploadLeft(t *testing.T) {
	cfg := s3Server(t)
	up := newUploader(t, cfg, Options{Prefix: fmt.Sprintf("killed%d", time.Now().UnixNano())})
	res := runFolder(t, 1, 0)
	prefix := up.RunPrefix(res)
	_, err := rawClient(cfg).CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String(prefix + "/video.mp4")})
	if err != nil {
		t.Fatal(err)
	}
	if left := unfinished(t, cfg, prefix); len(left) != 1 {
		t.Fatalf("setup: %v", left)
	}
	if err := up.UploadRun(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	if left := unfinished(t, cfg, prefix); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
}

// Publish marks the row pending before the first byte and records the
// outcome after, the reason included.
func TestPublishRecords(t *testing.T) {
	cfg := s3Server(t)
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res := runFolder(t, 2, 0)
	if err := st.CreateResult(context.Background(), res); err != nil {
		t.Fatal(err)
	}

	fp := newFaultProxy(t, cfg.Endpoint)
	var rowDuringUpload atomic.Value
	seeRow := func(r *http.Request) bool {
		if r.Method == http.MethodPut && rowDuringUpload.Load() == nil {
			row, _ := st.GetResult(context.Background(), res.ID)
			rowDuringUpload.Store(row.UploadStatus)
		}
		return strings.HasSuffix(r.URL.Path, "/report.html")
	}
	fp.refuse.Store(&seeRow)
	c := cfg
	c.Endpoint = fp.srv.URL
	up := newUploader(t, c, Options{Prefix: fmt.Sprintf("publish%d", time.Now().UnixNano())})
	if err := up.Publish(context.Background(), st, res); !errors.Is(err, ErrFailed) {
		t.Fatalf("error %v", err)
	}
	if got := rowDuringUpload.Load(); got != store.UploadPending {
		t.Fatalf("row during the upload: %q, want pending", got)
	}
	row, _ := st.GetResult(context.Background(), res.ID)
	if row.UploadStatus != store.UploadPending || !strings.Contains(row.Details.UploadError, "access denied") {
		t.Fatalf("row after: %q %q", row.UploadStatus, row.Details.UploadError)
	}

	fp.refuse.Store(nil)
	if _, skipped, _ := Pending(context.Background(), st, func(r *store.Result) bool { return true }); len(skipped) != 1 ||
		!strings.Contains(skipped[0].Why, "may still be uploading it") {
		t.Fatalf("a run in use: %+v", skipped)
	}
	runs, skipped, err := Pending(context.Background(), st, func(r *store.Result) bool { return false })
	if err != nil || len(runs) != 1 || len(skipped) != 0 {
		t.Fatalf("pending: %d, skipped %d, %v", len(runs), len(skipped), err)
	}
	out, err := up.Republish(context.Background(), st, runs, t.TempDir(), nil)
	if err != nil || len(out) != 1 || out[0].Err != nil {
		t.Fatalf("republish: %+v %v", out, err)
	}
	row, _ = st.GetResult(context.Background(), res.ID)
	if row.UploadStatus != store.UploadDone || row.Details.UploadError != "" || row.HTMLReportR2URL == "" {
		t.Fatalf("row after the retry: %+v", row)
	}
	if runs, skipped, _ := Pending(context.Background(), st, nil); len(runs)+len(skipped) != 0 {
		t.Fatal("an uploaded run is still pending")
	}
}

// An opt-in check against real Cloudflare R2 (over HTTPS, where the SDK's
// checksum behaviour differs from plain HTTP).
func TestLiveR2(t *testing.T) {
	ep := os.Getenv("VPT_TEST_R2_ENDPOINT")
	if ep == "" {
		t.Skip("set VPT_TEST_R2_ENDPOINT, VPT_TEST_R2_BUCKET, VPT_TEST_R2_ACCESS_KEY_ID, VPT_TEST_R2_SECRET_ACCESS_KEY to run against R2")
	}
	up := newUploader(t, artifact.S3Config{Endpoint: ep, Bucket: os.Getenv("VPT_TEST_R2_BUCKET"), Region: "auto",
		AccessKeyID: os.Getenv("VPT_TEST_R2_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("VPT_TEST_R2_SECRET_ACCESS_KEY"),
		Presign: time.Hour}, Options{Prefix: "vpt-live-test"})
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
