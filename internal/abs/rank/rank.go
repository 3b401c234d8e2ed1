// Package rank computes rank correlation coefficients: Kendall's τ_b and Spearman's ρ. The ABS
// paper (Sect. 4.1.2–4.1.4) measures how well a metric ranks child models by Kendall's τ between
// the ranking by the metric and the ranking by ground-truth accuracy.
//
// Both functions take two samples of equal length and share these conventions: a length mismatch
// panics (a programmer error); the result is NaN when n < 2, when either sample contains a NaN, or
// when either sample is constant (the coefficient is then 0/0). ±Inf are ordinary values that rank
// above (or below) every finite value.
//
// References:
//
//	Hu, Liang, Guo, Wan, Zhang, Wei, Gu, Sun: Angle-based Search Space Shrinking for Neural
//	  Architecture Search. ECCV 2020.
//	Kendall, M.G.: A new measure of rank correlation. Biometrika 30(1/2), 81–93 (1938).
//	Kendall, M.G.: The treatment of ties in ranking problems. Biometrika 33(3), 239–251 (1945).
//	Knight, W.R.: A computer method for calculating Kendall's tau with ungrouped data. Journal of
//	  the American Statistical Association 61(314), 436–439 (1966).
package rank

import (
	"cmp"
	"math"
	"slices"
)

// KendallTau returns Kendall's τ_b of x and y:
//
//	τ_b = (n_c − n_d) / sqrt((n_0 − n_1)(n_0 − n_2))
//
// where, over the n_0 = n(n−1)/2 pairs i < j, n_c counts concordant pairs
// (sign(x_i−x_j)·sign(y_i−y_j) = 1) and n_d discordant ones (= −1), n_1 = Σ t(t−1)/2 over the groups
// of t tied values of x and n_2 likewise for y. Without ties τ_b is Kendall's original τ.
//
// It runs in O(n log n) time by Knight's method: sort the pairs by x, then by y; count the pairs
// tied in x (n_1) and tied in both (n_3); merge-sort by y, counting the swaps, which number exactly
// n_d; count the ties of the sorted y (n_2). Then n_c − n_d = n_0 − n_1 − n_2 + n_3 − 2·n_d.
// See the package documentation for lengths, NaN and constant input.
func KendallTau(x, y []float64) float64 {
	n := checked(x, y)
	if n < 2 {
		return math.NaN()
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int {
		if c := cmp.Compare(x[a], x[b]); c != 0 {
			return c
		}
		return cmp.Compare(y[a], y[b])
	})

	ys := make([]float64, n)
	for i, p := range perm {
		ys[i] = y[p]
	}
	// Ties in x (n1) and in x and y jointly (n3), from runs in the (x, y)-sorted order.
	var n1, n3 int64
	for i := 0; i < n; {
		j := i + 1
		for j < n && x[perm[j]] == x[perm[i]] {
			j++
		}
		n1 += pairs(j - i)
		for k := i; k < j; {
			m := k + 1
			for m < j && ys[m] == ys[k] {
				m++
			}
			n3 += pairs(m - k)
			k = m
		}
		i = j
	}
	nd := mergeCount(ys, make([]float64, n))
	var n2 int64
	for i := 0; i < n; {
		j := i + 1
		for j < n && ys[j] == ys[i] {
			j++
		}
		n2 += pairs(j - i)
		i = j
	}
	n0 := pairs(n)
	num := float64(n0 - n1 - n2 + n3 - 2*nd)
	den := math.Sqrt(float64(n0-n1)) * math.Sqrt(float64(n0-n2))
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// mergeCount sorts a ascending by a bottom-up merge sort, using buf (len(a)) as scratch space, and
// returns the number of pairs i < j with a[i] > a[j] in the input, each of which one merge step
// moves past the other. Equal values are not counted: the merge takes from the left run first.
func mergeCount(a, buf []float64) int64 {
	n := len(a)
	var swaps int64
	src, dst := a, buf
	for width := 1; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid, hi := min(lo+width, n), min(lo+2*width, n)
			i, j, k := lo, mid, lo
			for i < mid && j < hi {
				if src[j] < src[i] {
					dst[k] = src[j]
					swaps += int64(mid - i)
					j++
				} else {
					dst[k] = src[i]
					i++
				}
				k++
			}
			k += copy(dst[k:], src[i:mid])
			copy(dst[k:], src[j:hi])
		}
		src, dst = dst, src
	}
	if n > 0 && &src[0] != &a[0] {
		copy(a, src)
	}
	return swaps
}

// Spearman returns Spearman's ρ of x and y: the Pearson correlation of their ranks,
//
//	ρ = Σ (r_i − r̄)(s_i − r̄) / sqrt(Σ (r_i − r̄)² · Σ (s_i − r̄)²),  r̄ = (n+1)/2,
//
// where r and s are the ranks 1…n of x and y, tied values sharing the mean of the ranks they span.
// Without ties this equals 1 − 6 Σ (r_i − s_i)² / (n(n²−1)). See the package documentation for
// lengths, NaN and constant input.
func Spearman(x, y []float64) float64 {
	n := checked(x, y)
	if n < 2 {
		return math.NaN()
	}
	rx, ry := ranks(x), ranks(y)
	mean := float64(n+1) / 2
	var sxy, sxx, syy float64
	for i := range n {
		dx, dy := rx[i]-mean, ry[i]-mean
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns the ranks 1…n of v, with tied values given the mean of the ranks they span.
func ranks(v []float64) []float64 {
	n := len(v)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	r := make([]float64, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && v[perm[j]] == v[perm[i]] {
			j++
		}
		// Positions i…j−1 hold ranks i+1…j, whose mean is (i+1+j)/2.
		avg := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			r[perm[k]] = avg
		}
		i = j
	}
	return r
}

// checked panics if x and y differ in length and returns their length, or −1 if either holds a NaN.
func checked(x, y []float64) int {
	if len(x) != len(y) {
		panic("rank: slice length mismatch")
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return -1
		}
	}
	return len(x)
}

// pairs returns t(t−1)/2, the number of pairs among t items.
func pairs(t int) int64 { return int64(t) * int64(t-1) / 2 }
