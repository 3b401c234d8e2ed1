package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes encodes an unsigned-byte IDX file with the given dimensions and data.
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Three 2×3 images with pixel bytes 0…17 and labels 2, 0, 4.
var (
	tinyPixels = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
	tinyImages = idxBytes([]int{3, 2, 3}, tinyPixels)
	tinyLabels = idxBytes([]int{3}, []byte{2, 0, 4})
)

func checkTiny(t *testing.T, s *Set) {
	t.Helper()
	if s.N != 3 || s.C != 1 || s.H != 2 || s.W != 3 {
		t.Fatalf("N,C,H,W = %d,%d,%d,%d, want 3,1,2,3", s.N, s.C, s.H, s.W)
	}
	// Classes is one more than the largest label, 4.
	if s.Classes != 5 {
		t.Errorf("Classes = %d, want 5", s.Classes)
	}
	for i, b := range tinyPixels {
		if want := float32(b) / 255; s.Images[i] != want {
			t.Errorf("Images[%d] = %v, want %v", i, s.Images[i], want)
		}
	}
	if want := []int{2, 0, 4}; !slices.Equal(s.Labels, want) {
		t.Errorf("Labels = %v, want %v", s.Labels, want)
	}
}

func TestReadIDX(t *testing.T) {
	for _, c := range []struct {
		name           string
		images, labels []byte
	}{
		{"raw", tinyImages, tinyLabels},
		{"gzip", gzipBytes(t, tinyImages), gzipBytes(t, tinyLabels)},
		{"mixed", gzipBytes(t, tinyImages), tinyLabels},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ReadIDX(bytes.NewReader(c.images), bytes.NewReader(c.labels), "tiny")
			if err != nil {
				t.Fatal(err)
			}
			checkTiny(t, s)
		})
	}
}

func TestReadIDXErrors(t *testing.T) {
	badMagic := append([]byte{0, 0, 0x08, 0x02}, tinyImages[4:]...)
	floatType := append([]byte{0, 0, 0x0d, 0x03}, tinyImages[4:]...)
	for _, c := range []struct {
		name           string
		images, labels []byte
		want           []string // substrings of the error
	}{
		{"empty images", nil, tinyLabels, []string{"tiny images", "header", "unexpected EOF"}},
		{"short header", tinyImages[:9], tinyLabels, []string{"tiny images", "dimensions", "unexpected EOF"}},
		{"truncated images", tinyImages[:len(tinyImages)-1], tinyLabels, []string{"tiny images", "truncated", "18 data bytes, read 17"}},
		{"truncated labels", tinyImages, tinyLabels[:len(tinyLabels)-2], []string{"tiny labels", "truncated", "3 data bytes, read 1"}},
		{"truncated gzip", gzipBytes(t, tinyImages)[:30], tinyLabels, []string{"tiny images", "unexpected EOF"}},
		{"trailing data", append(append([]byte(nil), tinyImages...), 7), tinyLabels, []string{"tiny images", "trailing data"}},
		{"bad magic", badMagic, tinyLabels, []string{"tiny images", "bad magic 00 00 08 02", "want 00 00 08 03"}},
		{"float elements", floatType, tinyLabels, []string{"tiny images", "bad magic 00 00 0d 03"}},
		{"labels as images", tinyImages, tinyImages, []string{"tiny labels", "bad magic 00 00 08 03", "want 00 00 08 01"}},
		{"count mismatch", tinyImages, idxBytes([]int{2}, []byte{1, 2}), []string{"tiny labels has 2 labels", "tiny images has 3 images"}},
		// A header announcing 4 GiB of pixels over a 3-byte body fails as truncated without
		// allocating the announced size.
		{"huge claim", idxBytes([]int{1 << 20, 1 << 10, 4}, []byte{1, 2, 3}), idxBytes([]int{1 << 20}, nil), []string{"tiny images", "truncated", "read 3"}},
		{"too large", idxBytes([]int{1 << 30, 1 << 30, 1}, nil), idxBytes([]int{1 << 30}, nil), []string{"tiny images", "too large"}},
		{"zero size", idxBytes([]int{0, 2, 3}, nil), idxBytes([]int{0}, nil), []string{"tiny images", "empty"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ReadIDX(bytes.NewReader(c.images), bytes.NewReader(c.labels), "tiny")
			if err == nil {
				t.Fatalf("got a set of %d examples, want an error", s.N)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	img, lbl := filepath.Join(dir, "img-idx3-ubyte.gz"), filepath.Join(dir, "lbl-idx1-ubyte")
	if err := os.WriteFile(img, gzipBytes(t, tinyImages), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lbl, tinyLabels, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadIDX(img, lbl)
	if err != nil {
		t.Fatal(err)
	}
	checkTiny(t, s)

	missing := filepath.Join(dir, "missing")
	if _, err := LoadIDX(img, missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing label file: error %v, want a not-exist error naming %s", err, missing)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, tinyLabels[:9], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIDX(img, short); err == nil || !strings.Contains(err.Error(), short+": truncated") {
		t.Errorf("truncated label file: error %v, want one naming %s as truncated", err, short)
	}
}

func TestFashionMNISTErrors(t *testing.T) {
	if _, err := FashionMNIST(FashionMNISTDir, "valid"); err == nil || !strings.Contains(err.Error(), `"valid"`) {
		t.Errorf("split valid: error %v, want one naming the split", err)
	}
	dir := t.TempDir()
	want := filepath.Join(dir, "t10k-images-idx3-ubyte.gz")
	if _, err := FashionMNIST(dir, "test"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("empty dir: error %v, want one naming %s", err, want)
	}
	// 28×28 is required: a well-formed IDX pair of 2×3 images is rejected.
	if err := os.WriteFile(want, tinyImages, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), tinyLabels, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FashionMNIST(dir, "test"); err == nil || !strings.Contains(err.Error(), "2x3, want 28x28") {
		t.Errorf("2x3 images: error %v, want a dimension error", err)
	}
}
