package artifact_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/report/artifact"
	"github.com/vpt-dev/vpt/report/artifact/artifacttest"
)

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	st, err := artifact.NewFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	artifacttest.Run(t, artifacttest.Harness{
		Store: st, Prefix: "suite", Large: artifact.MultipartThreshold + 1,
		StartIncomplete: func(t *testing.T, key string) {
			p := filepath.Join(dir, filepath.FromSlash(key))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".123.part"), []byte("half"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		Incomplete: func(t *testing.T, prefix string) int {
			n := 0
			filepath.Walk(filepath.Join(dir, filepath.FromSlash(prefix)), func(p string, info os.FileInfo, err error) error {
				if err == nil && strings.HasSuffix(p, ".part") {
					n++
				}
				return nil
			})
			return n
		},
	})
}

func TestFolderPublicURL(t *testing.T) {
	st, _ := artifact.NewFolder(t.TempDir(), "https://lab.example/vpt/")
	got, _ := st.URL(context.Background(), "script-reports/x y/report.html")
	if got != "https://lab.example/vpt/script-reports/x%20y/report.html" {
		t.Fatal(got)
	}
}

// s3Config is the S3-compatible server scripts/test starts (versitygw,
// which checks signatures as R2 does). Without it the S3 tests are
// skipped, except in CI (VPT_REQUIRE_SERVICES=1), where they fail.
func s3Config(t testing.TB) artifact.S3Config {
	t.Helper()
	ep := testenv.Server(t, "VPT_TEST_S3_ENDPOINT", "versitygw, an S3 server")
	return artifact.S3Config{Endpoint: ep, Bucket: os.Getenv("VPT_TEST_S3_BUCKET"), Region: "auto",
		AccessKeyID: os.Getenv("VPT_TEST_S3_ACCESS_KEY"), SecretAccessKey: os.Getenv("VPT_TEST_S3_SECRET_KEY"),
		PathStyle: true, Concurrency: 8, Presign: time.Hour}
}

// rawClient talks to the test server directly, to see what the store
// under test cannot tell about itself.
func rawClient(cfg artifact.S3Config) *s3.Client {
	return s3.New(s3.Options{Region: "auto", BaseEndpoint: aws.String(cfg.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
}

// unfinished lists the multipart uploads under prefix, on the server.
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

func uniquePrefix(name string) string { return fmt.Sprintf("%s-%d", name, time.Now().UnixNano()) }

func TestS3(t *testing.T) {
	cfg := s3Config(t)
	st, err := artifact.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	artifacttest.Run(t, artifacttest.Harness{
		Store: st, Prefix: uniquePrefix("suite"), Large: artifact.MultipartThreshold + 3<<20 + 17,
		StartIncomplete: func(t *testing.T, key string) {
			c := rawClient(cfg)
			up, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key),
				UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("half"), ContentLength: aws.Int64(4)}); err != nil {
				t.Fatal(err)
			}
		},
		Incomplete: func(t *testing.T, prefix string) int { return len(unfinished(t, cfg, prefix)) },
	})
}

func TestS3PublicURL(t *testing.T) {
	st, err := artifact.NewS3(artifact.S3Config{Endpoint: "http://127.0.0.1:1", Bucket: "b", AccessKeyID: "k", SecretAccessKey: "s",
		PublicURL: "https://pub-0123.r2.dev/"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.URL(context.Background(), "script-reports/x/report.html")
	if got != "https://pub-0123.r2.dev/script-reports/x/report.html" {
		t.Fatal(got)
	}
}

func TestS3MissingSettings(t *testing.T) {
	_, err := artifact.NewS3(artifact.S3Config{Bucket: "b"})
	if err == nil || !strings.Contains(err.Error(), "endpoint, access key id, secret access key") {
		t.Fatalf("%v", err)
	}
}

// Each way of getting the settings wrong gives its own reason, with no
// secret in it.
func TestS3Reasons(t *testing.T) {
	base := s3Config(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		name string
		edit func(*artifact.S3Config)
		want string
	}{
		{"wrong secret", func(c *artifact.S3Config) { c.SecretAccessKey = "wrong-secret-0123456789abcdefghij" }, "refused the secret access key"},
		{"unknown key id", func(c *artifact.S3Config) { c.AccessKeyID = "AKIAWRONGWRONGWRONG1" }, "does not know the access key id"},
		{"missing bucket", func(c *artifact.S3Config) { c.Bucket = "no-such-bucket-here" }, "bucket no-such-bucket-here does not exist at " + base.Endpoint},
		{"dead endpoint", func(c *artifact.S3Config) { c.Endpoint = dead }, "nothing answers at " + dead + " (connection refused)"},
		{"unknown host", func(c *artifact.S3Config) { c.Endpoint = "http://no-such-host.invalid" }, "cannot find the host of http://no-such-host.invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.edit(&cfg)
			st, _ := artifact.NewS3(cfg)
			err := st.PutBytes(context.Background(), uniquePrefix("reasons")+"/x.txt", []byte("x"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), cfg.SecretAccessKey) || strings.Contains(fmt.Sprint(errors.Unwrap(err)), cfg.SecretAccessKey) {
				t.Fatal("the secret is in the error")
			}
			if c.name != "wrong secret" && c.name != "unknown key id" {
				if cerr := st.Check(context.Background()); cerr == nil {
					t.Fatal("Check passed")
				}
			}
		})
	}
}

// hungServer accepts connections and never answers: a fault no real
// server produces on demand.
func hungServer(t *testing.T) (endpoint string, accepted *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	t.Cleanup(func() { close(done); ln.Close() })
	return "http://" + ln.Addr().String(), accepted
}

// A server that never answers holds a put only as long as its context.
func TestS3HungServer(t *testing.T) {
	ep, accepted := hungServer(t)
	st, _ := artifact.NewS3(artifact.S3Config{Endpoint: ep, Bucket: "b", AccessKeyID: "k", SecretAccessKey: "s", PathStyle: true})
	file := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(file, make([]byte, artifact.MultipartThreshold), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := st.PutFile(ctx, "k/big.bin", file)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "out of time") {
		t.Fatalf("deadline: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		for accepted.Load() < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	err = st.PutBytes(ctx, "k/small.txt", []byte("x"))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("cancel: %v", err)
	}
}

// faultProxy passes requests to the S3 server and misbehaves on demand.
type faultProxy struct {
	srv *httptest.Server
	// fail answers a request with an error status when it returns one.
	fail  atomic.Pointer[func(r *http.Request) int]
	parts atomic.Int64 // UploadPart requests seen
	// hold blocks UploadPart requests until the client gives up.
	hold atomic.Bool
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	fp := &faultProxy{}
	fp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isPart := r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
		if isPart {
			fp.parts.Add(1)
			if fp.hold.Load() {
				// The whole body first: only then does the server notice
				// that the client hung up.
				io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
				return
			}
		}
		if f := fp.fail.Load(); f != nil {
			if code := (*f)(r); code != 0 {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(code)
				fmt.Fprint(w, "<Error><Code>InvalidRequest</Code><Message>injected</Message></Error>")
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(fp.srv.Close)
	return fp
}

// A multipart upload that fails or is cancelled half-way is aborted: the
// server keeps no unfinished upload.
func TestS3FailedMultipartIsAborted(t *testing.T) {
	base := s3Config(t)
	file := filepath.Join(t.TempDir(), "video.mp4")
	os.WriteFile(file, make([]byte, 5*8<<20), 0o644)

	t.Run("a part refused", func(t *testing.T) {
		fp := newFaultProxy(t, base.Endpoint)
		failPart3 := func(r *http.Request) int {
			if r.URL.Query().Get("partNumber") == "3" {
				return 400
			}
			return 0
		}
		fp.fail.Store(&failPart3)
		cfg := base
		cfg.Endpoint = fp.srv.URL
		st, _ := artifact.NewS3(cfg)
		prefix := uniquePrefix("refused")
		err := st.PutFile(context.Background(), prefix+"/video.mp4", file)
		if err == nil || !strings.Contains(err.Error(), "InvalidRequest") {
			t.Fatalf("error %v", err)
		}
		if left := unfinished(t, base, prefix); len(left) != 0 {
			t.Fatalf("unfinished uploads left: %v", left)
		}
	})

	t.Run("cancelled mid-way", func(t *testing.T) {
		fp := newFaultProxy(t, base.Endpoint)
		fp.hold.Store(true)
		cfg := base
		cfg.Endpoint = fp.srv.URL
		st, _ := artifact.NewS3(cfg)
		prefix := uniquePrefix("cancelled")
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for fp.parts.Load() < 2 {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		err := st.PutFile(ctx, prefix+"/video.mp4", file)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
		if left := unfinished(t, base, prefix); len(left) != 0 {
			t.Fatalf("unfinished uploads left: %v", left)
		}
	})

	t.Run("server gone mid-way, cleaned up by the next abort", func(t *testing.T) {
		fp := newFaultProxy(t, base.Endpoint)
		down := func(r *http.Request) int {
			if r.URL.Query().Has("partNumber") || r.Method == http.MethodDelete {
				return 503
			}
			return 0
		}
		fp.fail.Store(&down)
		cfg := base
		cfg.Endpoint = fp.srv.URL
		st, _ := artifact.NewS3(cfg)
		prefix := uniquePrefix("gone")
		if err := st.PutFile(context.Background(), prefix+"/video.mp4", file); err == nil {
			t.Fatal("no error")
		}
		if left := unfinished(t, base, prefix); len(left) != 1 {
			t.Fatalf("%v: the abort could not reach the server, one upload should be left", left)
		}
		fp.fail.Store(nil)
		if n, err := st.AbortIncomplete(context.Background(), prefix); n != 1 || err != nil {
			t.Fatalf("AbortIncomplete: %d %v", n, err)
		}
		if left := unfinished(t, base, path.Join(prefix)); len(left) != 0 {
			t.Fatalf("left: %v", left)
		}
	})
}

func TestContentTypes(t *testing.T) {
	for name, want := range map[string]string{"a/report.html": "text/html; charset=utf-8", "x.ts": "video/mp2t",
		"index.m3u8": "application/vnd.apple.mpegurl", "output.log": "text/plain; charset=utf-8", "a.bin": "application/octet-stream"} {
		if got := artifact.ContentType(name); got != want {
			t.Errorf("%s: %s", name, got)
		}
	}
}
