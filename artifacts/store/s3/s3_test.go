package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/artifacts/store/s3"
	"github.com/abs-nas/abs/artifacts/store/storetest"
	"github.com/abs-nas/abs/internal/miniotest"
)

func TestMain(m *testing.M) {
	os.Exit(miniotest.Main(m, "s3"))
}

// fastRetry keeps fault tests short: 3 tries, 20 ms and 40 ms apart.
var fastRetry = s3.RetryPolicy{Attempts: 3, Base: 20 * time.Millisecond, Max: 40 * time.Millisecond}

func newStore(t *testing.T, srv *miniotest.Server, prefix string, retry s3.RetryPolicy, tr http.RoundTripper) *s3.Store {
	t.Helper()
	st, err := s3.New(s3.Config{
		Endpoint:  srv.Endpoint,
		Insecure:  true,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Retry:     retry,
		PartSize:  s3.MinPartSize, // so that multi-MiB test objects take the multipart path
		Transport: tr,
	}, srv.Bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// incompleteUploads lists the multipart uploads under prefix that were neither completed nor
// aborted (plain S3 ListMultipartUploads).
func incompleteUploads(t *testing.T, srv *miniotest.Server, prefix string) []string {
	t.Helper()
	var keys []string
	for u := range srv.Client(t).ListIncompleteUploads(t.Context(), srv.Bucket, prefix, true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads: %v", u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys
}

func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t) // storetest opens the stores' URLs through artifacts.Open
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		miniotest.Track(t)
		n++
		return newStore(t, srv, fmt.Sprintf("conformance/%d", n), s3.RetryPolicy{}, nil)
	})
	if got := incompleteUploads(t, srv, ""); len(got) != 0 {
		t.Errorf("incomplete multipart uploads left behind: %q", got)
	}
}

// TestPrefixIsolation checks that a store sees only the objects under its prefix.
func TestPrefixIsolation(t *testing.T) {
	srv := miniotest.Start(t)
	a := newStore(t, srv, "p/a", s3.RetryPolicy{}, nil)
	ab := newStore(t, srv, "p/ab", s3.RetryPolicy{}, nil)
	root := newStore(t, srv, "", s3.RetryPolicy{}, nil)
	if err := a.Put(t.Context(), "k", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	if err := ab.Put(t.Context(), "k", strings.NewReader("ab")); err != nil {
		t.Fatal(err)
	}
	infos, err := a.List(t.Context(), "")
	if err != nil || len(infos) != 1 || infos[0].Key != "k" || infos[0].Size != 1 {
		t.Errorf("List of p/a = %+v, %v; want only k (1 byte)", infos, err)
	}
	if got := storetest.Get(t, root, "p/ab/k"); string(got) != "ab" {
		t.Errorf("root store read p/ab/k = %q, want ab", got)
	}
	if got, want := a.URL("k"), "s3://"+srv.Bucket+"/p/a/k"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

// faultTransport injects faults into the first failures requests it carries, then passes the rest
// to the real server.
type faultTransport struct {
	base     http.RoundTripper
	fault    func(*http.Request) (*http.Response, error)
	failures atomic.Int64
	calls    atomic.Int64
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		if req.Body != nil {
			req.Body.Close()
		}
		return f.fault(req)
	}
	return f.base.RoundTrip(req)
}

func refused(*http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

func s3Error(status int, code string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>`, code)
		return &http.Response{
			StatusCode:    status,
			Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Header:        http.Header{"Content-Type": {"application/xml"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       req,
			Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		}, nil
	}
}

// TestRetryInjected checks the retry policy against injected faults in front of a real server:
// transient faults are retried up to the bound, others are not retried.
func TestRetryInjected(t *testing.T) {
	srv := miniotest.Start(t)
	policy := s3.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 4 * time.Millisecond}
	for _, tc := range []struct {
		name      string
		fault     func(*http.Request) (*http.Response, error)
		failures  int64
		wantCalls int64
		wantErr   bool
	}{
		{"refused-then-ok", refused, 3, 4, false},
		{"slowdown-then-ok", s3Error(503, "SlowDown"), 3, 4, false},
		{"internal-then-ok", s3Error(500, "InternalError"), 2, 3, false},
		{"refused-too-often", refused, 4, 4, true},
		{"access-denied", s3Error(403, "AccessDenied"), 1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			miniotest.Track(t)
			ft := &faultTransport{base: http.DefaultTransport, fault: tc.fault}
			st := newStore(t, srv, "retry/"+tc.name, policy, ft)
			ft.failures.Store(tc.failures)
			err := st.Put(t.Context(), "k", strings.NewReader("retried"))
			if got := ft.calls.Load(); got != tc.wantCalls {
				t.Errorf("Put made %d requests, want %d", got, tc.wantCalls)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatal("Put: no error, want one")
				}
				if _, serr := st.Stat(t.Context(), "k"); !errors.Is(serr, fs.ErrNotExist) {
					t.Errorf("after failed Put, Stat = %v, want fs.ErrNotExist", serr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got := storetest.Get(t, st, "k"); string(got) != "retried" {
				t.Errorf("read back %q, want %q", got, "retried")
			}
		})
	}
	t.Run("all-operations", func(t *testing.T) {
		miniotest.Track(t)
		ft := &faultTransport{base: http.DefaultTransport, fault: refused}
		st := newStore(t, srv, "retry/ops", policy, ft)
		for _, op := range []struct {
			name string
			fn   func() error
		}{
			{"Put", func() error { return st.Put(t.Context(), "k", bytes.NewReader(storetest.Payload(1, 6<<20))) }},
			{"Stat", func() error { _, err := st.Stat(t.Context(), "k"); return err }},
			{"Get", func() error {
				rc, err := st.Get(t.Context(), "k")
				if err == nil {
					rc.Close()
				}
				return err
			}},
			{"List", func() error { _, err := st.List(t.Context(), ""); return err }},
			{"Delete", func() error { return st.Delete(t.Context(), "k") }},
		} {
			ft.failures.Store(3)
			if err := op.fn(); err != nil {
				t.Errorf("%s after 3 injected refusals: %v", op.name, err)
			}
		}
	})
	t.Run("gives-up", func(t *testing.T) {
		miniotest.Track(t)
		ft := &faultTransport{base: http.DefaultTransport, fault: refused}
		st := newStore(t, srv, "retry/giveup", policy, ft)
		ft.failures.Store(1 << 30)
		err := st.Put(t.Context(), "k", strings.NewReader("x"))
		if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "gave up after 4 tries") {
			t.Errorf("Put = %v, want connection refused after 4 tries", err)
		}
	})
}

// gate blocks a stream once it has passed after bytes, until opened, and says when it got there.
type gate struct {
	after   int
	passed  int
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(after int) *gate {
	return &gate{after: after, reached: make(chan struct{}), open: make(chan struct{})}
}

// wait is called with the number of bytes about to pass; it blocks at the threshold.
func (g *gate) wait(n int) {
	if g.passed+n > g.after {
		g.once.Do(func() { close(g.reached) })
		<-g.open
	}
	g.passed += n
}

// gatedReader streams data, blocking at its gate.
type gatedReader struct {
	data []byte
	g    *gate
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 32<<10)
	r.g.wait(n)
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// gatedTransport blocks the body of the first PUT request at its gate, so that the server can be
// killed while the request is in flight. It injects no error itself.
type gatedTransport struct {
	g    *gate
	once sync.Once
}

func (tr *gatedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.Body != nil {
		tr.once.Do(func() {
			req.Body = &gatedBody{ReadCloser: req.Body, g: tr.g}
		})
	}
	return http.DefaultTransport.RoundTrip(req)
}

type gatedBody struct {
	io.ReadCloser
	g *gate
}

func (b *gatedBody) Read(p []byte) (int, error) {
	p = p[:min(len(p), 32<<10)]
	b.g.wait(len(p))
	return b.ReadCloser.Read(p)
}

// TestKillDuringUpload kills the server in the middle of uploads and checks that Put fails after
// its bounded retries and that, after a restart, no partial object is visible and an overwritten
// object keeps its old version.
func TestKillDuringUpload(t *testing.T) {
	srv := miniotest.Start(t)
	old := storetest.Payload(1, 3000)
	for _, tc := range []struct {
		name string
		size int // object size
		// gated makes the kill happen while a PUT request body is being sent (single request);
		// otherwise Put's reader blocks after part 1 of a multipart upload has been uploaded.
		gated bool
	}{
		{"single-request", 2 << 20, true},
		{"multipart", 8 << 20, false},
	} {
		for _, overwrite := range []bool{false, true} {
			name := fmt.Sprintf("%s/overwrite=%v", tc.name, overwrite)
			t.Run(name, func(t *testing.T) {
				miniotest.Track(t)
				g := newGate(s3.MinPartSize + 1<<20)
				var tr http.RoundTripper
				if tc.gated {
					g = newGate(512 << 10)
					tr = &gatedTransport{g: g}
				}
				st := newStore(t, srv, "kill/"+name, fastRetry, tr)
				if overwrite {
					if err := newStore(t, srv, "kill/"+name, fastRetry, nil).Put(t.Context(), "obj", bytes.NewReader(old)); err != nil {
						t.Fatal(err)
					}
				}
				var r io.Reader = &gatedReader{data: storetest.Payload(2, tc.size), g: g}
				if tc.gated {
					r = bytes.NewReader(storetest.Payload(2, tc.size))
				}
				errc := make(chan error, 1)
				go func() { errc <- st.Put(context.Background(), "obj", r) }()
				select {
				case <-g.reached:
				case err := <-errc:
					t.Fatalf("Put returned %v before reaching the gate", err)
				}
				srv.Kill(t)
				close(g.open)
				err := <-errc
				if err == nil {
					t.Fatal("Put succeeded although the server was killed mid-upload")
				}
				if !s3.Transient(err) || !strings.Contains(err.Error(), "obj") {
					t.Errorf("Put = %v, want a transient (connection) error naming the object", err)
				}
				t.Logf("Put error (expected): %v", err)

				srv.Restart(t)
				chk := newStore(t, srv, "kill/"+name, fastRetry, nil)
				if overwrite {
					if got := storetest.Get(t, chk, "obj"); !bytes.Equal(got, old) {
						t.Errorf("after killed overwrite read %d bytes, want the old %d bytes", len(got), len(old))
					}
				} else if _, err := chk.Stat(t.Context(), "obj"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("after killed upload Stat = %v, want fs.ErrNotExist", err)
				}
				infos, err := chk.List(t.Context(), "")
				if err != nil {
					t.Fatal(err)
				}
				if want := map[bool]int{false: 0, true: 1}[overwrite]; len(infos) != want {
					t.Errorf("after killed upload List = %+v, want %d objects", infos, want)
				}
			})
		}
	}
}

// TestRestartKeepsData writes objects, kills and restarts the server, and reads them back.
func TestRestartKeepsData(t *testing.T) {
	srv := miniotest.Start(t)
	st := newStore(t, srv, "restart", fastRetry, nil)
	want := map[string][]byte{
		"empty":           {},
		"small.txt":       []byte("hello"),
		"runs/r1/a.bin":   storetest.Payload(3, 100<<10),
		"runs/r1/big.bin": storetest.Payload(4, 11<<20+5), // three parts
	}
	for k, v := range want {
		if err := st.Put(t.Context(), k, bytes.NewReader(v)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := st.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	srv.Restart(t)
	after, err := st.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("List after restart = %+v, want %+v", after, before)
	}
	for i := range before {
		if after[i].Key != before[i].Key || after[i].Size != before[i].Size {
			t.Errorf("List after restart [%d] = %+v, want %+v", i, after[i], before[i])
		}
	}
	for k, v := range want {
		if got := storetest.Get(t, st, k); !bytes.Equal(got, v) {
			t.Errorf("%s after restart: %d bytes, not byte-identical to the %d written", k, len(got), len(v))
		}
	}
}

// TestPutRidesOutRestart checks that a Put issued while the server is down succeeds once the server
// is back within the retry budget.
func TestPutRidesOutRestart(t *testing.T) {
	srv := miniotest.Start(t)
	// 40 tries up to 500 ms apart wait about 20 s in all, far longer than a restart takes; the Put
	// returns as soon as the server is back.
	st := newStore(t, srv, "ride", s3.RetryPolicy{Attempts: 40, Base: 100 * time.Millisecond, Max: 500 * time.Millisecond}, nil)
	srv.Kill(t)
	want := storetest.Payload(5, 1000)
	errc := make(chan error, 1)
	go func() { errc <- st.Put(context.Background(), "k", bytes.NewReader(want)) }()
	time.Sleep(300 * time.Millisecond) // let some tries fail against the dead server
	srv.Restart(t)
	if err := <-errc; err != nil {
		t.Fatalf("Put across a restart: %v", err)
	}
	if got := storetest.Get(t, st, "k"); !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes, want %d", len(got), len(want))
	}
}

// TestAbortOnFailure checks that a failed multipart Put aborts its upload, leaving no parts stored.
func TestAbortOnFailure(t *testing.T) {
	srv := miniotest.Start(t)
	st := newStore(t, srv, "abort", fastRetry, nil)
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(storetest.Payload(6, 12<<20)), iotestErr{boom})
	if err := st.Put(t.Context(), "k", r); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want %v", err, boom)
	}
	if got := incompleteUploads(t, srv, "abort/"); len(got) != 0 {
		t.Errorf("incomplete uploads after failed Put: %q, want none", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cr := &cancelAfter{r: bytes.NewReader(storetest.Payload(7, 12<<20)), n: 7 << 20, cancel: cancel}
	if err := st.Put(ctx, "k", cr); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if got := incompleteUploads(t, srv, "abort/"); len(got) != 0 {
		t.Errorf("incomplete uploads after canceled Put: %q, want none", got)
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestMissingBucket(t *testing.T) {
	srv := miniotest.Start(t)
	st, err := s3.New(s3.Config{Endpoint: srv.Endpoint, Insecure: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Retry: fastRetry},
		"no-such-bucket", "")
	if err != nil {
		t.Fatal(err)
	}
	// A missing bucket is a configuration error, not a missing object.
	if _, err := st.Stat(t.Context(), "k"); err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("Stat in a missing bucket = %v, want an error about the bucket, not fs.ErrNotExist", err)
	}
	if err := st.Put(t.Context(), "k", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "bucket") {
		t.Errorf("Put in a missing bucket = %v, want an error naming the bucket problem", err)
	}
}

// BenchmarkStore measures the backend against a local MinIO server (default part size).
func BenchmarkStore(b *testing.B) {
	srv := miniotest.Start(b)
	st, err := s3.New(s3.Config{Endpoint: srv.Endpoint, Insecure: true, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey},
		srv.Bucket, "bench")
	if err != nil {
		b.Fatal(err)
	}
	storetest.Benchmark(b, st)
}
