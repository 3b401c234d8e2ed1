package miniotest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnavailableBinary runs a test that needs MinIO in a child process whose binary is missing,
// and checks that it fails under CI or ABS_REQUIRE_MINIO=1 and skips loudly otherwise.
func TestUnavailableBinary(t *testing.T) {
	if os.Getenv("ABS_MINIOTEST_CHILD") == "1" {
		Start(t)
		t.Fatal("Start returned without a MinIO binary")
	}
	for _, tc := range []struct {
		env      []string
		wantFail bool
	}{
		{[]string{"CI=true"}, true},
		{[]string{"CI=1", "ABS_REQUIRE_MINIO="}, true},
		{[]string{"CI=", "ABS_REQUIRE_MINIO=1"}, true},
		{[]string{"CI=", "ABS_REQUIRE_MINIO="}, false},
		{[]string{"CI=false", "ABS_REQUIRE_MINIO="}, false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailableBinary$", "-test.v")
		cmd.Env = append(os.Environ(), "ABS_MINIOTEST_CHILD=1", "ABS_MINIO_BIN=/nonexistent/minio", "CI=", "ABS_REQUIRE_MINIO=")
		cmd.Env = append(cmd.Env, tc.env...)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != tc.wantFail {
			t.Errorf("with %q: child failed=%v, want %v; output:\n%s", tc.env, failed, tc.wantFail, out)
			continue
		}
		want := "SKIPPING S3 TESTS"
		if tc.wantFail {
			want = "S3 tests are required here"
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("with %q: output lacks %q:\n%s", tc.env, want, out)
		}
	}
}

// TestStartRestart checks the harness itself: the bucket exists, data survives a kill and restart,
// and a killed server refuses connections.
func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ok, err := c.BucketExists(t.Context(), s.Bucket)
	if err != nil || !ok {
		t.Fatalf("BucketExists(%s) = %v, %v; want true", s.Bucket, ok, err)
	}
	s.Kill(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := c.ListBuckets(ctx); err == nil {
		t.Error("killed server still answers")
	}
	s.Restart(t)
	if ok, err := c.BucketExists(t.Context(), s.Bucket); err != nil || !ok {
		t.Errorf("after restart BucketExists(%s) = %v, %v; want true", s.Bucket, ok, err)
	}
}
