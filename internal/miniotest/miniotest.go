// Package miniotest runs a real MinIO server for tests: one process per test, on 127.0.0.1, on a
// free port, with a fresh data directory, fresh credentials and one empty bucket.
//
// The server binary comes from scripts/minio.sh, which builds the pinned MinIO release with
// `go install` into a cache directory on first use (about 8 minutes cold), or from $ABS_MINIO_BIN
// when that is set. When no binary can be had, the test fails if the environment variable CI is set
// (to anything but "", "0" or "false") or ABS_REQUIRE_MINIO=1, and is skipped with a loud message
// otherwise: S3 tests never skip silently in CI.
//
// Only plain S3 requests are sent to the server; MinIO is a stand-in for any S3 service.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Bucket is the name of the bucket every Server starts with.
const Bucket = "abs-test"

// readyTimeout bounds the wait for a started server to answer S3 requests.
const readyTimeout = 60 * time.Second

// Server is a MinIO server process owned by one test. Its zero value is not usable; call Start.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string
	Bucket    string

	bin     string
	dataDir string
	console string // console address, which MinIO binds beside the S3 port
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	out     *syncBuffer
}

// Start starts a server for t and stops it when t ends. The bucket Bucket exists and is empty.
func Start(t testing.TB) *Server {
	t.Helper()
	Track(t)
	bin, err := binary()
	if err != nil {
		if required() {
			t.Fatalf("MinIO server binary unavailable and S3 tests are required here (CI or ABS_REQUIRE_MINIO=1): %v", err)
		}
		t.Skipf("SKIPPING S3 TESTS: MinIO server binary unavailable: %v\n"+
			"These tests did NOT run. Set ABS_REQUIRE_MINIO=1 to make this a failure.", err)
	}
	s := &Server{
		Endpoint:  freeAddr(t),
		console:   freeAddr(t),
		AccessKey: "abs" + randomHex(t, 8),
		SecretKey: randomHex(t, 20),
		Bucket:    Bucket,
		bin:       bin,
		dataDir:   t.TempDir(),
		out:       &syncBuffer{},
	}
	t.Cleanup(func() {
		s.Kill(t)
		if t.Failed() {
			t.Logf("MinIO server output:\n%s", s.out.String())
		}
	})
	s.start(t)
	c := s.Client(t)
	if err := c.MakeBucket(t.Context(), s.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket %s: %v", s.Bucket, err)
	}
	return s
}

// Client returns a minio-go client of s, for checks behind a store's back.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatalf("minio client: %v", err)
	}
	return c
}

// Setenv points the s3 backend's environment (ABS_S3_ENDPOINT, ABS_S3_INSECURE, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, ABS_S3_REGION) at s for the rest of t.
func (s *Server) Setenv(t testing.TB) {
	t.Setenv("ABS_S3_ENDPOINT", s.Endpoint)
	t.Setenv("ABS_S3_INSECURE", "1")
	t.Setenv("ABS_S3_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
}

// Kill stops the server at once (SIGKILL), as a crash would, and waits for the process to exit.
// Killing a stopped server does nothing.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart kills the server if it runs and starts it again on the same address, data directory and
// credentials, returning once it answers S3 requests.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill(t)
	s.start(t)
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.Endpoint, "--console-address", s.console, s.dataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start MinIO server %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	c := s.Client(t)
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			t.Fatalf("MinIO server exited during startup: %s\noutput:\n%s", cmd.ProcessState, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO server at %s not ready after %v: %v\noutput:\n%s", s.Endpoint, readyTimeout, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary returns the path of the MinIO server binary, running scripts/minio.sh once per process.
func binary() (string, error) {
	binOnce.Do(func() {
		if p := os.Getenv("ABS_MINIO_BIN"); p != "" {
			binPath, binErr = p, checkExec(p)
			return
		}
		script, err := findScript()
		if err != nil {
			binErr = err
			return
		}
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			return
		}
		binPath = strings.TrimSpace(string(out))
		binErr = checkExec(binPath)
	})
	return binPath, binErr
}

func checkExec(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("MinIO binary: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("MinIO binary %s is not an executable file", p)
	}
	return nil
}

// findScript finds scripts/minio.sh in the module root above the working directory.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "minio.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("module root %s has no scripts/minio.sh: %w", dir, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/minio.sh not found: no go.mod above the working directory")
		}
		dir = parent
	}
}

// required reports whether S3 tests must run here rather than skip.
func required() bool {
	switch os.Getenv("CI") {
	case "", "0", "false":
	default:
		return true
	}
	return os.Getenv("ABS_REQUIRE_MINIO") == "1"
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

var ran, skipped atomic.Int64

// Track counts t in Summary when it ends: as run, or as skipped. Start tracks its test; a test
// that uses a Server started by its parent tracks itself.
func Track(t testing.TB) {
	t.Cleanup(func() {
		if t.Skipped() {
			skipped.Add(1)
		} else {
			ran.Add(1)
		}
	})
}

// Summary returns a line saying how many tracked tests ran against MinIO and how many skipped.
func Summary() string {
	return fmt.Sprintf("MinIO-backed tests: %d ran, %d skipped", ran.Load(), skipped.Load())
}

// SummaryEnv names a file to which Main appends its summary line, so that a test command can show
// how many MinIO-backed tests ran in every package.
const SummaryEnv = "ABS_TEST_SUMMARY"

// Main runs the tests of a package that uses Servers, prints Summary prefixed with pkg (shown by
// go test -v, or on failure), and returns the exit code for os.Exit. Where S3 tests are required
// (CI or ABS_REQUIRE_MINIO=1) and no -test.run or -test.skip filter is given, a run in which no
// tracked test ran fails: a backend suite cannot pass by running nothing.
func Main(m *testing.M, pkg string) int {
	code := m.Run()
	fmt.Printf("%s: %s\n", pkg, Summary())
	if f := os.Getenv(SummaryEnv); f != "" {
		// go test hides a passing package's output; the Taskfile prints this file instead.
		if out, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(out, "%s: %s\n", pkg, Summary())
			out.Close()
		}
	}
	if code == 0 && required() && ran.Load() == 0 && !filtered() {
		fmt.Printf("%s: FAIL: no MinIO-backed test ran, but S3 tests are required here\n", pkg)
		return 1
	}
	return code
}

func filtered() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for the server's stdout and stderr writers and our reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
