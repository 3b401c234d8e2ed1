// Package images says what each container image of the local cluster (k8s/cluster) holds: the abs
// image that k8s/Dockerfile describes, and the images of the programs the cluster runs (the pause
// container, CoreDNS, Argo's controller and executor, MinIO and its client), each from binaries
// built on this machine. k8s/cluster/mkimage writes them as OCI archives with package oci.
package images

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/abs-nas/abs/internal/oci"
)

// Paths inside the abs image, as k8s/Dockerfile writes them.
const (
	BinDir       = "/usr/local/bin"
	FashionDir   = "/usr/share/datasets/fashion-mnist"
	FashionLegal = "/usr/share/doc/dataset-fashion-mnist/copyright"
	// NonRoot is the user every abs step runs as (the Dockerfile's USER, distroless's nonroot).
	NonRoot = "65532:65532"
)

// Path is the PATH of every image.
const Path = "PATH=/usr/local/bin:/usr/bin:/bin"

// base is the layer under every image, what distroless/static adds to an empty one and these
// programs need: a root and a nonroot user, and a /tmp that anyone may write.
func base() []oci.File {
	return []oci.File{
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{Path: "/home/nonroot", Mode: 0o700, UID: 65532, GID: 65532},
		{Path: "/root", Mode: 0o700},
		{Path: "/tmp", Mode: 0o777 | os.ModeSticky},
	}
}

// ABS is the image of the pipelines' steps: every binary in binDir under BinDir, Fashion-MNIST's
// files from fashionDir under FashionDir and its licence from legal at FashionLegal, run as
// NonRoot.
func ABS(name, binDir, fashionDir, legal string) (oci.Image, error) {
	bins, err := regularFiles(binDir, BinDir, 0o755)
	if err != nil {
		return oci.Image{}, err
	}
	data, err := regularFiles(fashionDir, FashionDir, 0o644)
	if err != nil {
		return oci.Image{}, err
	}
	data = append(data, oci.File{Path: FashionLegal, Source: legal})
	return oci.Image{
		Name:   name,
		Layers: [][]oci.File{base(), data, bins},
		User:   NonRoot,
		Env:    []string{Path},
	}, nil
}

// Program is the image of one static binary at dest, run as user with the given entrypoint
// (dest when empty) and environment.
func Program(name, src, dest, user string, entrypoint []string, env ...string) oci.Image {
	if entrypoint == nil {
		entrypoint = []string{dest}
	}
	return oci.Image{
		Name:       name,
		Layers:     [][]oci.File{base(), {{Path: dest, Source: src, Mode: 0o755}}},
		User:       user,
		Env:        append([]string{Path}, env...),
		Entrypoint: entrypoint,
	}
}

// WithFiles returns img with one more layer holding files (a dynamically linked program's
// libraries, say).
func WithFiles(img oci.Image, files []oci.File) oci.Image {
	img.Layers = append(img.Layers, files)
	return img
}

// regularFiles lists the regular files of dir (not below it), sorted, as files under dest.
func regularFiles(dir, dest string, mode os.FileMode) ([]oci.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []oci.File
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		files = append(files, oci.File{Path: dest + "/" + e.Name(), Source: filepath.Join(dir, e.Name()), Mode: mode})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no files", dir)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}
