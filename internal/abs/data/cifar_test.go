package data

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecordBytes builds one CIFAR-10 record whose byte at (channel c, row y, column x) is
// (label + 3c + 5y + 7x) mod 256, so every position is distinguishable.
func cifarRecordBytes(label byte) []byte {
	rec := []byte{label}
	for c := range 3 {
		for y := range 32 {
			for x := range 32 {
				rec = append(rec, byte(int(label)+3*c+5*y+7*x))
			}
		}
	}
	return rec
}

func TestReadCIFAR10(t *testing.T) {
	raw := append(cifarRecordBytes(3), cifarRecordBytes(9)...)
	for _, c := range []struct {
		name string
		data []byte
	}{{"raw", raw}, {"gzip", gzipBytes(t, raw)}} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ReadCIFAR10(bytes.NewReader(c.data), "batch.bin")
			if err != nil {
				t.Fatal(err)
			}
			if s.N != 2 || s.C != 3 || s.H != 32 || s.W != 32 || s.Classes != 10 {
				t.Fatalf("N,C,H,W,Classes = %d,%d,%d,%d,%d, want 2,3,32,32,10", s.N, s.C, s.H, s.W, s.Classes)
			}
			if s.Labels[0] != 3 || s.Labels[1] != 9 {
				t.Errorf("labels = %v, want [3 9]", s.Labels)
			}
			// Spot checks of the NCHW layout: value = (label + 3c + 5y + 7x) mod 256 / 255.
			for _, p := range []struct{ i, c, y, x int }{{0, 0, 0, 0}, {0, 2, 31, 31}, {1, 1, 4, 9}, {1, 2, 0, 1}} {
				want := float32(byte(int(s.Labels[p.i])+3*p.c+5*p.y+7*p.x)) / 255
				if got := s.Images[((p.i*3+p.c)*32+p.y)*32+p.x]; got != want {
					t.Errorf("image %d at (c=%d,y=%d,x=%d) = %v, want %v", p.i, p.c, p.y, p.x, got, want)
				}
			}
		})
	}
}

func TestReadCIFAR10Errors(t *testing.T) {
	good := cifarRecordBytes(1)
	badLabel := cifarRecordBytes(10)
	for _, c := range []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"b.bin", "empty"}},
		{"truncated", append(append([]byte(nil), good...), good[:100]...), []string{"b.bin", "truncated", "1 records and 100 bytes"}},
		{"bad label", append(append([]byte(nil), good...), badLabel...), []string{"b.bin", "record 1", "label 10"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ReadCIFAR10(bytes.NewReader(c.data), "b.bin"); err == nil {
				t.Fatal("no error")
			} else {
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			}
		})
	}
}

func TestLoadCIFAR10(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "data_batch_1.bin"), filepath.Join(dir, "data_batch_2.bin")
	if err := os.WriteFile(p1, append(cifarRecordBytes(0), cifarRecordBytes(1)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, cifarRecordBytes(7), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadCIFAR10(p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || len(s.Images) != 3*3072 || len(s.Labels) != 3 {
		t.Fatalf("N = %d with %d values and %d labels, want 3, 9216, 3", s.N, len(s.Images), len(s.Labels))
	}
	if s.Labels[0] != 0 || s.Labels[1] != 1 || s.Labels[2] != 7 {
		t.Errorf("labels = %v, want [0 1 7] (files in order)", s.Labels)
	}
	// The third example comes from the second file: its byte at (c=1, y=2, x=3) is 7+3+10+21 = 41.
	if got, want := s.Images[2*3072+(1*32+2)*32+3], float32(41)/255; got != want {
		t.Errorf("example 2 at (1,2,3) = %v, want %v", got, want)
	}

	if _, err := LoadCIFAR10(); err == nil {
		t.Error("no files: no error")
	}
	missing := filepath.Join(dir, "data_batch_3.bin")
	if _, err := LoadCIFAR10(p1, missing); err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want a not-exist error naming %s", err, missing)
	}
	short := filepath.Join(dir, "short.bin")
	if err := os.WriteFile(short, cifarRecordBytes(2)[:3000], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCIFAR10(p1, short); err == nil || !strings.Contains(err.Error(), short+": truncated") {
		t.Errorf("truncated file: error %v, want one naming %s as truncated", err, short)
	}
}
