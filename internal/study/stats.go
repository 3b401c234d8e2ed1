// Package study turns the runs of scripts/study.sh (the reproduction study of the ABS paper,
// docs/reproduction.md) into tables, a Parquet file of every figure and PNG plots. This file holds
// its numeric helpers; they do no I/O.
package study

import (
	"math"
	"slices"
	"sort"
)

// MeanSD returns the mean and the sample standard deviation (n−1 in the denominator) of xs; the sd
// of one value is 0, and both are NaN for none.
func MeanSD(xs []float64) (mean, sd float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) == 1 {
		return mean, 0
	}
	var q float64
	for _, x := range xs {
		q += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(q / float64(len(xs)-1))
}

// AverageRanks returns the rank of every value of xs, 1 for the smallest, ties sharing the mean of
// their ranks.
func AverageRanks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Combined is the study's combination of two metrics of the same children, larger better: the sum
// of each child's average ranks under a and under b, so that each metric counts equally whatever
// its scale (the authors' "add" combination is unpublished).
func Combined(a, b []float64) []float64 {
	ra, rb := AverageRanks(a), AverageRanks(b)
	c := make([]float64, len(a))
	for i := range c {
		c[i] = ra[i] + rb[i]
	}
	return c
}

// BinomialSE returns the standard error, in percentage points, of an accuracy of acc percent
// measured on n test images: 100·√(p(1−p)/n).
func BinomialSE(acc float64, n int) float64 {
	p := acc / 100
	return 100 * math.Sqrt(p*(1-p)/float64(n))
}

// Separation describes how far apart the accuracies of trained models lie compared with the noise
// of measuring each one on a finite test set.
type Separation struct {
	Min, Max, SD float64 // of the accuracies, percent
	MeanSE       float64 // mean binomial standard error of one accuracy, percentage points
	// Resolved is the number of model pairs whose accuracies differ by more than twice the standard
	// error of their difference (√(se₁² + se₂²)), and Pairs the number of pairs.
	Resolved, Pairs int
}

// Separate measures the separation of accs (percent), each measured on nTest images.
func Separate(accs []float64, nTest int) Separation {
	s := Separation{Min: slices.Min(accs), Max: slices.Max(accs)}
	_, s.SD = MeanSD(accs)
	se := make([]float64, len(accs))
	for i, a := range accs {
		se[i] = BinomialSE(a, nTest)
		s.MeanSE += se[i]
	}
	s.MeanSE /= float64(len(accs))
	for i := range accs {
		for j := i + 1; j < len(accs); j++ {
			s.Pairs++
			if math.Abs(accs[i]-accs[j]) > 2*math.Hypot(se[i], se[j]) {
				s.Resolved++
			}
		}
	}
	return s
}
