package rank

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveTau computes τ_b from its definition by visiting all n(n−1)/2 pairs.
func naiveTau(x, y []float64) float64 {
	var s, tx, ty, n0 float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			a, b := sign(x[i]-x[j]), sign(y[i]-y[j])
			s += a * b
			n0++
			if a == 0 {
				tx++
			}
			if b == 0 {
				ty++
			}
		}
	}
	return s / math.Sqrt((n0-tx)*(n0-ty))
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// Each case is worked by hand in its comment: C and D count concordant and discordant pairs,
// n1/n2 the pairs tied in x/y; for ρ, r and s are the average ranks and d their deviations from
// the mean rank.
var cases = []struct {
	name     string
	x, y     []float64
	tau, rho float64
}{
	// Identical order: all 10 pairs concordant; ranks equal.
	{"identical", []float64{1, 2, 3, 4, 5}, []float64{10, 20, 30, 40, 50}, 1, 1},
	// Reversed: all 10 pairs discordant; ranks mirrored.
	{"reversed", []float64{1, 2, 3, 4, 5}, []float64{5, 4, 3, 2, 1}, -1, -1},
	// y = 3 1 2 5 4: discordant pairs (3,1) (3,2) (5,4), so C = 7, D = 3, τ = 4/10.
	// Σd² = 4+1+1+1+1 = 8, ρ = 1 − 6·8/(5·24) = 0.6.
	{"no ties", []float64{1, 2, 3, 4, 5}, []float64{3, 1, 2, 5, 4}, 0.4, 0.6},
	// Pairs: (0,1) (0,2) (0,3) C; (1,2) tied in x; (1,3) D; (2,3) tied in y. C = 3, D = 1,
	// n1 = n2 = 1, τ_b = 2/sqrt(5·5) = 0.4. r = 1 2.5 2.5 4, s = 1 4 2.5 2.5, mean 2.5:
	// Σ d_r d_s = 2.25, Σ d_r² = Σ d_s² = 4.5, ρ = 0.5.
	{"ties", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 2}, 0.4, 0.5},
	// Pairs: (0,1) tied in both; (0,2) (1,2) D; (0,3) (0,4) (1,3) (1,4) (2,4) C; (2,3) tied in x;
	// (3,4) tied in y. C = 5, D = 2, n1 = n2 = 2, τ_b = 3/sqrt(8·8) = 0.375.
	// r = 1.5 1.5 3.5 3.5 5, s = 2.5 2.5 1 4.5 4.5, mean 3: Σ d_r d_s = 0.75+0.75−1+0.75+3 = 4.25,
	// Σ d_r² = Σ d_s² = 9, ρ = 4.25/9.
	{"joint ties", []float64{1, 1, 2, 2, 3}, []float64{2, 2, 1, 3, 3}, 0.375, 4.25 / 9},
	// Infinities rank like other values: the same as "no ties".
	{"infinities", []float64{math.Inf(-1), 2, 3, 4, math.Inf(1)}, []float64{3, math.Inf(-1), 2, 5, 4}, 0.4, 0.6},
	// Two elements, discordant.
	{"two", []float64{0, 1}, []float64{1, 0}, -1, -1},
}

func TestHandComputed(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := KendallTau(c.x, c.y); math.Abs(got-c.tau) > 1e-12 {
				t.Errorf("KendallTau = %v, want %v", got, c.tau)
			}
			if got := Spearman(c.x, c.y); math.Abs(got-c.rho) > 1e-12 {
				t.Errorf("Spearman = %v, want %v", got, c.rho)
			}
			// Both coefficients are symmetric in x and y.
			if a, b := KendallTau(c.y, c.x), KendallTau(c.x, c.y); a != b {
				t.Errorf("KendallTau(y, x) = %v, KendallTau(x, y) = %v", a, b)
			}
			if a, b := Spearman(c.y, c.x), Spearman(c.x, c.y); a != b {
				t.Errorf("Spearman(y, x) = %v, Spearman(x, y) = %v", a, b)
			}
		})
	}
}

func TestUndefined(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name string
		x, y []float64
	}{
		{"empty", nil, nil},
		{"one", []float64{1}, []float64{2}},
		{"NaN in x", []float64{1, nan, 3}, []float64{1, 2, 3}},
		{"NaN in y", []float64{1, 2, 3}, []float64{1, 2, nan}},
		{"constant x", []float64{4, 4, 4}, []float64{1, 2, 3}},
		{"constant y", []float64{1, 2, 3}, []float64{0, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := KendallTau(c.x, c.y); !math.IsNaN(got) {
				t.Errorf("KendallTau = %v, want NaN", got)
			}
			if got := Spearman(c.x, c.y); !math.IsNaN(got) {
				t.Errorf("Spearman = %v, want NaN", got)
			}
		})
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	for name, f := range map[string]func(x, y []float64) float64{"KendallTau": KendallTau, "Spearman": Spearman} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with lengths 2 and 3 did not panic", name)
				}
			}()
			f([]float64{1, 2}, []float64{1, 2, 3})
		}()
	}
}

// TestKendallTauNaive compares the O(n log n) τ_b with the O(n²) definition on random data with
// many ties (values drawn from a few levels), including sizes that are not powers of two.
func TestKendallTauNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		n := 2 + r.IntN(70)
		lx, ly := 1+r.IntN(6), 1+r.IntN(6)
		x, y := make([]float64, n), make([]float64, n)
		for i := range n {
			x[i], y[i] = float64(r.IntN(lx)), float64(r.IntN(ly))
			if trial%4 == 0 { // continuous values: no ties
				x[i], y[i] = r.NormFloat64(), r.NormFloat64()
			}
		}
		got, want := KendallTau(x, y), naiveTau(x, y)
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("x=%v y=%v: KendallTau = %v, want NaN (constant input)", x, y, got)
			}
			continue
		}
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("x=%v y=%v: KendallTau = %v, naive %v", x, y, got, want)
		}
	}
}

// TestKendallTauNaiveLarge repeats the comparison at n = 3000, where the merge sort runs many levels
// deep, with 20 levels per variable (many ties) and with continuous values.
func TestKendallTauNaiveLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, levels := range []int{20, 0} {
		x, y := make([]float64, 3000), make([]float64, 3000)
		for i := range x {
			if levels > 0 {
				x[i] = float64(r.IntN(levels))
				y[i] = float64((int(x[i]) + r.IntN(levels/2)) % levels)
			} else {
				x[i] = r.NormFloat64()
				y[i] = x[i] + r.NormFloat64()
			}
		}
		if got, want := KendallTau(x, y), naiveTau(x, y); math.Abs(got-want) > 1e-12 {
			t.Errorf("levels %d: KendallTau = %v, naive %v", levels, got, want)
		}
	}
}

// TestSpearmanNoTies checks ρ against the closed form 1 − 6Σd²/(n(n²−1)), which holds without ties,
// on random permutations.
func TestSpearmanNoTies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		n := 2 + r.IntN(50)
		px, py := r.Perm(n), r.Perm(n)
		x, y := make([]float64, n), make([]float64, n)
		var d2 float64
		for i := range n {
			// Monotone transforms of the ranks, which ρ ignores.
			x[i], y[i] = math.Exp(float64(px[i])/10), float64(py[i])*float64(py[i])
			d := float64(px[i] - py[i])
			d2 += d * d
		}
		want := 1 - 6*d2/float64(n*(n*n-1))
		if got := Spearman(x, y); math.Abs(got-want) > 1e-12 {
			t.Fatalf("n=%d: Spearman = %v, want %v", n, got, want)
		}
	}
}

// TestInputsUnchanged checks that neither function reorders its arguments.
func TestInputsUnchanged(t *testing.T) {
	x, y := []float64{3, 1, 2, 2}, []float64{1, 4, 4, 0}
	KendallTau(x, y)
	Spearman(x, y)
	if x[0] != 3 || x[1] != 1 || x[2] != 2 || x[3] != 2 || y[0] != 1 || y[1] != 4 || y[2] != 4 || y[3] != 0 {
		t.Errorf("inputs changed to %v, %v", x, y)
	}
}

// The size of the NAS-Bench-201 space, the number of child models ranked in the paper.
const benchN = 15625

func benchData() (x, y []float64) {
	r := rand.New(rand.NewPCG(5, 6))
	x, y = make([]float64, benchN), make([]float64, benchN)
	for i := range benchN {
		x[i] = r.NormFloat64()
		y[i] = x[i] + r.NormFloat64()
	}
	return x, y
}

func BenchmarkKendallTau(b *testing.B) {
	x, y := benchData()
	for b.Loop() {
		KendallTau(x, y)
	}
}

func BenchmarkSpearman(b *testing.B) {
	x, y := benchData()
	for b.Loop() {
		Spearman(x, y)
	}
}

func BenchmarkNaiveTau(b *testing.B) {
	x, y := benchData()
	for b.Loop() {
		naiveTau(x, y)
	}
}
