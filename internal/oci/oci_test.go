package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// readArchive returns the files of an archive by name.
func readArchive(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
}

func blobOf(t *testing.T, files map[string][]byte, digest string) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+digest[len("sha256:"):]]
	if !ok {
		t.Fatalf("no blob %s", digest)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		t.Fatalf("blob %s has digest %s", digest, got)
	}
	return b
}

// TestWriteArchive writes an image and reads it back as an OCI image layout: index → manifest →
// config and layers, each blob named by its sha256, the layer holding the files with their modes,
// owners and parent directories, and the same bytes when written twice.
func TestWriteArchive(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(src, []byte("#!/bin/true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	img := Image{
		Name: "docker.io/library/x:1.0",
		Layers: [][]File{
			{{Path: "/tmp", Mode: 0o777 | os.ModeSticky}, {Path: "/etc/passwd", Data: []byte("root:x:0:0::/:/bin/sh\n")}},
			{{Path: "/usr/local/bin/prog", Source: src, Mode: 0o755, UID: 7, GID: 8}},
		},
		User:       "65532:65532",
		Env:        []string{"PATH=/usr/local/bin"},
		Entrypoint: []string{"prog"},
	}
	var a, b bytes.Buffer
	if err := WriteArchive(&a, img, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(&b, img, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of one image differ")
	}
	files := readArchive(t, a.Bytes())
	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q", got)
	}
	var index struct {
		Manifests []struct {
			MediaType   string
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != img.Name ||
		index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "1.0" {
		t.Fatalf("index %+v, want one manifest named %s", index, img.Name)
	}
	var manifest struct {
		Config struct{ Digest string }
		Layers []struct {
			MediaType string
			Digest    string
			Size      int64
		}
	}
	if err := json.Unmarshal(blobOf(t, files, index.Manifests[0].Digest), &manifest); err != nil {
		t.Fatal(err)
	}
	var config struct {
		Architecture, OS string
		Config           struct {
			User       string
			Env        []string
			Entrypoint []string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	if err := json.Unmarshal(blobOf(t, files, manifest.Config.Digest), &config); err != nil {
		t.Fatal(err)
	}
	if config.Config.User != img.User || config.OS != "linux" || config.Architecture != "amd64" ||
		len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != "prog" {
		t.Errorf("config %+v", config)
	}
	if len(manifest.Layers) != 2 || len(config.RootFS.DiffIDs) != 2 {
		t.Fatalf("%d layers, %d diff IDs, want 2", len(manifest.Layers), len(config.RootFS.DiffIDs))
	}
	type entry struct {
		mode     int64
		uid, gid int
		typ      byte
		data     string
	}
	want := []map[string]entry{
		{"tmp/": {0o1777, 0, 0, tar.TypeDir, ""}, "etc/": {0o755, 0, 0, tar.TypeDir, ""}, "etc/passwd": {0o644, 0, 0, tar.TypeReg, "root:x:0:0::/:/bin/sh\n"}},
		{"usr/": {0o755, 0, 0, tar.TypeDir, ""}, "usr/local/": {0o755, 0, 0, tar.TypeDir, ""}, "usr/local/bin/": {0o755, 0, 0, tar.TypeDir, ""},
			"usr/local/bin/prog": {0o755, 7, 8, tar.TypeReg, "#!/bin/true\n"}},
	}
	for i, l := range manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar" || l.Digest != config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: %+v, diff ID %s", i, l, config.RootFS.DiffIDs[i])
		}
		tr := tar.NewReader(bytes.NewReader(blobOf(t, files, l.Digest)))
		got := map[string]entry{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			got[h.Name] = entry{h.Mode, h.Uid, h.Gid, h.Typeflag, string(data)}
		}
		if len(got) != len(want[i]) {
			t.Errorf("layer %d: %v, want %v", i, got, want[i])
		}
		for name, w := range want[i] {
			if got[name] != w {
				t.Errorf("layer %d: %s is %+v, want %+v", i, name, got[name], w)
			}
		}
	}
}

func TestWriteArchiveRefusesRelativePaths(t *testing.T) {
	err := WriteArchive(io.Discard, Image{Name: "x:1", Layers: [][]File{{{Path: "etc/passwd", Data: []byte{}}}}}, t.TempDir())
	if err == nil {
		t.Error("a relative path was accepted")
	}
}
