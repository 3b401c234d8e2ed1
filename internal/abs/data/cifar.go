package data

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// CIFAR-10 binary format: each record is one label byte followed by a 32×32 image as 1024 red, 1024
// green and 1024 blue bytes, each plane in row-major order.
const (
	cifarSide    = 32
	cifarClasses = 10
	cifarPixels  = 3 * cifarSide * cifarSide
	cifarRecord  = 1 + cifarPixels
)

// ReadCIFAR10 reads a file in the CIFAR-10 binary format (data_batch_*.bin, test_batch.bin), raw or
// gzip-compressed; name identifies it in errors. The set has 3×32×32 images with pixels scaled to
// [0,1] by v/255 and 10 classes. The stream must hold at least one record, a whole number of
// 3073-byte records, and labels below 10.
func ReadCIFAR10(r io.Reader, name string) (*Set, error) {
	s := &Set{C: 3, H: cifarSide, W: cifarSide, Classes: cifarClasses}
	if err := appendCIFAR10(s, r, name); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadCIFAR10 reads and concatenates CIFAR-10 binary files in the order given, for example the five
// data_batch_N.bin files of the training set. Errors name the offending file.
func LoadCIFAR10(paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("load cifar-10: no files given")
	}
	s := &Set{C: 3, H: cifarSide, W: cifarSide, Classes: cifarClasses}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("load cifar-10: %w", err)
		}
		err = appendCIFAR10(s, f, p)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("load cifar-10: %w", err)
		}
	}
	return s, nil
}

func appendCIFAR10(s *Set, r io.Reader, name string) error {
	dr, closeR, err := decompress(r, name)
	if err != nil {
		return err
	}
	defer closeR()
	raw, err := io.ReadAll(dr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(raw) == 0 {
		return fmt.Errorf("%s: empty, want records of %d bytes", name, cifarRecord)
	}
	if len(raw)%cifarRecord != 0 {
		return fmt.Errorf("%s: truncated: %d bytes is not a whole number of %d-byte records (%d records and %d bytes)",
			name, len(raw), cifarRecord, len(raw)/cifarRecord, len(raw)%cifarRecord)
	}
	n := len(raw) / cifarRecord
	var table [256]float32
	for i := range table {
		table[i] = float32(i) / 255
	}
	images := make([]float32, n*cifarPixels)
	labels := make([]int, n)
	for i := range n {
		rec := raw[i*cifarRecord : (i+1)*cifarRecord]
		if rec[0] >= cifarClasses {
			return fmt.Errorf("%s: record %d: label %d, want a label in [0, %d)", name, i, rec[0], cifarClasses)
		}
		labels[i] = int(rec[0])
		dst := images[i*cifarPixels : (i+1)*cifarPixels]
		for k, v := range rec[1:] {
			dst[k] = table[v]
		}
	}
	s.N += n
	s.Images = append(s.Images, images...)
	s.Labels = append(s.Labels, labels...)
	return nil
}
