package report

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vpt-dev/vpt/store"
)

// Provider limits and choices.
const (
	// MaxPresign is R2's longest presigned URL (7 days).
	MaxPresign = 7 * 24 * time.Hour
	// multipartThreshold: files this large go up in parts, several at once.
	multipartThreshold = 16 << 20
	// partSize of multipart uploads (S3's minimum is 5 MiB).
	partSize = 8 << 20
	// retryAttempts per request: transient errors (5xx, throttling, a
	// dropped connection) are retried with backoff by the SDK.
	retryAttempts = 5
)

// UploadConfig says where artifacts go.
type UploadConfig struct {
	Endpoint        string // https://<account>.r2.cloudflarestorage.com, or any S3 endpoint
	Bucket          string
	Region          string // "auto" for R2
	AccessKeyID     string
	SecretAccessKey string
	// PublicURL serves the bucket publicly; without it URLs are presigned.
	PublicURL   string
	Presign     time.Duration
	Concurrency int
	// PathStyle addressing (bucket in the path): local S3 servers need it.
	PathStyle bool
	// Prefix of every key (optional).
	Prefix string
}

// Uploader copies run and campaign folders to an S3 bucket (Cloudflare R2
// or any S3-compatible store).
type Uploader struct {
	cfg     UploadConfig
	client  *s3.Client
	presign *s3.PresignClient
	// Progress, when set, hears bytes sent (large uploads on a terminal).
	Progress func(sent, total int64)
}

// NewUploader builds an uploader. Credentials are the ones given, never a
// profile from ~/.aws that happens to be around.
func NewUploader(cfg UploadConfig) (*Uploader, error) {
	var missing []string
	if cfg.Endpoint == "" {
		missing = append(missing, "endpoint")
	}
	if cfg.AccessKeyID == "" {
		missing = append(missing, "access key id")
	}
	if cfg.SecretAccessKey == "" {
		missing = append(missing, "secret access key")
	}
	if cfg.Bucket == "" {
		missing = append(missing, "bucket")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: upload settings lack %s (set upload: in vpt.yaml or the CLOUDFLARE_R2_* variables)",
			ErrUpload, strings.Join(missing, ", "))
	}
	if cfg.Region == "" {
		cfg.Region = "auto"
	}
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
	return &Uploader{cfg: cfg, client: client, presign: s3.NewPresignClient(client)}, nil
}

// errorf wraps an upload failure without ever showing the keys.
func (u *Uploader) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	for _, secret := range []string{u.cfg.SecretAccessKey, u.cfg.AccessKeyID} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "xxxxx")
		}
	}
	return fmt.Errorf("%w: %s", ErrUpload, msg)
}

// Probe checks that the bucket answers with these settings.
func (u *Uploader) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := u.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(u.cfg.Bucket)}); err != nil {
		return u.errorf("bucket %s at %s: %v", u.cfg.Bucket, u.cfg.Endpoint, err)
	}
	return nil
}

// RunPrefix is the key prefix of a run's folder: upstream's layout,
// script-reports/<device model>/<script>_<YYYYMMDD>_<YYYYMMDDHHMMSS>,
// made unique per run by the run id.
func (u *Uploader) RunPrefix(r *store.Result) string {
	t := r.StartedAt.UTC()
	script := keySafe(r.ScriptName)
	model := keySafe(r.DeviceModel)
	if model == "" {
		model = "unknown"
	}
	folder := fmt.Sprintf("%s_%s_%s_%s", script, t.Format("20060102"), t.Format("20060102150405"), shortID(r.ID))
	return u.key("script-reports", model, folder)
}

// CampaignPrefix is the key prefix of a campaign folder.
func (u *Uploader) CampaignPrefix(executionID string) string {
	return u.key("campaign-reports", executionID)
}

func (u *Uploader) key(parts ...string) string {
	if u.cfg.Prefix != "" {
		parts = append([]string{strings.Trim(u.cfg.Prefix, "/")}, parts...)
	}
	return path.Join(parts...)
}

// keySafe keeps letters, digits, '.', '-' and '_' of a name, for keys
// that need no escaping anywhere.
func keySafe(s string) string {
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
	if len(out) > 80 {
		out = out[:80]
	}
	return out
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// URL is how a key is reached: under the public URL, or presigned.
func (u *Uploader) URL(ctx context.Context, key string) (string, error) {
	if u.cfg.PublicURL != "" {
		return strings.TrimRight(u.cfg.PublicURL, "/") + "/" + key, nil
	}
	req, err := u.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key)},
		s3.WithPresignExpires(u.cfg.Presign))
	if err != nil {
		return "", u.errorf("presigning %s: %v", key, err)
	}
	return req.URL, nil
}

// UploadRun copies a run folder to the bucket and records the report and
// log keys and URLs in the result. Local files are never deleted; when the
// upload fails the result is marked pending and nothing local changes, so
// `vpt report upload --pending` can try again.
func (u *Uploader) UploadRun(ctx context.Context, r *store.Result) error {
	if r.RunDir == "" {
		return u.errorf("run %s has no folder", shortID(r.ID))
	}
	if _, err := os.Stat(r.RunDir); err != nil {
		return u.errorf("run folder %s: %v", r.RunDir, err)
	}
	prefix := u.RunPrefix(r)
	files, err := runFiles(r.RunDir)
	if err != nil {
		return u.errorf("%v", err)
	}
	// The media first; report.html and result.json last, once they can
	// name their own URLs.
	var media []string
	for _, f := range files {
		if f != ReportHTML && f != ResultJSON {
			media = append(media, f)
		}
	}
	if err := u.putAll(ctx, r.RunDir, prefix, media); err != nil {
		r.UploadStatus = store.UploadPending
		return err
	}
	updated := *r
	updated.HTMLReportR2Path = prefix + "/" + ReportHTML
	updated.LogsR2Path = prefix + "/" + OutputLog
	if updated.HTMLReportR2URL, err = u.URL(ctx, updated.HTMLReportR2Path); err != nil {
		r.UploadStatus = store.UploadPending
		return err
	}
	if updated.LogsR2URL, err = u.URL(ctx, updated.LogsR2Path); err != nil {
		r.UploadStatus = store.UploadPending
		return err
	}
	updated.UploadStatus = store.UploadDone
	if err := WriteRunReport(&updated, nil); err != nil {
		return u.errorf("report.html: %v", err)
	}
	if err := WriteResultJSON(&updated); err != nil {
		return u.errorf("result.json: %v", err)
	}
	if err := u.putAll(ctx, r.RunDir, prefix, []string{ReportHTML, ResultJSON}); err != nil {
		// The local files name URLs that do not work yet: put back what
		// they said before the upload.
		_ = WriteRunReport(r, nil)
		_ = WriteResultJSON(r)
		r.UploadStatus = store.UploadPending
		return err
	}
	*r = updated
	return nil
}

// runFiles lists the files of a run folder to upload, relative to it:
// everything but unfinished files and leftover video segments.
func runFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == "video" {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".part") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out, err
}

// putAll uploads files with bounded concurrency; large ones in parts.
func (u *Uploader) putAll(ctx context.Context, dir, prefix string, files []string) error {
	var total int64
	sizes := make([]int64, len(files))
	for i, f := range files {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			return u.errorf("%v", err)
		}
		sizes[i] = st.Size()
		total += st.Size()
	}
	var sent atomic.Int64
	report := func(n int64) {
		if u.Progress != nil {
			u.Progress(sent.Add(n), total)
		}
	}
	sem := make(chan struct{}, u.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Largest first, so the video's parts start early.
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	for _, i := range order {
		f, size := files[i], sizes[i]
		key := prefix + "/" + f
		local := filepath.Join(dir, filepath.FromSlash(f))
		if size >= multipartThreshold {
			if err := u.putMultipart(ctx, local, key, size, sem, report); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
				break
			}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := u.putFile(ctx, local, key, size); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
				return
			}
			report(size)
		}()
	}
	wg.Wait()
	return first
}

func (u *Uploader) putFile(ctx context.Context, local, key string, size int64) error {
	f, err := os.Open(local)
	if err != nil {
		return u.errorf("%v", err)
	}
	defer f.Close()
	_, err = u.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key), Body: f,
		ContentLength: aws.Int64(size), ContentType: aws.String(ContentType(key)),
	})
	if err != nil {
		return u.errorf("%s: %v", key, err)
	}
	return nil
}

// putMultipart sends a large file in parts, several at once (sharing the
// upload's concurrency), and aborts the upload when a part fails for good.
func (u *Uploader) putMultipart(ctx context.Context, local, key string, size int64, sem chan struct{}, report func(int64)) error {
	f, err := os.Open(local)
	if err != nil {
		return u.errorf("%v", err)
	}
	defer f.Close()
	created, err := u.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key), ContentType: aws.String(ContentType(key)),
	})
	if err != nil {
		return u.errorf("%s: %v", key, err)
	}
	parts := int((size + partSize - 1) / partSize)
	done := make([]types.CompletedPart, parts)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := 0; i < parts; i++ {
		off := int64(i) * partSize
		n := min(int64(partSize), size-off)
		select {
		case sem <- struct{}{}:
		case <-pctx.Done():
		}
		if pctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int, off, n int64) {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := u.client.UploadPart(pctx, &s3.UploadPartInput{
				Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
			})
			if err != nil {
				mu.Lock()
				if first == nil {
					first = u.errorf("%s part %d: %v", key, i+1, err)
				}
				mu.Unlock()
				cancel()
				return
			}
			done[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
			report(n)
		}(i, off, n)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = u.errorf("%s: %v", key, ctx.Err())
	}
	if first != nil {
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer acancel()
		_, _ = u.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId})
		return first
	}
	_, err = u.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		return u.errorf("%s: %v", key, err)
	}
	return nil
}

// UploadCampaign copies a campaign's report and summary to the bucket, with
// links to the uploaded run reports, and records its key and URL.
func (u *Uploader) UploadCampaign(ctx context.Context, dir string, sum CampaignSummary, results map[string]*store.Result) error {
	remote := sum
	remote.Entries = append([]EntrySummary(nil), sum.Entries...)
	for i := range remote.Entries {
		atts := append([]AttemptSummary(nil), remote.Entries[i].Attempts...)
		for j := range atts {
			if r := results[atts[j].ResultID]; r != nil {
				atts[j].Report = r.HTMLReportR2URL
			}
		}
		remote.Entries[i].Attempts = atts
	}
	staging, err := os.MkdirTemp("", "vpt-campaign-upload-")
	if err != nil {
		return u.errorf("%v", err)
	}
	defer os.RemoveAll(staging)
	c := *sum.Campaign
	prefix := u.CampaignPrefix(c.ExecutionID)
	c.HTMLReportR2Path = prefix + "/" + CampaignHTML
	if c.HTMLReportR2URL, err = u.URL(ctx, c.HTMLReportR2Path); err != nil {
		return err
	}
	remote.Campaign = &c
	if err := WriteCampaign(staging, remote); err != nil {
		return u.errorf("%v", err)
	}
	files := []string{CampaignHTML, SummaryJSON}
	if _, err := os.Stat(filepath.Join(dir, JUnitXML)); err == nil {
		data, _ := os.ReadFile(filepath.Join(dir, JUnitXML))
		_ = os.WriteFile(filepath.Join(staging, JUnitXML), data, 0o644)
		files = append(files, JUnitXML)
	}
	if err := u.putAll(ctx, staging, prefix, files); err != nil {
		return err
	}
	sum.Campaign.HTMLReportR2Path, sum.Campaign.HTMLReportR2URL = c.HTMLReportR2Path, c.HTMLReportR2URL
	return nil
}

// DeleteRun removes a run's objects from the bucket.
func (u *Uploader) DeleteRun(ctx context.Context, r *store.Result) error {
	prefix := strings.TrimSuffix(r.HTMLReportR2Path, "/"+ReportHTML)
	if prefix == "" || prefix == r.HTMLReportR2Path {
		prefix = u.RunPrefix(r)
	}
	var token *string
	for {
		page, err := u.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(u.cfg.Bucket),
			Prefix: aws.String(prefix + "/"), ContinuationToken: token})
		if err != nil {
			return u.errorf("listing %s: %v", prefix, err)
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		for len(ids) > 0 {
			n := min(len(ids), 1000)
			if _, err := u.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(u.cfg.Bucket),
				Delete: &types.Delete{Objects: ids[:n], Quiet: aws.Bool(true)}}); err != nil {
				// Some stores lack batch deletion: one by one.
				for _, id := range ids[:n] {
					if _, err := u.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: id.Key}); err != nil {
						return u.errorf("deleting %s: %v", aws.ToString(id.Key), err)
					}
				}
			}
			ids = ids[n:]
		}
		if page.IsTruncated == nil || !*page.IsTruncated {
			return nil
		}
		token = page.NextContinuationToken
	}
}

// Object fetches one object (tests and checks).
func (u *Uploader) Object(ctx context.Context, key string) ([]byte, string, error) {
	out, err := u.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, "", u.errorf("%s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, aws.ToString(out.ContentType), err
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
