package artifacts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts"
)

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	rel, err := filepath.Rel(mustGetwd(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"file://" + dir, "file://localhost" + dir, dir, dir + "/", rel} {
		st, err := artifacts.Open(t.Context(), raw)
		if err != nil {
			t.Errorf("Open(%q): %v", raw, err)
			continue
		}
		if got, want := st.URL("a/b"), "file://"+dir+"/a/b"; got != want {
			t.Errorf("Open(%q).URL(a/b) = %q, want %q", raw, got, want)
		}
	}
}

func TestOpenObjectFile(t *testing.T) {
	dir := t.TempDir()
	for _, raw := range []string{"file://" + dir + "/x/y.parquet", dir + "/x/y.parquet"} {
		st, key, err := artifacts.OpenObject(t.Context(), raw)
		if err != nil {
			t.Errorf("OpenObject(%q): %v", raw, err)
			continue
		}
		if key != "y.parquet" {
			t.Errorf("OpenObject(%q) key = %q, want y.parquet", raw, key)
		}
		if got, want := st.URL(key), "file://"+dir+"/x/y.parquet"; got != want {
			t.Errorf("OpenObject(%q): URL(key) = %q, want %q", raw, got, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", "empty URL"},
		{"gs://bucket/x", `unknown scheme "gs"`},
		{"s3:bucket/x", "want scheme://"},
		{"file://host/x", `host "host"`},
		{"file:///", ""},
	} {
		_, err := artifacts.Open(t.Context(), tc.raw)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Open(%q): %v", tc.raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.raw, err, tc.want)
		}
	}
	for _, raw := range []string{"gs://bucket/x", "file:///"} {
		if _, _, err := artifacts.OpenObject(t.Context(), raw); err == nil {
			t.Errorf("OpenObject(%q): no error", raw)
		}
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// setS3Env points the s3 backend at a server that need not exist: Open sends no request.
func setS3Env(t *testing.T) {
	t.Setenv("ABS_S3_ENDPOINT", "127.0.0.1:1")
	t.Setenv("ABS_S3_INSECURE", "1")
	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
}

func TestOpenS3(t *testing.T) {
	setS3Env(t)
	for _, tc := range []struct{ raw, key, want string }{
		{"s3://bucket/runs/r1", "a/b", "s3://bucket/runs/r1/a/b"},
		{"s3://bucket/runs/r1/", "a", "s3://bucket/runs/r1/a"},
		{"s3://bucket", "a", "s3://bucket/a"},
		{"s3://bucket/", "a", "s3://bucket/a"},
	} {
		st, err := artifacts.Open(t.Context(), tc.raw)
		if err != nil {
			t.Errorf("Open(%q): %v", tc.raw, err)
			continue
		}
		if got := st.URL(tc.key); got != tc.want {
			t.Errorf("Open(%q).URL(%q) = %q, want %q", tc.raw, tc.key, got, tc.want)
		}
	}
	for _, tc := range []struct{ raw, want string }{
		{"s3:///prefix", "no bucket"},
		{"s3://Bad_Bucket/x", "Bad_Bucket"},
		{"s3://bucket/a/../b", `".." segment`},
		{"s3://bucket/x?versionId=1", "query"},
	} {
		if _, err := artifacts.Open(t.Context(), tc.raw); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.raw, err, tc.want)
		}
	}
	if _, _, err := artifacts.OpenObject(t.Context(), "s3://bucket/dir/"); err == nil {
		t.Error("OpenObject(s3://bucket/dir/): no error, want one (no object name)")
	}
}

func TestOpenS3Env(t *testing.T) {
	setS3Env(t)
	t.Setenv("ABS_S3_ENDPOINT", "")
	if _, err := artifacts.Open(t.Context(), "s3://bucket/x"); err == nil || !strings.Contains(err.Error(), "ABS_S3_ENDPOINT") {
		t.Errorf("Open without ABS_S3_ENDPOINT = %v, want an error naming it", err)
	}
}

// TestURLRoundTrip checks that Store.URL and OpenObject invert each other, also for keys with
// characters that URLs escape.
func TestURLRoundTrip(t *testing.T) {
	setS3Env(t)
	for _, root := range []string{"file://" + t.TempDir() + "/with space", "s3://bucket/pre fix"} {
		st, err := artifacts.Open(t.Context(), root)
		if err != nil {
			t.Fatalf("Open(%q): %v", root, err)
		}
		for _, key := range []string{"a", "d/e.parquet", "x y/50%#?.bin", "ünï/çødé", "a=b&c"} {
			u := st.URL(key)
			st2, key2, err := artifacts.OpenObject(t.Context(), u)
			if err != nil {
				t.Errorf("OpenObject(%q): %v", u, err)
				continue
			}
			if got := st2.URL(key2); got != u {
				t.Errorf("OpenObject(%q) then URL(%q) = %q, want the same URL", u, key2, got)
			}
			if want := key[strings.LastIndex(key, "/")+1:]; key2 != want {
				t.Errorf("OpenObject(%q) key = %q, want %q", u, key2, want)
			}
		}
	}
}
