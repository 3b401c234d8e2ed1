package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestBackoff(t *testing.T) {
	p := DefaultRetry
	// DefaultRetry's doc comment: 0.2 s doubling, capped at 5 s.
	want := []time.Duration{200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (RetryPolicy{}).withDefaults(); got != DefaultRetry {
		t.Errorf("zero policy = %+v, want DefaultRetry %+v", got, DefaultRetry)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestTransient(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Put", URL: "http://x/b/k", Err: err} }
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{urlErr(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{urlErr(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{urlErr(io.EOF), true},
		{urlErr(io.ErrUnexpectedEOF), true},
		{urlErr(timeoutErr{}), true},
		{urlErr(net.ErrClosed), true},
		{minio.ErrorResponse{StatusCode: 503, Code: "SlowDown"}, true},
		{minio.ErrorResponse{StatusCode: 500, Code: "InternalError"}, true},
		{minio.ErrorResponse{StatusCode: 502}, true},
		{minio.ErrorResponse{StatusCode: 429}, true},
		{minio.ErrorResponse{StatusCode: 400, Code: "RequestTimeout"}, true},
		{fmt.Errorf("wrapped: %w", minio.ErrorResponse{StatusCode: 503}), true},
		{minio.ErrorResponse{StatusCode: 404, Code: "NoSuchKey"}, false},
		{minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{minio.ErrorResponse{StatusCode: 400, Code: "BadDigest"}, false},
		{urlErr(context.Canceled), false},
		{urlErr(context.DeadlineExceeded), false},
		{errors.New("other"), false},
		{nil, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestDo(t *testing.T) {
	p := RetryPolicy{Attempts: 3, Base: time.Microsecond, Max: time.Microsecond}
	transient := minio.ErrorResponse{StatusCode: 503, Code: "SlowDown"}
	for _, tc := range []struct {
		name      string
		errs      []error // returned by successive tries; nil after the list ends
		wantTries int
		wantErr   bool
	}{
		{"ok", nil, 1, false},
		{"transient-then-ok", []error{transient, transient}, 3, false},
		{"transient-always", []error{transient, transient, transient, transient}, 3, true},
		{"permanent", []error{errors.New("denied")}, 1, true},
	} {
		tries := 0
		err := p.do(t.Context(), func() error {
			tries++
			if tries <= len(tc.errs) {
				return tc.errs[tries-1]
			}
			return nil
		})
		if tries != tc.wantTries || (err != nil) != tc.wantErr {
			t.Errorf("%s: %d tries, error %v; want %d tries, error %v", tc.name, tries, err, tc.wantTries, tc.wantErr)
		}
	}
	// A canceled context stops the retries and is reported.
	ctx, cancel := context.WithCancel(t.Context())
	tries := 0
	err := p.do(ctx, func() error {
		tries++
		cancel()
		return transient
	})
	if tries != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %d tries, error %v; want 1 try and context.Canceled", tries, err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	set := func(kv ...string) {
		for _, k := range []string{"ABS_S3_ENDPOINT", "ABS_S3_REGION", "ABS_S3_INSECURE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
			t.Setenv(k, "")
		}
		for i := 0; i < len(kv); i += 2 {
			t.Setenv(kv[i], kv[i+1])
		}
	}
	set("ABS_S3_ENDPOINT", "minio:9000", "ABS_S3_INSECURE", "1", "AWS_ACCESS_KEY_ID", "id", "AWS_SECRET_ACCESS_KEY", "sk", "ABS_S3_REGION", "eu-west-1")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "minio:9000" || !c.Insecure || c.AccessKey != "id" || c.SecretKey != "sk" || c.Region != "eu-west-1" {
		t.Errorf("ConfigFromEnv = %+v", c)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"AWS_ACCESS_KEY_ID", "id", "AWS_SECRET_ACCESS_KEY", "sk"}, "ABS_S3_ENDPOINT"},
		{[]string{"ABS_S3_ENDPOINT", "h:1", "AWS_ACCESS_KEY_ID", "id"}, "AWS_SECRET_ACCESS_KEY"},
		{[]string{"ABS_S3_ENDPOINT", "h:1", "AWS_ACCESS_KEY_ID", "id", "AWS_SECRET_ACCESS_KEY", "sk", "ABS_S3_INSECURE", "yes"}, "ABS_S3_INSECURE"},
	} {
		set(tc.env...)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ConfigFromEnv with %q = %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}

func TestNewPartSize(t *testing.T) {
	if _, err := New(Config{Endpoint: "h:1", PartSize: MinPartSize - 1}, "bucket", ""); err == nil {
		t.Error("New with a part size below the S3 minimum: no error")
	}
}
