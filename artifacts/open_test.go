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
