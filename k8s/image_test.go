package k8s_test

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abs-nas/abs/k8s/images"
)

// TestImageMatchesDockerfile checks that the abs image the local cluster packs without a
// container engine (k8s/images, k8s/cluster/up.sh) has what k8s/Dockerfile's final stage has:
// every binary of ./cmd/... and ./steps/... in the directory the binaries are copied to,
// Fashion-MNIST and its licence where the Dockerfile copies them, and the same USER.
func TestImageMatchesDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// The final stage: its COPY lines (source in the earlier stage, destination) and USER.
	type copyLine struct{ src, dest string }
	var copies []copyLine
	user := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && f[0] == "FROM":
			copies, user = nil, ""
		case len(f) == 4 && f[0] == "COPY" && strings.HasPrefix(f[1], "--from="):
			copies = append(copies, copyLine{f[2], f[3]})
		case len(f) > 1 && f[0] == "USER":
			user = f[1]
		}
	}
	if len(copies) == 0 {
		t.Fatal("no COPY --from in the Dockerfile's final stage")
	}

	// The binaries the Dockerfile's build stage makes: one per main package under cmd/ and steps/.
	var binaries []string
	for _, dir := range []string{"../cmd", "../steps"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				binaries = append(binaries, e.Name())
			}
		}
	}
	tmp := t.TempDir()
	binDir, fashionDir := filepath.Join(tmp, "bin"), filepath.Join(tmp, "fashion")
	legal := filepath.Join(tmp, "copyright")
	fashion := []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}
	for _, d := range []string{binDir, fashionDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range binaries {
		write(t, filepath.Join(binDir, f))
	}
	for _, f := range fashion {
		write(t, filepath.Join(fashionDir, f))
	}
	write(t, legal)
	img, err := images.ABS("docker.io/library/abs:0.1.0", binDir, fashionDir, legal)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, layer := range img.Layers {
		for _, f := range layer {
			files[path.Clean(f.Path)] = f.Source != "" || f.Data != nil
		}
	}

	if img.User != user {
		t.Errorf("image user %q, want the Dockerfile's USER %q", img.User, user)
	}
	for _, c := range copies {
		var want []string
		switch {
		case c.src == "/out/": // the build stage's binaries
			for _, f := range binaries {
				want = append(want, path.Join(c.dest, f))
			}
			if !slices.Contains(img.Env, "PATH=/usr/local/bin:/usr/bin:/bin") || c.dest != "/usr/local/bin/" {
				t.Errorf("binaries at %s with env %q, want them on the image's PATH", c.dest, img.Env)
			}
		case strings.HasSuffix(c.src, "/"): // a folder's files
			for _, f := range fashion {
				want = append(want, path.Join(c.dest, f))
			}
		default:
			want = []string{c.dest}
		}
		for _, w := range want {
			if !files[w] {
				t.Errorf("the image has no file %s (Dockerfile: COPY %s %s)", w, c.src, c.dest)
			}
		}
	}
}

func write(t *testing.T, name string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
}
