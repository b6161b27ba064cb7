package artifact

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// describe turns an SDK error into a reason a person can act on: the
// SDK's own text is a chain of operation names, request ids and, for a
// dead endpoint, a retry count, with the cause at the end. It never
// names a key's secret (the SDK never puts one in an error).
func describe(err error, cfg S3Config) string {
	var api smithy.APIError
	var dns *net.DNSError
	var netErr net.Error
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		return "out of time"
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot find the host of %s (%s): check upload.endpoint", cfg.Endpoint, dns.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing answers at %s (connection refused): check upload.endpoint, or whether the server is up", cfg.Endpoint)
	case errors.As(err, &unknownCA), errors.As(err, &badHost):
		return fmt.Sprintf("the TLS certificate of %s is not trusted: %v", cfg.Endpoint, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("%s does not answer (timed out)", cfg.Endpoint)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("%s closed the connection", cfg.Endpoint)
	case errors.As(err, &api) && api.ErrorCode() != "":
		return describeAPI(api, statusOf(err), cfg)
	case statusOf(err) != 0:
		return describeStatus(statusOf(err), cfg)
	}
	return lastCause(err)
}

// describeAPI reads the error code S3 servers answer with.
func describeAPI(api smithy.APIError, status int, cfg S3Config) string {
	switch api.ErrorCode() {
	case "SignatureDoesNotMatch":
		return "the server refused the secret access key (the request signature does not match): check upload.secret_access_key"
	case "InvalidAccessKeyId", "XAdminUserNotFound": // the latter: versitygw
		return "the server does not know the access key id: check upload.access_key_id"
	case "AccessDenied", "Forbidden":
		return fmt.Sprintf("access denied to bucket %s: the keys lack permission on it", cfg.Bucket)
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %s does not exist at %s: check upload.bucket", cfg.Bucket, cfg.Endpoint)
	case "NotFound", "NoSuchKey":
		if status == 404 && api.ErrorMessage() == "" {
			return describeStatus(404, cfg)
		}
		return "no such object"
	case "RequestTimeTooSkewed":
		return "this machine's clock is too far from the server's: set it right (NTP)"
	case "NoSuchUpload":
		return "the server forgot the multipart upload (aborted elsewhere?)"
	}
	msg := api.ErrorMessage()
	if status != 0 {
		return strings.TrimSpace(fmt.Sprintf("the server answered %s (HTTP %d): %s", api.ErrorCode(), status, msg))
	}
	return strings.TrimSpace(fmt.Sprintf("the server answered %s: %s", api.ErrorCode(), msg))
}

// describeStatus reads an answer without an error code (HEAD requests
// have no body).
func describeStatus(status int, cfg S3Config) string {
	switch {
	case status == 301 || status == 307:
		return fmt.Sprintf("the server redirects to another address (HTTP %d): check upload.endpoint, upload.region and upload.path_style", status)
	case status == 400:
		return "the server refused the request (HTTP 400): check upload.region and upload.path_style"
	case status == 401 || status == 403:
		return fmt.Sprintf("access denied (HTTP %d): check upload.access_key_id, upload.secret_access_key and the keys' permission on bucket %s", status, cfg.Bucket)
	case status == 404:
		return fmt.Sprintf("bucket %s not found at %s (HTTP 404): check upload.bucket", cfg.Bucket, cfg.Endpoint)
	case status >= 500:
		return fmt.Sprintf("the server failed (HTTP %d), several times", status)
	}
	return fmt.Sprintf("the server answered HTTP %d", status)
}

func statusOf(err error) int {
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.Response != nil {
		return resp.HTTPStatusCode()
	}
	return 0
}

// notFound: the key, the bucket or the upload is not there.
func notFound(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return true
		}
	}
	return statusOf(err) == 404
}

// lastCause drops the SDK's wrapping ("operation error S3: PutObject,
// exceeded maximum number of attempts, 5, https response error …") and
// keeps what failed.
func lastCause(err error) string {
	var max *retry.MaxAttemptsError
	if errors.As(err, &max) && max.Err != nil {
		err = max.Err
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
