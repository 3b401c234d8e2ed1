package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs the gzipped IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// IDX type code for unsigned bytes, the only element type MNIST-style files use.
const idxUbyte = 0x08

// ReadIDX reads an image file and a label file in the IDX format of MNIST and Fashion-MNIST, each
// either raw or gzip-compressed (detected from the stream). name identifies the pair in errors.
//
// An IDX file starts with the magic number 0x00 0x00 type ndims, then ndims big-endian uint32
// dimensions, then the elements. Images must be unsigned bytes with 3 dimensions (N, H, W); labels
// unsigned bytes with 1 dimension (N). The set has C = 1, pixels scaled to [0,1] by v/255, and
// Classes = 1 + the largest label. Both streams must hold exactly the data their headers announce.
func ReadIDX(images, labels io.Reader, name string) (*Set, error) {
	return readIDX(images, labels, name+" images", name+" labels")
}

// LoadIDX reads an IDX image file and label file (see ReadIDX); errors name the offending file.
func LoadIDX(imagesPath, labelsPath string) (*Set, error) {
	fi, err := os.Open(imagesPath)
	if err != nil {
		return nil, fmt.Errorf("load idx: %w", err)
	}
	defer fi.Close()
	fl, err := os.Open(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("load idx: %w", err)
	}
	defer fl.Close()
	return readIDX(fi, fl, imagesPath, labelsPath)
}

// FashionMNIST loads the "train" (60 000 images) or "test" (10 000 images) split of Fashion-MNIST
// from the gzipped IDX files in dir, usually FashionMNISTDir. The set has 1×28×28 images and
// 10 classes.
func FashionMNIST(dir, split string) (*Set, error) {
	var prefix string
	switch split {
	case "train":
		prefix = "train"
	case "test":
		prefix = "t10k"
	default:
		return nil, fmt.Errorf("fashion-mnist: split %q, want \"train\" or \"test\"", split)
	}
	ip := filepath.Join(dir, prefix+"-images-idx3-ubyte.gz")
	lp := filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz")
	s, err := LoadIDX(ip, lp)
	if err != nil {
		return nil, fmt.Errorf("fashion-mnist: %w", err)
	}
	if s.H != 28 || s.W != 28 {
		return nil, fmt.Errorf("fashion-mnist: %s: images are %dx%d, want 28x28", ip, s.H, s.W)
	}
	if s.Classes > 10 {
		return nil, fmt.Errorf("fashion-mnist: %s: label %d, want labels in [0, 10)", lp, s.Classes-1)
	}
	s.Classes = 10
	return s, nil
}

func readIDX(images, labels io.Reader, imgName, lblName string) (*Set, error) {
	ir, closeI, err := decompress(images, imgName)
	if err != nil {
		return nil, err
	}
	defer closeI()
	lr, closeL, err := decompress(labels, lblName)
	if err != nil {
		return nil, err
	}
	defer closeL()

	idims, err := readIDXHeader(ir, imgName, 3)
	if err != nil {
		return nil, err
	}
	ldims, err := readIDXHeader(lr, lblName, 1)
	if err != nil {
		return nil, err
	}
	n, h, w := idims[0], idims[1], idims[2]
	if ldims[0] != n {
		return nil, fmt.Errorf("%s has %d labels but %s has %d images", lblName, ldims[0], imgName, n)
	}
	if n == 0 || h == 0 || w == 0 {
		return nil, fmt.Errorf("%s: empty dimensions %dx%dx%d", imgName, n, h, w)
	}
	if uint64(n)*uint64(h)*uint64(w) > 1<<34 {
		return nil, fmt.Errorf("%s: dimensions %dx%dx%d too large", imgName, n, h, w)
	}

	pix, err := readBody(ir, imgName, n*h*w)
	if err != nil {
		return nil, err
	}
	lab, err := readBody(lr, lblName, n)
	if err != nil {
		return nil, err
	}
	s := &Set{N: n, C: 1, H: h, W: w, Images: scaleBytes(pix), Labels: make([]int, n)}
	for i, b := range lab {
		s.Labels[i] = int(b)
		s.Classes = max(s.Classes, int(b)+1)
	}
	return s, nil
}

// readIDXHeader reads the magic number and dimensions of an unsigned-byte IDX file of ndims
// dimensions.
func readIDXHeader(r io.Reader, name string, ndims int) ([]int, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("%s: read header: %w", name, truncated(err))
	}
	want := [4]byte{0, 0, idxUbyte, byte(ndims)}
	if magic != want {
		return nil, fmt.Errorf("%s: bad magic % x, want % x (unsigned bytes, %d dimensions)", name, magic, want, ndims)
	}
	raw := make([]byte, 4*ndims)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("%s: read dimensions: %w", name, truncated(err))
	}
	dims := make([]int, ndims)
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if d > 1<<30 {
			return nil, fmt.Errorf("%s: dimension %d is %d, too large", name, i, d)
		}
		dims[i] = int(d)
	}
	return dims, nil
}

// readBody reads exactly n bytes and checks that the stream ends there. The buffer grows with the
// data actually read, so a corrupt header announcing a huge size fails at the end of the stream
// instead of allocating that size up front.
func readBody(r io.Reader, name string, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<26))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), len(buf)))
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < n {
			return nil, fmt.Errorf("%s: truncated: header announces %d data bytes, read %d: %w", name, n, len(buf), truncated(err))
		}
	}
	var extra [1]byte
	if k, err := r.Read(extra[:]); k > 0 || (err != nil && err != io.EOF) {
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: after %d data bytes: %w", name, n, err)
		}
		return nil, fmt.Errorf("%s: trailing data after the %d bytes the header announces", name, n)
	}
	return buf, nil
}

// decompress returns a reader of the decompressed stream if r starts with the gzip magic bytes, or
// of r itself otherwise.
func decompress(r io.Reader, name string) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: gzip: %w", name, truncated(err))
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// truncated turns a premature end of stream into io.ErrUnexpectedEOF so that errors say "unexpected
// EOF" whether the stream ended before or inside a read.
func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// scaleBytes maps raw pixel bytes b to b/255.
func scaleBytes(b []byte) []float32 {
	var table [256]float32
	for i := range table {
		table[i] = float32(i) / 255
	}
	out := make([]float32, len(b))
	for i, v := range b {
		out[i] = table[v]
	}
	return out
}
