// Package data reads image classification data sets (IDX as used by MNIST and Fashion-MNIST, and the
// CIFAR-10 binary format) into memory, splits and subsamples them deterministically by seed,
// normalises them per channel and serves shuffled, augmented mini-batches.
//
// Unlike the algorithm packages, this package reads local files. Every random choice it makes comes
// from an explicit seed: the same set and the same seed give the same subsets, the same batch order
// and the same augmentation.
package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Set is an in-memory labelled image data set. The zero value is an empty set.
type Set struct {
	// N is the number of examples; C, H and W are channels, height and width of each image.
	N, C, H, W int
	// Classes is the number of classes; every label lies in [0, Classes).
	Classes int
	// Images holds N*C*H*W pixel values in NCHW order. Loaders scale raw bytes to [0,1] (v/255);
	// Normalize changes them in place.
	Images []float32
	// Labels holds the N labels.
	Labels []int
}

// Size returns the number of values in one image, C*H*W.
func (s *Set) Size() int { return s.C * s.H * s.W }

// Image returns the values of example i as a sub-slice of s.Images (not a copy).
func (s *Set) Image(i int) []float32 {
	d := s.Size()
	return s.Images[i*d : (i+1)*d : (i+1)*d]
}

// Subset returns a new set holding copies of the examples idx, in the order given. Indices may
// repeat. It panics if an index is outside [0, N), which is a programmer error.
func (s *Set) Subset(idx []int) *Set {
	d := s.Size()
	out := &Set{N: len(idx), C: s.C, H: s.H, W: s.W, Classes: s.Classes,
		Images: make([]float32, len(idx)*d), Labels: make([]int, len(idx))}
	for j, i := range idx {
		if i < 0 || i >= s.N {
			panic(fmt.Sprintf("data: subset index %d out of range [0, %d)", i, s.N))
		}
		copy(out.Images[j*d:(j+1)*d], s.Images[i*d:(i+1)*d])
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// Sample returns n examples chosen at random without replacement, stratified by class, in their
// original order. Each class k with c_k examples contributes ⌊n·c_k/N⌋ examples, and the n − Σ⌊·⌋
// left over go one each to the classes with the largest remainders n·c_k mod N (ties to the lower
// class), so class proportions are kept as closely as integers allow. Within a class the examples
// are a uniform random choice. The result depends only on s, n and seed.
//
// n larger than N is taken as N (the result is then a copy of s); n < 0 panics.
func (s *Set) Sample(n int, seed int64) *Set {
	return s.Subset(s.stratified(n, seed))
}

// Split divides s into a training part and a validation part holding round(validFrac·N) examples,
// chosen as by Sample (stratified by class). Every example lands in exactly one part; both parts keep
// the original order. The result depends only on s, validFrac and seed. A validFrac outside [0, 1]
// panics.
func (s *Set) Split(validFrac float64, seed int64) (train, valid *Set) {
	if !(validFrac >= 0 && validFrac <= 1) {
		panic(fmt.Sprintf("data: split fraction %v outside [0, 1]", validFrac))
	}
	v := s.stratified(int(math.Round(validFrac*float64(s.N))), seed)
	inValid := make([]bool, s.N)
	for _, i := range v {
		inValid[i] = true
	}
	t := make([]int, 0, s.N-len(v))
	for i := range s.N {
		if !inValid[i] {
			t = append(t, i)
		}
	}
	return s.Subset(t), s.Subset(v)
}

// stratified returns the sorted indices of a stratified random sample of n examples (see Sample).
func (s *Set) stratified(n int, seed int64) []int {
	if n < 0 {
		panic(fmt.Sprintf("data: sample size %d is negative", n))
	}
	n = min(n, s.N)
	byClass := map[int][]int{}
	for i, l := range s.Labels[:s.N] {
		byClass[l] = append(byClass[l], i)
	}
	classes := make([]int, 0, len(byClass))
	for k := range byClass {
		classes = append(classes, k)
	}
	slices.Sort(classes)

	quota := make([]int, len(classes))
	rem := make([]int, len(classes))
	left := n
	for j, k := range classes {
		c := len(byClass[k])
		quota[j] = n * c / s.N
		rem[j] = n * c % s.N
		left -= quota[j]
	}
	order := make([]int, len(classes))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int { return rem[b] - rem[a] })
	for _, j := range order[:left] {
		quota[j]++
	}

	rng := newRand(seed, streamSample, 0)
	out := make([]int, 0, n)
	for j, k := range classes {
		members := byClass[k]
		rng.Shuffle(len(members), func(a, b int) { members[a], members[b] = members[b], members[a] })
		out = append(out, members[:quota[j]]...)
	}
	slices.Sort(out)
	return out
}

// Normalize maps every value v of channel c to (v − mean[c]) / std[c], in place. The std entries
// must be non-zero. It panics if mean or std does not have C entries, which is a programmer error.
func (s *Set) Normalize(mean, std []float32) {
	if len(mean) != s.C || len(std) != s.C {
		panic(fmt.Sprintf("data: normalize with %d means and %d stds for %d channels", len(mean), len(std), s.C))
	}
	hw := s.H * s.W
	for i := range s.N {
		for c := range s.C {
			m, inv := mean[c], 1/std[c]
			p := s.Images[(i*s.C+c)*hw : (i*s.C+c+1)*hw]
			for k, v := range p {
				p[k] = (v - m) * inv
			}
		}
	}
}

// ChannelStats returns the mean and the population standard deviation of each channel over all
// pixels of all images: mean_c = Σ v / M and std_c = sqrt(Σ (v − mean_c)² / M), with M = N·H·W.
// Sums are accumulated in float64. An empty set gives zeros.
func (s *Set) ChannelStats() (mean, std []float32) {
	mean, std = make([]float32, s.C), make([]float32, s.C)
	if s.N == 0 {
		return mean, std
	}
	hw := s.H * s.W
	m := float64(s.N * hw)
	for c := range s.C {
		var sum float64
		for i := range s.N {
			for _, v := range s.Images[(i*s.C+c)*hw : (i*s.C+c+1)*hw] {
				sum += float64(v)
			}
		}
		mu := sum / m
		var ss float64
		for i := range s.N {
			for _, v := range s.Images[(i*s.C+c)*hw : (i*s.C+c+1)*hw] {
				d := float64(v) - mu
				ss += d * d
			}
		}
		mean[c], std[c] = float32(mu), float32(math.Sqrt(ss/m))
	}
	return mean, std
}

// Random streams: each use of a seed draws from its own PCG stream so that, for example, the batch
// order does not change when augmentation is switched on.
const (
	streamSample uint64 = iota + 0x9e3779b97f4a7c15
	streamOrder
	streamAugment
)

// newRand returns the generator for one stream and one epoch of a seed.
func newRand(seed int64, stream uint64, epoch int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream^(uint64(epoch)*0xbf58476d1ce4e5b9)))
}
