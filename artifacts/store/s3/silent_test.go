package s3

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// silentListener accepts connections on 127.0.0.1 and never answers (nor closes them), like a
// service that hangs.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestSilentEndpoint checks that every store call against a service that accepts connections and
// never answers fails with a timeout instead of hanging. The store's own timeouts must fire: the
// test's context has none, and the test fails if a call has not returned after a minute.
func TestSilentEndpoint(t *testing.T) {
	cfg := Config{Endpoint: silentListener(t), Insecure: true, AccessKey: "k", SecretKey: "s",
		Timeouts: Timeouts{Header: 300 * time.Millisecond},
		Retry:    RetryPolicy{Attempts: 2, Base: 10 * time.Millisecond}}
	st, err := New(cfg, "bucket", "run")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"list", func() error { _, err := st.List(ctx, ""); return err }},
		{"get", func() error { _, err := st.Get(ctx, "a"); return err }},
		{"stat", func() error { _, err := st.Stat(ctx, "a"); return err }},
		{"put", func() error { return st.Put(ctx, "a", strings.NewReader("x")) }},
	} {
		res := make(chan error, 1)
		go func() { res <- tc.call() }()
		select {
		case err := <-res:
			if err == nil || !strings.Contains(err.Error(), "timeout") {
				t.Errorf("%s: %v, want a timeout error", tc.name, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s against a silent endpoint has not returned after a minute", tc.name)
		}
	}
}

// TestDefaultTimeoutsBound checks the arithmetic of the package's promise: with the default
// timeouts and retries a call to a silent service gives up within about 40 s (every try waits
// the header timeout; minio-go adds up to 0.2 s of jitter per failed try).
func TestDefaultTimeoutsBound(t *testing.T) {
	to, p := Timeouts{}.withDefaults(), RetryPolicy{}.withDefaults()
	total := time.Duration(p.Attempts) * (to.Header + 200*time.Millisecond)
	for i := 1; i < p.Attempts; i++ {
		total += p.backoff(i)
	}
	if total > 40*time.Second {
		t.Errorf("a silent service fails a call after up to %v with the defaults, want at most 40s", total)
	}
}

func TestTimeoutsFromEnv(t *testing.T) {
	t.Setenv("ABS_S3_ENDPOINT", "h:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("ABS_S3_HEADER_TIMEOUT", "2s")
	t.Setenv("ABS_S3_REQUEST_TIMEOUT", "1m")
	c, err := ConfigFromEnv()
	if err != nil || c.Timeouts.Header != 2*time.Second || c.Timeouts.Request != time.Minute {
		t.Errorf("ConfigFromEnv = %+v, %v; want header 2s, request 1m", c.Timeouts, err)
	}
	t.Setenv("ABS_S3_CONNECT_TIMEOUT", "soon")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "ABS_S3_CONNECT_TIMEOUT") {
		t.Errorf("ConfigFromEnv with a bad timeout: %v, want an error naming ABS_S3_CONNECT_TIMEOUT", err)
	}
}
