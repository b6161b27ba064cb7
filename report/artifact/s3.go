package artifact

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Provider limits and choices.
const (
	// MaxPresign is R2's longest presigned URL (7 days).
	MaxPresign = 7 * 24 * time.Hour
	// MultipartThreshold: files this large go up in parts, several at once.
	MultipartThreshold = 16 << 20
	// partSize of multipart uploads (S3's minimum is 5 MiB).
	partSize = 8 << 20
	// retryAttempts per request: transient errors (5xx, throttling, a
	// dropped connection) are retried with backoff by the SDK.
	retryAttempts = 5
	// abortBudget bounds the clean-up of a failed multipart upload, which
	// runs even when the upload was cancelled: long enough for a server
	// that answers, short enough that Ctrl-C stays prompt when it does
	// not (the next upload of the same prefix cleans up then).
	abortBudget = 5 * time.Second
	// checkTimeout bounds Check.
	checkTimeout = 15 * time.Second
)

// S3Config says which bucket, where, and how.
type S3Config struct {
	Endpoint        string // https://<account>.r2.cloudflarestorage.com, or any S3 endpoint
	Bucket          string
	Region          string // "auto" for R2 (the default)
	AccessKeyID     string
	SecretAccessKey string
	// PublicURL serves the bucket publicly; without it URLs are presigned
	// for Presign (at most MaxPresign).
	PublicURL string
	Presign   time.Duration
	// PathStyle addressing (bucket in the path): local S3 servers need it.
	PathStyle bool
	// Concurrency bounds the requests in flight at once, parts of large
	// files and small files alike (default 8).
	Concurrency int
}

// S3 stores artifacts in a bucket of R2 or any S3-compatible server.
type S3 struct {
	cfg      S3Config
	client   *s3.Client
	presign  *s3.PresignClient
	requests *semaphore.Weighted
}

// NewS3 builds the client. Credentials are the ones given, never a profile
// from ~/.aws that happens to be around.
func NewS3(cfg S3Config) (*S3, error) {
	var missing []string
	for _, f := range []struct{ name, value string }{{"endpoint", cfg.Endpoint}, {"access key id", cfg.AccessKeyID},
		{"secret access key", cfg.SecretAccessKey}, {"bucket", cfg.Bucket}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Op: "check", Reason: "the S3 settings lack " + strings.Join(missing, ", ")}
	}
	cfg.Region = cmp.Or(cfg.Region, "auto")
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Presign <= 0 || cfg.Presign > MaxPresign {
		cfg.Presign = MaxPresign
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   cfg.Concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
	}
	client := s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(strings.TrimRight(cfg.Endpoint, "/")),
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		UsePathStyle: cfg.PathStyle,
		// R2 (and most S3-compatible stores) reject the CRC32 checksums the
		// SDK sends by default since v1.73: send and check checksums only
		// when an operation requires them (aws/aws-sdk-go-v2#2960).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           retryAttempts,
		HTTPClient:                 &http.Client{Transport: transport},
	})
	return &S3{cfg: cfg, client: client, presign: s3.NewPresignClient(client),
		requests: semaphore.NewWeighted(int64(cfg.Concurrency))}, nil
}

// request runs one call to the server within the bound on requests in
// flight.
func (s *S3) request(ctx context.Context, call func() error) error {
	if err := s.requests.Acquire(ctx, 1); err != nil {
		return err
	}
	defer s.requests.Release(1)
	return call()
}

// fail describes an SDK error for people.
func (s *S3) fail(op, key string, err error) error {
	return &Error{Op: op, Key: key, Reason: describe(err, s.cfg), Err: err}
}

// PutFile uploads a file: in one request, or in parts several at once when
// it is large. A failed multipart upload is aborted, even when ctx was
// cancelled (within abortBudget).
func (s *S3) PutFile(ctx context.Context, key, path string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return &Error{Op: "put", Key: key, Reason: err.Error(), Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &Error{Op: "put", Key: key, Reason: err.Error(), Err: err}
	}
	if st.Size() >= MultipartThreshold {
		return s.putParts(ctx, key, f, st.Size())
	}
	return s.put(ctx, key, io.NewSectionReader(f, 0, st.Size()), st.Size())
}

// PutBytes uploads data in one request.
func (s *S3) PutBytes(ctx context.Context, key string, data []byte) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	return s.put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

// put sends one object; body is seekable, so the SDK can retry.
func (s *S3) put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	err := s.request(ctx, func() error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), Body: body,
			ContentLength: aws.Int64(size), ContentType: aws.String(ContentType(key)),
		})
		return err
	})
	if err != nil {
		return s.fail("put", key, err)
	}
	progress(ctx, size)
	return nil
}

// putParts sends a large file in parts read straight from the file (no
// part is buffered in memory), as many at once as the request bound
// allows, then completes the upload, or aborts it.
func (s *S3) putParts(ctx context.Context, key string, f *os.File, size int64) error {
	var created *s3.CreateMultipartUploadOutput
	err := s.request(ctx, func() (err error) {
		created, err = s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), ContentType: aws.String(ContentType(key)),
		})
		return err
	})
	if err != nil {
		return s.fail("put", key, err)
	}
	parts := make([]types.CompletedPart, (size+partSize-1)/partSize)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	for i := range parts {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		number := aws.Int32(int32(i + 1))
		g.Go(func() error {
			return s.request(gctx, func() error {
				out, err := s.client.UploadPart(gctx, &s3.UploadPartInput{
					Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
					PartNumber: number, Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
				})
				if err != nil {
					return fmt.Errorf("part %d: %w", *number, err)
				}
				parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: number}
				progress(ctx, n)
				return nil
			})
		})
	}
	err = g.Wait()
	if err == nil {
		err = s.request(ctx, func() error {
			_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			})
			return err
		})
	}
	if err != nil {
		s.abort(ctx, key, created.UploadId)
		return s.fail("put", key, err)
	}
	return nil
}

// abort discards a multipart upload, on a context that outlives ctx's
// cancellation (the upload must not stay) but not by much.
func (s *S3) abort(ctx context.Context, key string, id *string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortBudget)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: id})
	return err
}

// Get downloads an object.
func (s *S3) Get(ctx context.Context, key string) ([]byte, Info, error) {
	if err := ValidKey(key); err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if notFound(err) {
			err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return nil, Info{}, s.fail("get", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, Info{}, s.fail("get", key, err)
	}
	return b, Info{Key: key, Size: int64(len(b)), ContentType: aws.ToString(out.ContentType)}, nil
}

// folder is the listing prefix of a key prefix.
func folder(prefix string) *string {
	if prefix == "" {
		return nil
	}
	return aws.String(prefix + "/")
}

// List pages through the objects under prefix.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return nil, err
		}
	}
	var out []Info
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: folder(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.fail("list", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, Info{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// Delete removes keys a thousand at a time (S3's batch limit), one by one
// on stores that lack batch deletion.
func (s *S3) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := ValidKey(k); err != nil {
			return err
		}
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.cfg.Bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil || len(out.Errors) > 0 {
			if ctx.Err() != nil {
				return s.fail("delete", keys[0], ctx.Err())
			}
			for _, k := range keys[:n] {
				if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(k)}); err != nil && !notFound(err) {
					return s.fail("delete", k, err)
				}
			}
		}
		keys = keys[n:]
	}
	return nil
}

// DeletePrefix lists and deletes.
func (s *S3) DeletePrefix(ctx context.Context, prefix string) error {
	if err := ValidKey(prefix); err != nil {
		return err
	}
	objects, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	keys := make([]string, len(objects))
	for i, o := range objects {
		keys[i] = o.Key
	}
	return s.Delete(ctx, keys...)
}

// AbortIncomplete lists the multipart uploads under prefix and aborts them.
func (s *S3) AbortIncomplete(ctx context.Context, prefix string) (int, error) {
	if err := ValidKey(prefix); err != nil {
		return 0, err
	}
	n := 0
	pages := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.cfg.Bucket), Prefix: folder(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return n, s.fail("abort", prefix, err)
		}
		for _, up := range page.Uploads {
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.cfg.Bucket),
				Key: up.Key, UploadId: up.UploadId})
			if err != nil && !notFound(err) {
				return n, s.fail("abort", aws.ToString(up.Key), err)
			}
			n++
		}
	}
	return n, nil
}

// URL is under the public URL, or presigned.
func (s *S3) URL(ctx context.Context, key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/") + "/" + escapeKey(key), nil
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)},
		s3.WithPresignExpires(s.cfg.Presign))
	if err != nil {
		return "", s.fail("url", key, err)
	}
	return req.URL, nil
}

// Check asks for the bucket.
func (s *S3) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)}); err != nil {
		return s.fail("check", "bucket "+s.cfg.Bucket, err)
	}
	return nil
}

// Where names the bucket and endpoint, for messages.
func (s *S3) Where() string { return fmt.Sprintf("bucket %s at %s", s.cfg.Bucket, s.cfg.Endpoint) }

var _ Store = (*S3)(nil)
var _ Store = (*Folder)(nil)
