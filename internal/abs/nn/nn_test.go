package nn

import (
	"math"
	"slices"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func run1(t *testing.T, x *tensor.Dense, f func(*gorgonia.Node) (*gorgonia.Node, error)) []float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	in := gorgonia.NewTensor(g, tensor.Float64, x.Dims(), gorgonia.WithShape(x.Shape()...), gorgonia.WithValue(x), gorgonia.WithName("x"))
	out, err := f(in)
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	d, err := dense(out.Value())
	if err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), d.Data().([]float64)...)
}

func near(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

// TestAvgPoolValues checks the forward pass on hand-computed values: 3×3 pooling with stride 1 and
// padding 1 over [[1 2 3] [4 5 6] [7 8 9]] divides by the pixels inside the image only
// (count_include_pad=False): the corner is (1+2+4+5)/4 = 3, the top edge (1+2+3+4+5+6)/6 = 3.5.
func TestAvgPoolValues(t *testing.T) {
	x := tensor.New(tensor.WithShape(1, 1, 3, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}))
	got := run1(t, x, func(n *gorgonia.Node) (*gorgonia.Node, error) { return AvgPool(n, 3, 1, 1) })
	want := []float64{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}
	if !near(got, want, 1e-12) {
		t.Errorf("avg pool 3/1/1: got %v, want %v", got, want)
	}
	x4 := tensor.New(tensor.WithShape(1, 1, 2, 4), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6, 7, 8}))
	got = run1(t, x4, func(n *gorgonia.Node) (*gorgonia.Node, error) { return AvgPool(n, 2, 2, 0) })
	if want := []float64{3.5, 5.5}; !near(got, want, 1e-12) {
		t.Errorf("avg pool 2/2/0: got %v, want %v", got, want)
	}
	got = run1(t, x4, GlobalAvgPool)
	if want := []float64{4.5}; !near(got, want, 1e-12) {
		t.Errorf("global avg pool: got %v, want %v", got, want)
	}
}

// TestBatchNormValues checks batch normalisation of one channel holding 1, 2, 3, 4 (mean 2.5,
// biased variance 1.25, unbiased 5/3) and the running-statistics update with momentum 0.1.
func TestBatchNormValues(t *testing.T) {
	x := tensor.New(tensor.WithShape(2, 1, 1, 2), tensor.WithBacking([]float64{1, 2, 3, 4}))
	st := NewStats(1)
	got := run1(t, x, func(n *gorgonia.Node) (*gorgonia.Node, error) { return BatchNorm(n, st, BNTrain, "bn") })
	s := math.Sqrt(1.25 + BNEps)
	if want := []float64{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}; !near(got, want, 1e-12) {
		t.Errorf("batch norm: got %v, want %v", got, want)
	}
	if !near(st.Mean, []float64{0.25}, 1e-12) || !near(st.Var, []float64{0.9 + 0.1*5.0/3}, 1e-12) {
		t.Errorf("running stats: mean %v var %v, want 0.25 and %v", st.Mean, st.Var, 0.9+0.1*5.0/3)
	}
	got = run1(t, x, func(n *gorgonia.Node) (*gorgonia.Node, error) { return BatchNorm(n, st, BNEval, "bn") })
	if want := (1 - 0.25) / math.Sqrt(st.Var[0]+BNEps); math.Abs(got[0]-want) > 1e-12 {
		t.Errorf("eval batch norm: got %v, want %v", got[0], want)
	}
}

// TestInit checks the statistics of each initialiser on a 64×32×3×3 convolution (fan_in 288,
// fan_out 576): Kaiming normal std √(2/288) ≈ 0.0833, Xavier uniform bound √(6/864) ≈ 0.0833 (std
// bound/√3), orthogonal rows of the 64×288 matrix orthonormal.
func TestInit(t *testing.T) {
	shape := []int{64, 32, 3, 3}
	std := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s / float64(len(v)))
	}
	k := initValues(KaimingNormal, "c.conv", shape, nil, newRand(1, 1))
	if got, want := std(k), math.Sqrt(2.0/288); math.Abs(got-want) > 0.03*want {
		t.Errorf("kaiming std %v, want %v", got, want)
	}
	x := initValues(XavierUniform, "c.conv", shape, nil, newRand(1, 1))
	a := math.Sqrt(6.0 / 864)
	if got, want := std(x), a/math.Sqrt(3); math.Abs(got-want) > 0.03*want {
		t.Errorf("xavier std %v, want %v", got, want)
	}
	for _, v := range x {
		if math.Abs(v) > a {
			t.Fatalf("xavier value %v outside ±%v", v, a)
		}
	}
	for _, sh := range [][]int{{64, 32, 3, 3}, {10, 4}} { // more columns; more rows than columns
		o := initValues(Orthogonal, "c.weight", sh, nil, newRand(1, 1))
		rows := sh[0]
		cols := len(o) / rows
		r, c := rows, cols
		at := func(i, j int) float64 { return o[i*cols+j] }
		if rows > cols { // columns must be orthonormal
			r, c = cols, rows
			at = func(i, j int) float64 { return o[j*cols+i] }
		}
		for i := 0; i < r; i++ {
			for j := 0; j < r; j++ {
				var d float64
				for k := 0; k < c; k++ {
					d += at(i, k) * at(j, k)
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(d-want) > 1e-9 {
					t.Fatalf("orthogonal %v: <%d,%d> = %v, want %v", sh, i, j, d, want)
				}
			}
		}
	}
	if v := initValues(Orthogonal, "stem.bn.weight", []int{4}, nil, newRand(1, 1)); !slices.Equal(v, []float64{1, 1, 1, 1}) {
		t.Errorf("bn scale init %v, want ones", v)
	}
}

// TestSGD checks two Nesterov steps by hand: w=1, ∇=0.5, λ=0.1, μ=0.9, η=0.1.
// Step 1: g = 0.5+0.1 = 0.6, b = 0.6, w = 1 − 0.1·(0.6+0.54) = 0.886.
// Step 2: g = 0.5+0.0886 = 0.5886, b = 0.54+0.5886 = 1.1286, w = 0.886 − 0.1·(0.5886+1.01574) = 0.725566.
func TestSGD(t *testing.T) {
	w := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{1}))
	g := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{0.5}))
	o := NewSGD(0.9, 0.1)
	params := map[string]*tensor.Dense{"w": w}
	for _, want := range []float64{0.886, 0.725566} {
		if err := o.Step(0.1, params, map[string]*tensor.Dense{"w": g}); err != nil {
			t.Fatal(err)
		}
		if got := w.Data().([]float64)[0]; math.Abs(got-want) > 1e-12 {
			t.Errorf("w = %v, want %v", got, want)
		}
	}
	if err := o.Step(0.1, params, map[string]*tensor.Dense{"v": g}); err == nil {
		t.Errorf("Step accepted a gradient for an unknown parameter")
	}
}

func TestCosine(t *testing.T) {
	for _, tc := range []struct {
		t    int
		want float64
	}{{0, 0.025}, {50, 0.013}, {100, 0.001}} {
		if got := Cosine(0.025, 0.001, tc.t, 100); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Cosine(step %d) = %v, want %v", tc.t, got, tc.want)
		}
	}
}
