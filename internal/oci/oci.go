// Package oci writes container images as OCI image-layout archives (the tar that
// `ctr images import` and other OCI tools read), from files on this machine, with no container
// engine and no registry.
//
// An archive holds one image: its layers are uncompressed tars whose entries are sorted, owned by
// root unless a File says otherwise and dated at the Unix epoch, so the same files give the same
// bytes and the same image digest.
//
// References: the OCI Image Format Specification v1.1 (image-layout.md, manifest.md, config.md).
package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// File is one entry of a layer: a regular file copied from Source on this machine or holding Data,
// or, with neither, a directory. Path is absolute inside the image.
type File struct {
	Path   string
	Source string
	Data   []byte
	Mode   fs.FileMode // permission bits (and sticky); 0 means 0644 for a file, 0755 for a directory
	UID    int
	GID    int
}

// Image is what an archive holds: its name as containerd will list it (a full reference such as
// docker.io/library/abs:0.1.0), its layers bottom first, and the runtime configuration.
type Image struct {
	Name       string
	Layers     [][]File
	User       string // "uid:gid", numeric, so that the kubelet can check runAsNonRoot
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// blob is one content-addressed file of the archive; a layer's bytes stay in a temporary file.
type blob struct {
	digest string
	size   int64
	data   []byte   // small blobs (config, manifest, index)
	file   *os.File // layers
}

// WriteArchive writes img to w as an OCI image-layout tar. Layers are staged in temporary files
// under tmpDir ("" for the system default), removed before it returns.
func WriteArchive(w io.Writer, img Image, tmpDir string) (err error) {
	if img.Name == "" {
		return fmt.Errorf("image has no name")
	}
	var blobs []blob
	defer func() {
		for _, b := range blobs {
			if b.file != nil {
				b.file.Close()
				os.Remove(b.file.Name())
			}
		}
	}()
	var layers []descriptor
	var diffIDs []string
	for i, files := range img.Layers {
		b, err := writeLayer(files, tmpDir)
		if b.file != nil {
			blobs = append(blobs, b)
		}
		if err != nil {
			return fmt.Errorf("image %s layer %d: %w", img.Name, i, err)
		}
		layers = append(layers, descriptor{MediaType: mediaLayer, Digest: b.digest, Size: b.size})
		diffIDs = append(diffIDs, b.digest) // uncompressed: the digest is the diff ID
	}
	epoch := time.Unix(0, 0).UTC().Format(time.RFC3339)
	cfg := map[string]any{
		"created":      epoch,
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"User":       img.User,
			"Env":        img.Env,
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"WorkingDir": img.WorkingDir,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	cfgBlob, err := jsonBlob(cfg)
	if err != nil {
		return err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        descriptor{MediaType: mediaConfig, Digest: cfgBlob.digest, Size: cfgBlob.size},
		"layers":        layers,
	}
	manBlob, err := jsonBlob(manifest)
	if err != nil {
		return err
	}
	tag := img.Name[strings.LastIndex(img.Name, ":")+1:]
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests": []descriptor{{
			MediaType: mediaManifest, Digest: manBlob.digest, Size: manBlob.size,
			Annotations: map[string]string{
				"io.containerd.image.name":          img.Name,
				"org.opencontainers.image.ref.name": tag,
			},
			Platform: &platform{Architecture: "amd64", OS: "linux"},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	blobs = append(blobs, cfgBlob, manBlob)

	tw := tar.NewWriter(w)
	put := func(name string, mode int64, size int64, r io.Reader) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: size, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if size < 0 {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if r != nil {
			if _, err := io.Copy(tw, r); err != nil {
				return err
			}
		}
		return nil
	}
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := put(d, 0o755, -1, nil); err != nil {
			return err
		}
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].digest < blobs[j].digest })
	for _, b := range blobs {
		var r io.Reader = bytes.NewReader(b.data)
		if b.file != nil {
			if _, err := b.file.Seek(0, io.SeekStart); err != nil {
				return err
			}
			r = b.file
		}
		if err := put("blobs/sha256/"+strings.TrimPrefix(b.digest, "sha256:"), 0o644, b.size, r); err != nil {
			return fmt.Errorf("image %s: write blob: %w", img.Name, err)
		}
	}
	if err := put("oci-layout", 0o644, int64(len(layout)), bytes.NewReader(layout)); err != nil {
		return err
	}
	if err := put("index.json", 0o644, int64(len(indexJSON)), bytes.NewReader(indexJSON)); err != nil {
		return err
	}
	return tw.Close()
}

func jsonBlob(v any) (blob, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return blob{}, err
	}
	sum := sha256.Sum256(b)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), size: int64(len(b)), data: b}, nil
}

// writeLayer writes files, with every parent directory they need, as a tar into a temporary file.
func writeLayer(files []File, tmpDir string) (blob, error) {
	f, err := os.CreateTemp(tmpDir, "oci-layer-*.tar")
	if err != nil {
		return blob{}, err
	}
	b := blob{file: f}
	entries := map[string]File{}
	for _, fl := range files {
		p := path.Clean(fl.Path)
		if !path.IsAbs(p) || p == "/" {
			return b, fmt.Errorf("file path %q: want an absolute path below /", fl.Path)
		}
		if _, dup := entries[p]; dup {
			return b, fmt.Errorf("file path %q twice in one layer", p)
		}
		entries[p] = fl
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	tw := tar.NewWriter(cw)
	for _, p := range names {
		fl := entries[p]
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Uid:     fl.UID,
			Gid:     fl.GID,
			ModTime: time.Unix(0, 0),
			Format:  tar.FormatPAX,
		}
		mode := fl.Mode
		if fl.Data != nil {
			if mode == 0 {
				mode = 0o644
			}
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, int64(len(fl.Data)), int64(mode.Perm())|sticky(mode)
			if err := tw.WriteHeader(hdr); err != nil {
				return b, err
			}
			if _, err := tw.Write(fl.Data); err != nil {
				return b, err
			}
			continue
		}
		if fl.Source == "" {
			if mode == 0 {
				mode = 0o755
			}
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
			hdr.Mode = int64(mode.Perm()) | sticky(mode)
			if err := tw.WriteHeader(hdr); err != nil {
				return b, err
			}
			continue
		}
		src, err := os.Open(fl.Source)
		if err != nil {
			return b, err
		}
		st, err := src.Stat()
		if err != nil || !st.Mode().IsRegular() {
			src.Close()
			return b, fmt.Errorf("%s: want a regular file (%v)", fl.Source, err)
		}
		if mode == 0 {
			mode = 0o644
		}
		hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, st.Size(), int64(mode.Perm())|sticky(mode)
		if err := tw.WriteHeader(hdr); err != nil {
			src.Close()
			return b, err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return b, fmt.Errorf("%s: %w", fl.Source, err)
		}
	}
	if err := tw.Close(); err != nil {
		return b, err
	}
	b.digest, b.size = "sha256:"+hex.EncodeToString(h.Sum(nil)), cw.n
	return b, nil
}

// sticky is the tar mode bit of fs.ModeSticky (a world-writable /tmp needs it).
func sticky(m fs.FileMode) int64 {
	if m&fs.ModeSticky != 0 {
		return 0o1000
	}
	return 0
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
