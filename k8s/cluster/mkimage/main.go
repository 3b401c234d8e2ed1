// Command mkimage writes one container image of the local cluster (k8s/images) as an OCI archive,
// for `ctr images import`:
//
//	mkimage -o abs.tar abs NAME BIN_DIR FASHION_DIR LICENCE
//	mkimage -o x.tar [-env K=V]... program NAME SOURCE DEST USER [FILE...]
//
// program puts the static binary SOURCE at DEST as the entrypoint, run as USER ("uid:gid"); each
// FILE (an absolute path on this machine, a shared library say) is copied to the same path.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/abs-nas/abs/internal/oci"
	"github.com/abs-nas/abs/k8s/images"
)

// envList is a repeatable -env flag.
type envList []string

func (e *envList) String() string     { return fmt.Sprint(*e) }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	out := flag.String("o", "", "the archive to write")
	var env envList
	flag.Var(&env, "env", "`KEY=VALUE` in the image's environment (program; repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mkimage -o OUT.tar abs NAME BIN_DIR FASHION_DIR LICENCE\n       mkimage -o OUT.tar program NAME SOURCE DEST USER [FILE...]")
	}
	flag.Parse()
	img, err := image(flag.Args(), env)
	if err == nil && *out == "" {
		err = fmt.Errorf("-o is required")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, img); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func image(args []string, env []string) (oci.Image, error) {
	switch {
	case len(args) == 5 && args[0] == "abs":
		return images.ABS(args[1], args[2], args[3], args[4])
	case len(args) >= 5 && args[0] == "program":
		img := images.Program(args[1], args[2], args[3], args[4], nil, env...)
		if len(args) > 5 {
			var files []oci.File
			for _, f := range args[5:] {
				files = append(files, oci.File{Path: f, Source: f, Mode: 0o755})
			}
			img = images.WithFiles(img, files)
		}
		return img, nil
	}
	return oci.Image{}, fmt.Errorf("bad arguments %q", args)
}

// write writes the archive next to out and renames it, so that out is whole or absent.
func write(out string, img oci.Image) error {
	f, err := os.CreateTemp(filepath.Dir(out), ".mkimage-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	if err := oci.WriteArchive(w, img, filepath.Dir(out)); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}
