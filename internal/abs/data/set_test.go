package data

import (
	"math"
	"slices"
	"testing"
)

// indexed returns a set of n 1×1×2 images whose values are (i, −i), so that the original index of
// each example can be read back from any subset, with the given labels (cycled).
func indexed(n, classes int, labels ...int) *Set {
	s := &Set{N: n, C: 1, H: 1, W: 2, Classes: classes, Images: make([]float32, 2*n), Labels: make([]int, n)}
	for i := range n {
		s.Images[2*i], s.Images[2*i+1] = float32(i), -float32(i)
		s.Labels[i] = labels[i%len(labels)]
	}
	return s
}

// origins reads back the original indices of an indexed subset and checks the labels came along.
func origins(t *testing.T, parent, s *Set) []int {
	t.Helper()
	if s.C != parent.C || s.H != parent.H || s.W != parent.W || s.Classes != parent.Classes {
		t.Fatalf("subset shape %d×%d×%d with %d classes, want %d×%d×%d with %d", s.C, s.H, s.W, s.Classes,
			parent.C, parent.H, parent.W, parent.Classes)
	}
	if len(s.Images) != 2*s.N || len(s.Labels) != s.N {
		t.Fatalf("subset of N=%d has %d values and %d labels", s.N, len(s.Images), len(s.Labels))
	}
	idx := make([]int, s.N)
	for j := range s.N {
		i := int(s.Images[2*j])
		if s.Images[2*j+1] != -float32(i) || s.Labels[j] != parent.Labels[i] {
			t.Fatalf("subset example %d does not match parent example %d", j, i)
		}
		idx[j] = i
	}
	return idx
}

func TestSubset(t *testing.T) {
	s := indexed(5, 3, 0, 1, 2)
	sub := s.Subset([]int{4, 0, 4})
	if got := origins(t, s, sub); !slices.Equal(got, []int{4, 0, 4}) {
		t.Errorf("Subset([4 0 4]) holds %v", got)
	}
	sub.Images[0] = 99
	if s.Images[8] != 4 {
		t.Error("Subset shares memory with its parent")
	}
	if e := s.Subset(nil); e.N != 0 || len(e.Images) != 0 {
		t.Errorf("empty subset has N=%d and %d values", e.N, len(e.Images))
	}
}

func TestSubsetPanicsOutOfRange(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Subset([5]) of 5 examples did not panic")
		}
	}()
	indexed(5, 1, 0).Subset([]int{5})
}

func TestSampleStratified(t *testing.T) {
	// Ten examples: class 0 ×7, class 1 ×2, class 2 ×1. For n = 5 the quotas are ⌊35/10⌋ = 3,
	// ⌊10/10⌋ = 1, ⌊5/10⌋ = 0 with remainders 5, 0, 5; the one left over goes to class 0 (tie with
	// class 2 broken to the lower class): 4, 1, 0.
	s := indexed(10, 3, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0)
	for seed := range int64(20) {
		got := s.Sample(5, seed)
		idx := origins(t, s, got)
		if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != 5 {
			t.Fatalf("seed %d: indices %v are not 5 distinct sorted indices", seed, idx)
		}
		counts := make([]int, 3)
		for _, l := range got.Labels {
			counts[l]++
		}
		if !slices.Equal(counts, []int{4, 1, 0}) {
			t.Errorf("seed %d: class counts %v, want [4 1 0]", seed, counts)
		}
	}
	if got := s.Sample(50, 1); !slices.Equal(origins(t, s, got), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("Sample(50) of 10 examples is not the whole set")
	}
	if got := s.Sample(0, 1); got.N != 0 {
		t.Errorf("Sample(0) has %d examples", got.N)
	}
}

func TestSampleDeterministic(t *testing.T) {
	s := indexed(1000, 4, 0, 1, 2, 3, 3, 3)
	a, b := origins(t, s, s.Sample(100, 7)), origins(t, s, s.Sample(100, 7))
	if !slices.Equal(a, b) {
		t.Error("same seed gave different samples")
	}
	if c := origins(t, s, s.Sample(100, 8)); slices.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same sample")
	}
	// Every example is reachable: over many seeds, each of the first 50 examples is drawn.
	seen := make([]bool, 50)
	for seed := range int64(200) {
		for _, i := range origins(t, s, s.Sample(100, seed)) {
			if i < 50 {
				seen[i] = true
			}
		}
	}
	if i := slices.Index(seen, false); i >= 0 {
		t.Errorf("example %d never sampled in 200 seeds", i)
	}
}

func TestSplit(t *testing.T) {
	s := indexed(103, 3, 0, 1, 2, 2)
	for _, frac := range []float64{0, 0.1, 0.25, 1} {
		train, valid := s.Split(frac, 3)
		ti, vi := origins(t, s, train), origins(t, s, valid)
		if want := int(math.Round(frac * 103)); valid.N != want || train.N != 103-want {
			t.Errorf("frac %v: sizes %d/%d, want %d/%d", frac, train.N, valid.N, 103-want, want)
		}
		all := append(slices.Clone(ti), vi...)
		slices.Sort(all)
		for i, v := range all {
			if v != i {
				t.Fatalf("frac %v: train ∪ valid is not a partition of 0…102 (position %d holds %d)", frac, i, v)
			}
		}
		if !slices.IsSorted(ti) || !slices.IsSorted(vi) {
			t.Errorf("frac %v: parts not in original order", frac)
		}
		t2, v2 := s.Split(frac, 3)
		if !slices.Equal(ti, origins(t, s, t2)) || !slices.Equal(vi, origins(t, s, v2)) {
			t.Errorf("frac %v: same seed gave a different split", frac)
		}
	}
	_, v1 := s.Split(0.25, 1)
	_, v2 := s.Split(0.25, 2)
	if slices.Equal(origins(t, s, v1), origins(t, s, v2)) {
		t.Error("seeds 1 and 2 gave the same split")
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Split(%v) did not panic", bad)
				}
			}()
			s.Split(bad, 1)
		}()
	}
}

func TestSplitFashionMNIST(t *testing.T) {
	full, _ := fashion(t)
	train, valid := full.Split(0.1, 42)
	if train.N != 54000 || valid.N != 6000 {
		t.Fatalf("sizes %d/%d, want 54000/6000", train.N, valid.N)
	}
	// 6000 per class in the full set, so a stratified 10% is 600 per class.
	counts := make([]int, 10)
	for _, l := range valid.Labels {
		counts[l]++
	}
	for k, c := range counts {
		if c != 600 {
			t.Errorf("class %d has %d validation examples, want 600", k, c)
		}
	}
	sub := full.Sample(1000, 42)
	if sub.N != 1000 || len(sub.Images) != 1000*784 {
		t.Errorf("Sample(1000) has N=%d with %d values", sub.N, len(sub.Images))
	}
}

func TestChannelStatsNormalize(t *testing.T) {
	// Two images of 2 channels × 1×2 pixels. Channel 0 holds 1, 3, 1, 3: mean 2, std 1. Channel 1
	// holds 10, 20, 10, 20: mean 15, std 5.
	s := &Set{N: 2, C: 2, H: 1, W: 2, Classes: 1, Labels: []int{0, 0},
		Images: []float32{1, 3, 10, 20, 3, 1, 20, 10}}
	mean, std := s.ChannelStats()
	if !slices.Equal(mean, []float32{2, 15}) || !slices.Equal(std, []float32{1, 5}) {
		t.Fatalf("ChannelStats = %v, %v, want [2 15], [1 5]", mean, std)
	}
	s.Normalize(mean, std)
	if want := []float32{-1, 1, -1, 1, 1, -1, 1, -1}; !slices.Equal(s.Images, want) {
		t.Errorf("normalized images %v, want %v", s.Images, want)
	}
	m, sd := (&Set{C: 3}).ChannelStats()
	if !slices.Equal(m, []float32{0, 0, 0}) || !slices.Equal(sd, []float32{0, 0, 0}) {
		t.Errorf("empty set stats %v, %v, want zeros", m, sd)
	}
}

func TestChannelStatsFashionMNIST(t *testing.T) {
	full, _ := fashion(t)
	// Computed independently from a histogram of the raw bytes in Python:
	// Σb = 3431114169 and Σb² = 631470052347 over 47 040 000 bytes give mean = Σb/M/255 =
	// 0.2860406 and std = sqrt(Σb²/M/255² − mean²) = 0.3530242.
	mean, std := full.ChannelStats()
	if len(mean) != 1 || math.Abs(float64(mean[0])-0.2860406) > 1e-6 || math.Abs(float64(std[0])-0.3530242) > 1e-6 {
		t.Errorf("ChannelStats = %v, %v, want [0.2860406], [0.3530242]", mean, std)
	}
	// Normalising a sample with these statistics leaves it close to mean 0 and std 1.
	sub := full.Sample(2000, 1)
	sub.Normalize(mean, std)
	m, s := sub.ChannelStats()
	if math.Abs(float64(m[0])) > 0.05 || math.Abs(float64(s[0])-1) > 0.05 {
		t.Errorf("normalized sample stats %v, %v, want about 0 and 1", m, s)
	}
}

func TestNormalizePanicsOnChannelMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Normalize with 2 means for 1 channel did not panic")
		}
	}()
	indexed(2, 1, 0).Normalize([]float32{0, 0}, []float32{1, 1})
}
