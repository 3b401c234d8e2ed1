package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// RetryPolicy bounds the retries of one S3 request that failed with a transient error (see
// Transient): at most Attempts tries in all, sleeping Base·2^(i-1), capped at Max, after the i-th
// failed try. The zero value means DefaultRetry; a zero field takes DefaultRetry's value.
type RetryPolicy struct {
	Attempts int           // tries in all, including the first
	Base     time.Duration // sleep after the first failed try
	Max      time.Duration // upper bound of one sleep
}

// DefaultRetry tries a request 6 times, sleeping 0.2 s, 0.4 s, 0.8 s, 1.6 s and 3.2 s in between
// (6.2 s of waiting at most), which rides out a restart of a local S3 server.
var DefaultRetry = RetryPolicy{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetry.Attempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetry.Base
	}
	if p.Max <= 0 {
		p.Max = DefaultRetry.Max
	}
	return p
}

// backoff returns the sleep after the i-th failed try (i ≥ 1).
func (p RetryPolicy) backoff(i int) time.Duration {
	d := p.Base
	for ; i > 1 && d < p.Max; i-- {
		d *= 2
	}
	return min(d, p.Max)
}

// do runs fn until it succeeds, fails with an error that is not transient, the policy's tries are
// spent or ctx is done. The error of the last try is returned, wrapped with the number of tries when
// there was more than one.
func (p RetryPolicy) do(ctx context.Context, fn func() error) error {
	p = p.withDefaults()
	for i := 1; ; i++ {
		err := fn()
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("%w: %v", cerr, err)
		}
		if !Transient(err) {
			return err
		}
		if i == p.Attempts {
			if i == 1 {
				return err
			}
			return fmt.Errorf("gave up after %d tries: %w", i, err)
		}
		t := time.NewTimer(p.backoff(i))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: after %d tries: %v", ctx.Err(), i, err)
		case <-t.C:
		}
	}
}

// Transient reports whether err is worth retrying: the connection was refused, reset or closed
// early (also under a request still being written), a network operation timed out, or the service answered 5xx, 429, SlowDown or
// RequestTimeout. Context cancellation and deadline are never transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "TooManyRequests":
			return true
		}
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
