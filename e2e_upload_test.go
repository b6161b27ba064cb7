package main

// Uploads at their edges: interrupted, out of time, refused, killed, and a
// private bucket's report opened in a browser.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vpt-dev/vpt/store"
)

// stalledS3 accepts connections and never answers: a hung server, which
// the real one cannot play on demand.
func stalledS3(t *testing.T) (endpoint string, accepted *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	conns := make(chan net.Conn, 1000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), accepted
}

// pendingRun makes a passed run whose upload failed (the endpoint was
// dead): a row to upload again.
func pendingRun(t *testing.T, p *project, env []string) store.Result {
	t.Helper()
	p.vptEnv(append(append([]string(nil), env...), "CLOUDFLARE_R2_ENDPOINT=http://127.0.0.1:1"), "run", "ok", "--upload").expect(t, 3)
	rows := p.results()
	if len(rows) != 1 || rows[0].UploadStatus != store.UploadPending {
		t.Fatalf("rows %+v", rows)
	}
	return rows[0]
}

// bigPendingRun is pendingRun with a large file in its folder, to go up
// in parts, under a key prefix of its own.
func bigPendingRun(t *testing.T, p *project, tag string) (prefix string, env []string, r store.Result) {
	t.Helper()
	prefix = fmt.Sprintf("%s-%d", tag, time.Now().UnixNano())
	env = uploadEnv(t, prefix)
	r = pendingRun(t, p, env)
	big := bytes.Repeat([]byte("0123456789abcdef"), 24<<20/16)
	if err := os.WriteFile(filepath.Join(r.RunDir, "capture.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return prefix, env, r
}

// row reads one row from the project's store.
func (p *project) row(t *testing.T, id string) *store.Result {
	t.Helper()
	st := p.store()
	defer st.Close()
	r, err := st.GetResult(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The first Ctrl-C stops an upload at once: exit 130, the run pending,
// "interrupted" as its reason.
func TestUploadInterrupted(t *testing.T) {
	p := campaignProject(t)
	env := uploadEnv(t, fmt.Sprintf("int-%d", time.Now().UnixNano()))
	r := pendingRun(t, p, env)
	hung, accepted := stalledS3(t)
	cmd := exec.Command(vptBin, "report", "upload", r.ID)
	cmd.Dir, cmd.Env = p.dir, append(append(append([]string{}, p.env...), env...), "CLOUDFLARE_R2_ENDPOINT="+hung)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return accepted.Load() > 0 })
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, cmd, time.Minute); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, out.String())
	}
	row := p.row(t, r.ID)
	if row.UploadStatus != store.UploadPending || row.Details.UploadError != "interrupted" {
		t.Fatalf("row: %q %q", row.UploadStatus, row.Details.UploadError)
	}
}

// waitExit waits for a command, killing it after limit (a hang is a
// failure, not a slow pass).
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("vpt %v still running after %s", cmd.Args[1:], limit)
		return -1
	}
}

// A hung server holds a run's upload for upload.timeout, not for the
// SDK's retries of its per-request timeout (5 x 60 s).
func TestUploadTimeLimit(t *testing.T) {
	p := campaignProject(t)
	env := uploadEnv(t, fmt.Sprintf("limit-%d", time.Now().UnixNano()))
	hung, _ := stalledS3(t)
	cmd := exec.Command(vptBin, "run", "ok", "--upload")
	cmd.Dir, cmd.Env = p.dir, append(append(append([]string{}, p.env...), env...), "CLOUDFLARE_R2_ENDPOINT="+hung, "VPT_UPLOAD_TIMEOUT=2s")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 90*time.Second); code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "gave up after 2s (upload.timeout)") {
		t.Fatalf("output lacks the reason:\n%s", out.String())
	}
	rows := p.results()
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	if row := p.row(t, rows[0].ID); row.UploadStatus != store.UploadPending || !strings.Contains(row.Details.UploadError, "upload.timeout") {
		t.Fatalf("row: %q %q", row.UploadStatus, row.Details.UploadError)
	}
	p.vptEnv(append(env, "VPT_UPLOAD_TIMEOUT=0s"), "run", "ok", "--upload").expect(t, 2, "VPT_UPLOAD_TIMEOUT: 0s")
}

// Why an upload failed is said, stored and shown, with no secret in it.
func TestUploadFailureReasons(t *testing.T) {
	env := uploadEnv(t, fmt.Sprintf("why-%d", time.Now().UnixNano()))
	secret := os.Getenv("VPT_TEST_S3_SECRET_KEY")
	for _, c := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"wrong secret", []string{"CLOUDFLARE_R2_SECRET_ACCESS_KEY=" + secret + "-not"}, "the server refused the secret access key"},
		{"missing bucket", []string{"VPT_UPLOAD_BUCKET=no-such-bucket"}, "bucket no-such-bucket does not exist at " + os.Getenv("VPT_TEST_S3_ENDPOINT")},
		{"dead endpoint", []string{"CLOUDFLARE_R2_ENDPOINT=http://127.0.0.1:1"}, "nothing answers at http://127.0.0.1:1 (connection refused)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := campaignProject(t)
			all := append(append([]string(nil), env...), c.extra...)
			r := p.vptEnv(all, "run", "ok", "--upload")
			r.expect(t, 3, c.want, "--pending")
			rows := p.results()
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			if row := p.row(t, rows[0].ID); !strings.Contains(row.Details.UploadError, c.want) {
				t.Fatalf("stored reason: %q", row.Details.UploadError)
			}
			show := p.vptEnv(all, "report", "show", "latest")
			show.expect(t, 0, "upload error", c.want)
			js := p.vptEnv(all, "report", "show", "latest", "--json")
			js.expect(t, 0, `"upload_error": "`)
			retry := p.vptEnv(all, "report", "upload", "--pending")
			retry.expect(t, 3, c.want)
			for _, text := range []string{r.stdout, r.stderr, show.stdout, js.stdout, retry.stderr} {
				if strings.Contains(text, secret) {
					t.Fatal("the secret was printed")
				}
			}
		})
	}
}

// killProxy forwards to the S3 server and tells when a request it waits
// for arrives, holding that request until the client is gone.
type killProxy struct {
	srv  *httptest.Server
	when atomic.Pointer[func(*http.Request) bool]
	hit  chan struct{}
	// active counts the requests not answered yet: once a killed client's
	// are all answered, the server is done with its parts (one still
	// being written could bring back a multipart upload aborted meanwhile).
	active atomic.Int64
}

// settle waits until the server answered every request sent through kp.
func (kp *killProxy) settle(t *testing.T) {
	t.Helper()
	waitFor(t, func() bool { return kp.active.Load() == 0 })
}

func newKillProxy(t *testing.T, target string) *killProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	kp := &killProxy{hit: make(chan struct{}, 1)}
	kp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kp.active.Add(1)
		defer kp.active.Add(-1)
		if f := kp.when.Load(); f != nil && (*f)(r) {
			io.Copy(io.Discard, r.Body)
			select {
			case kp.hit <- struct{}{}:
			default:
			}
			<-r.Context().Done()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(kp.srv.Close)
	return kp
}

// fileStates hashes the files of a folder with their inodes: a rewrite
// shows even when it puts the same bytes back.
func fileStates(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = fmt.Sprintf("%x %d", sha256.Sum256(b), info.Sys().(*syscall.Stat_t).Ino)
		}
		return nil
	})
	return out
}

// kill -9 in the middle of an upload, at two moments: a part of the large
// file on its way, and the report last of all. Either way the local files
// are as they were, the row stays pending, and the next `report upload
// --pending` uploads it and leaves no unfinished multipart upload.
func TestUploadKilled(t *testing.T) {
	for _, moment := range []struct {
		name string
		when func(*http.Request) bool
	}{
		{"during a part", func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }},
		{"during the report", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/report.html")
		}},
	} {
		t.Run(moment.name, func(t *testing.T) {
			p := campaignProject(t)
			prefix, env, r := bigPendingRun(t, p, "killed")
			before := fileStates(t, r.RunDir)

			kp := newKillProxy(t, os.Getenv("VPT_TEST_S3_ENDPOINT"))
			kp.when.Store(&moment.when)
			cmd := exec.Command(vptBin, "report", "upload", r.ID)
			cmd.Dir, cmd.Env = p.dir, append(append(append([]string{}, p.env...), env...), "CLOUDFLARE_R2_ENDPOINT="+kp.srv.URL)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-kp.hit:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				t.Fatalf("the upload never reached the moment:\n%s", out.String())
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			kp.settle(t)

			if after := fileStates(t, r.RunDir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("local files changed by an upload that did not finish:\nbefore %v\nafter  %v", before, after)
			}
			if row := p.row(t, r.ID); row.UploadStatus != store.UploadPending || row.HTMLReportR2URL != "" {
				t.Fatalf("row after kill -9: %q %q", row.UploadStatus, row.HTMLReportR2URL)
			}
			p.vptEnv(env, "report", "upload", "--pending").expect(t, 0, "uploaded "+r.ID[:8])
			row := p.row(t, r.ID)
			if row.UploadStatus != store.UploadDone || row.Details.UploadError != "" {
				t.Fatalf("row after the retry: %q %q", row.UploadStatus, row.Details.UploadError)
			}
			if left := multipartUploads(t, prefix); len(left) != 0 {
				t.Fatalf("unfinished multipart uploads left on the server: %v", left)
			}
		})
	}
}

// multipartUploads lists the unfinished multipart uploads under prefix, on
// the test server.
func multipartUploads(t *testing.T, prefix string) []string {
	t.Helper()
	c := s3.New(s3.Options{Region: "auto", BaseEndpoint: aws.String(os.Getenv("VPT_TEST_S3_ENDPOINT")), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("VPT_TEST_S3_ACCESS_KEY"), os.Getenv("VPT_TEST_S3_SECRET_KEY"), "")})
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(os.Getenv("VPT_TEST_S3_BUCKET")), Prefix: aws.String(prefix + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// linkCheck fetches, from the page, every link of the report to a file of
// the run (output.log, result.json, the video, screenshots) and returns
// the ones that do not answer 200.
const linkCheck = `
var done = arguments[arguments.length - 1];
var links = Array.prototype.slice.call(document.querySelectorAll(".files a, .log-tools a, [data-shot]"))
  .map(function (a) { return a.href || new URL(a.dataset.shot, location.href).href; });
Promise.all(links.map(function (u) {
  return fetch(u).then(function (r) { return r.status === 200 ? null : r.status + " " + u; }, function (e) { return String(e) + " " + u; });
})).then(function (bad) { done({links: links.length, bad: bad.filter(Boolean)}); });`

// A report shared by presigned URL from a private bucket works in a
// browser: every image, the video, the files it links.
func TestPresignedReportInBrowser(t *testing.T) {
	needTools(t, "ffmpeg")
	p := examplesProject(t)
	env := uploadEnv(t, fmt.Sprintf("browser-%d", time.Now().UnixNano()))
	p.vptEnv(append(env, "VPT_VIDEO_MODE=on"), "run", "goto", "--upload", "--", "--node", "live").expect(t, 0)
	res := p.only()
	if !strings.Contains(res.HTMLReportR2URL, "X-Amz-Signature") {
		t.Fatalf("not presigned: %s", res.HTMLReportR2URL)
	}
	// Relative links do not work from a private bucket: the bucket answers
	// an object only to its own signed URL.
	u, _ := url.Parse(res.HTMLReportR2URL)
	u.RawQuery, u.Path = "", strings.TrimSuffix(u.Path, "report.html")+"output.log"
	if resp, err := http.Get(u.String()); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("the test bucket is public: this test needs a private one")
		}
	}
	wd := startBrowser(t)
	wd.call("POST", wd.s("/url"), map[string]string{"url": res.HTMLReportR2URL}, nil)
	var st pageState
	wd.call("POST", wd.s("/execute/async"), map[string]any{"script": inspect, "args": []any{}}, &st)
	wd.screenshot(t, "presigned-report.png")
	if len(st.BrokenImages) > 0 || st.Images < 3 {
		t.Fatalf("%d images, broken: %v", st.Images, st.BrokenImages)
	}
	if st.VideoError != "" || !(st.VideoDuration > 0) {
		t.Fatalf("video: duration %v, error %q", st.VideoDuration, st.VideoError)
	}
	if !st.ViewerOpens {
		t.Fatal("the screenshot viewer does not open")
	}
	var links struct {
		Links int      `json:"links"`
		Bad   []string `json:"bad"`
	}
	wd.call("POST", wd.s("/execute/async"), map[string]any{"script": linkCheck, "args": []any{}}, &links)
	if links.Links < 4 || len(links.Bad) > 0 {
		t.Fatalf("%d links, failing: %v", links.Links, links.Bad)
	}
	for _, e := range wd.consoleErrors(t) {
		// The browser asks the bucket's root for an icon; not the report's.
		if !strings.Contains(e, "/favicon.ico") {
			t.Fatalf("console error: %v", e)
		}
	}
}

// upload.endpoint may be a folder (a share, a web server's root): the same
// layout, URLs under upload.public_url.
func TestUploadToFolder(t *testing.T) {
	p := campaignProject(t)
	dir := filepath.Join(p.dir, "published")
	env := []string{"VPT_UPLOAD_ENDPOINT=file://" + dir, "VPT_UPLOAD_PUBLIC_URL=https://lab.example/vpt"}
	r := p.vptEnv(env, "run", "ok", "--upload")
	r.expect(t, 0, "https://lab.example/vpt/script-reports/virtual/ok_")
	res := p.only()
	if res.UploadStatus != store.UploadDone {
		t.Fatalf("status %q", res.UploadStatus)
	}
	for _, f := range []string{"report.html", "result.json", "output.log"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.Dir(res.HTMLReportR2Path), f)); err != nil {
			t.Fatal(err)
		}
	}
	p.vptEnv(env, "doctor").expect(t, 0, "folder "+dir)
}

// kill -9 of `vpt run --upload` while a part is on its way: the row is
// pending (marked before the first byte), and the next `report upload
// --pending` uploads the run and leaves no unfinished multipart upload.
func TestRunUploadKilled(t *testing.T) {
	p := campaignProject(t)
	p.write("test_scripts/big.py", `import os
with open(os.path.join(os.environ["VPT_RESULTS_DIR"], "capture.bin"), "wb") as f:
    f.write(os.urandom(24 << 20))
`)
	prefix := fmt.Sprintf("runkilled-%d", time.Now().UnixNano())
	env := uploadEnv(t, prefix)
	kp := newKillProxy(t, os.Getenv("VPT_TEST_S3_ENDPOINT"))
	secondPart := func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }
	kp.when.Store(&secondPart)
	cmd := exec.Command(vptBin, "run", "big", "--upload")
	cmd.Dir, cmd.Env = p.dir, append(append(append([]string{}, p.env...), env...), "CLOUDFLARE_R2_ENDPOINT="+kp.srv.URL)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kp.hit:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the upload never reached its second part:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	kp.settle(t)
	rows := p.results()
	if len(rows) != 1 || rows[0].UploadStatus != store.UploadPending || rows[0].Status != store.StatusPassed {
		t.Fatalf("rows after kill -9: %+v", rows)
	}
	if left := multipartUploads(t, prefix); len(left) != 1 {
		t.Fatalf("the killed upload should have left its multipart upload: %v", left)
	}
	p.vptEnv(env, "report", "upload", "--pending").expect(t, 0, "uploaded "+rows[0].ID[:8])
	if row := p.row(t, rows[0].ID); row.UploadStatus != store.UploadDone {
		t.Fatalf("row after the retry: %q", row.UploadStatus)
	}
	if left := multipartUploads(t, prefix); len(left) != 0 {
		t.Fatalf("unfinished multipart uploads left on the server: %v", left)
	}
}

// A run's device is released before its upload: a hung S3 server does not
// hold it.
func TestUploadDoesNotHoldTheDevice(t *testing.T) {
	p := campaignProject(t)
	env := uploadEnv(t, fmt.Sprintf("free-%d", time.Now().UnixNano()))
	hung, accepted := stalledS3(t)
	cmd := exec.Command(vptBin, "run", "ok", "--upload")
	cmd.Dir, cmd.Env = p.dir, append(append(append([]string{}, p.env...), env...), "CLOUDFLARE_R2_ENDPOINT="+hung, "VPT_UPLOAD_TIMEOUT=60s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, func() bool { return accepted.Load() > 0 })
	p.vpt("run", "ok", "--no-wait").expect(t, 0, "PASSED")
	if cmd.ProcessState != nil {
		t.Fatal("the uploading run ended already; the test proves nothing")
	}
}

// A symbolic link a script leaves in its run folder is not followed out of
// it by the upload: a link to a secret-holding file is not published, and
// a link to a folder does not leave the run pending for ever.
func TestUploadFollowsNoLink(t *testing.T) {
	p := campaignProject(t)
	secret := p.write("secret.txt", "SUPERSECRETVALUE\n")
	p.write("test_scripts/links.py", `import os
d = os.environ["VPT_RESULTS_DIR"]
os.symlink(`+"\""+secret+"\""+`, os.path.join(d, "leak.txt"))
os.symlink("/etc", os.path.join(d, "etc"))
open(os.path.join(d, "mine.txt"), "w").write("kept\n")
`)
	dir := filepath.Join(p.dir, "published")
	env := []string{"VPT_UPLOAD_ENDPOINT=file://" + dir, "VPT_UPLOAD_PUBLIC_URL=https://lab.example/vpt"}
	p.vptEnv(env, "run", "links", "--upload").expect(t, 0)
	res := p.only()
	if res.UploadStatus != store.UploadDone {
		t.Fatalf("upload status %q", res.UploadStatus)
	}
	published := filepath.Join(dir, filepath.Dir(res.HTMLReportR2Path))
	if _, err := os.Stat(filepath.Join(published, "mine.txt")); err != nil {
		t.Fatal("the run's own file was not published")
	}
	for _, f := range []string{"leak.txt", "etc"} {
		if _, err := os.Lstat(filepath.Join(published, f)); err == nil {
			t.Fatalf("%s, a link out of the run folder, was published", f)
		}
	}
}

// prune --remote deletes the uploaded report of a campaign whose runs it
// deletes all (it stayed, linking to deleted runs).
func TestPruneRemoteCampaignReports(t *testing.T) {
	p := campaignProject(t)
	dir := filepath.Join(p.dir, "published")
	env := []string{"VPT_UPLOAD_ENDPOINT=file://" + dir, "VPT_UPLOAD_PUBLIC_URL=https://lab.example/vpt"}
	p.write("c.yaml", "campaign_id: pr\nname: PR\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: ok}\n")
	p.vptEnv(env, "campaign", "c.yaml", "--upload").expect(t, 0)
	reports, _ := filepath.Glob(filepath.Join(dir, "campaign-reports", "*", "index.html"))
	if len(reports) != 1 {
		t.Fatalf("uploaded campaign reports: %v", reports)
	}
	p.vptEnv(env, "report", "prune", "--older-than", "0s", "--remote").expect(t, 0, "deleted 2")
	if _, err := os.Stat(filepath.Dir(reports[0])); err == nil {
		t.Fatal("the uploaded report of a campaign pruned whole survived prune --remote")
	}
	if runs, _ := filepath.Glob(filepath.Join(dir, "script-reports", "*", "*")); len(runs) != 0 {
		t.Fatalf("uploaded runs left: %v", runs)
	}
}

// holdProxy forwards to the S3 server, holding the first request it waits
// for until release is closed, then forwarding it as it came.
type holdProxy struct {
	srv     *httptest.Server
	hit     chan struct{}
	release chan struct{}
}

func newHoldProxy(t *testing.T, target string, when func(*http.Request) bool) *holdProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	hp := &holdProxy{hit: make(chan struct{}), release: make(chan struct{})}
	var once atomic.Bool
	hp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if when(r) && once.CompareAndSwap(false, true) {
			body, _ := io.ReadAll(r.Body)
			close(hp.hit)
			select {
			case <-hp.release:
			case <-r.Context().Done():
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(hp.srv.Close)
	return hp
}

// Two `report upload --pending` at once (two CI jobs, a cron and a
// person): the second waits for the first instead of aborting its
// multipart upload under it, which failed the first and left the run
// pending although it was uploaded. Both exit 0; the run is uploaded.
func TestConcurrentPendingUploads(t *testing.T) {
	p := campaignProject(t)
	prefix, env, r := bigPendingRun(t, p, "twice")
	hp := newHoldProxy(t, os.Getenv("VPT_TEST_S3_ENDPOINT"), func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" })
	first := exec.Command(vptBin, "report", "upload", "--pending")
	first.Dir, first.Env = p.dir, append(append(append([]string{}, p.env...), env...), "CLOUDFLARE_R2_ENDPOINT="+hp.srv.URL)
	var out1 syncBuffer
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	select {
	case <-hp.hit:
	case <-time.After(time.Minute):
		t.Fatalf("the first upload never sent its second part:\n%s", out1.String())
	}
	second, out2 := p.background(t, env, "", "report", "upload", "--pending")
	exited := make(chan int, 1)
	go func() { second.Wait(); exited <- second.ProcessState.ExitCode() }()
	waited := func() bool { return strings.Contains(out2.String(), "waiting") }
	for !waited() {
		select {
		case code := <-exited:
			close(hp.release)
			t.Fatalf("the second upload ran beside the first (exit %d):\n%s\nthe first: exit %d\n%s",
				code, out2.String(), waitExit(t, first, time.Minute), out1.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// A third, interrupted while it waits: exit 130, as any interrupted
	// upload (it was 3, an upload failure).
	third, out3 := p.background(t, env, "waiting", "report", "upload", r.ID)
	third.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, third, time.Minute); code != 130 {
		t.Fatalf("the interrupted waiter: exit %d, want 130\n%s", code, out3.String())
	}
	close(hp.release)
	if code := waitExit(t, first, 2*time.Minute); code != 0 {
		t.Fatalf("the first upload: exit %d\n%s", code, out1.String())
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("the second upload: exit %d\n%s", code, out2.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the second upload still runs after the first ended:\n%s", out2.String())
	}
	if row := p.row(t, r.ID); row.UploadStatus != store.UploadDone || row.Details.UploadError != "" {
		t.Fatalf("row: %q %q", row.UploadStatus, row.Details.UploadError)
	}
	if left := multipartUploads(t, prefix); len(left) != 0 {
		t.Fatalf("unfinished multipart uploads left on the server: %v", left)
	}
}
