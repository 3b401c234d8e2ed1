package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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

func TestLive(t *testing.T) {
	tests := []struct {
		arch []int
		want [Edges]bool
		err  error
	}{
		{[]int{3, 3, 3, 3, 3, 3}, [Edges]bool{true, true, true, true, true, true}, nil},
		{[]int{0, 0, 0, 2, 0, 0}, [Edges]bool{false, false, false, true, false, false}, nil},
		// Node 1 has no input: edges 2 and 4 leave it and are dead.
		{[]int{0, 3, 4, 0, 2, 1}, [Edges]bool{false, true, false, false, false, true}, nil},
		// Node 2 feeds nothing (edge 5 is none): edges 1 and 2 are dead.
		{[]int{1, 1, 1, 0, 2, 0}, [Edges]bool{true, false, false, false, true, false}, nil},
		{[]int{1, 1, 1, 0, 0, 0}, [Edges]bool{}, ErrDisconnected},
		{[]int{0, 0, 0, 0, 0, 0}, [Edges]bool{}, ErrDisconnected},
	}
	for _, tc := range tests {
		got, err := Live(tc.arch)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("Live(%v) = %v, %v; want %v, %v", tc.arch, got, err, tc.want, tc.err)
		}
	}
	for _, bad := range [][]int{{1, 1, 1}, {1, 1, 1, 1, 1, 5}, {-1, 1, 1, 1, 1, 1}} {
		if _, err := Live(bad); err == nil || errors.Is(err, ErrDisconnected) {
			t.Errorf("Live(%v): error %v, want an invalid-arch error", bad, err)
		}
	}
}

func TestChildParamsAndNames(t *testing.T) {
	net, err := New(Config{C: 2, N: 2, InC: 3, H: 8, W: 8, Classes: 4}, tensor.Float32, KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 6 cells × 6 edges × 2 convs + stem conv and BN affine (3) + 2 reductions × 7 + lastact (2)
	// + classifier (2).
	if got, want := len(net.Params), 72+3+14+2+2; got != want {
		t.Errorf("%d parameters, want %d", got, want)
	}
	if s := net.Params["cell5.edge4.nor_conv_3x3.conv"].Shape(); !s.Eq(tensor.Shape{8, 8, 3, 3}) {
		t.Errorf("cell5.edge4.nor_conv_3x3.conv shape %v, want [8 8 3 3]", s)
	}
	names, err := net.ChildParams([]int{0, 0, 0, 2, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	var cells []string
	for _, n := range names {
		if n[:4] == "cell" {
			cells = append(cells, n)
		}
	}
	want := []string{"cell0.edge3.nor_conv_1x1.conv", "cell1.edge3.nor_conv_1x1.conv", "cell2.edge3.nor_conv_1x1.conv",
		"cell3.edge3.nor_conv_1x1.conv", "cell4.edge3.nor_conv_1x1.conv", "cell5.edge3.nor_conv_1x1.conv"}
	if !slices.Equal(cells, want) {
		t.Errorf("cell params %v, want %v", cells, want)
	}
	if _, err := New(Config{C: 2, N: 1, InC: 1, H: 6, W: 8, Classes: 4}, tensor.Float32, KaimingNormal, 1); err == nil {
		t.Errorf("New accepted H = 6")
	}
	// A per-cell child: 6 codes for each of the 6 cells; cell 4 takes nor_conv_3x3 on edge 0 and
	// its node 1 feeds node 3, the other cells are skip-only.
	per := slices.Repeat([]int{1, 1, 1, 1, 1, 1}, 6)
	copy(per[24:30], []int{3, 0, 0, 0, 1, 0})
	names, err = net.ChildParams(per)
	if err != nil {
		t.Fatal(err)
	}
	cells = cells[:0]
	for _, n := range names {
		if n[:4] == "cell" {
			cells = append(cells, n)
		}
	}
	if want := []string{"cell4.edge0.nor_conv_3x3.conv"}; !slices.Equal(cells, want) {
		t.Errorf("per-cell child: cell params %v, want %v", cells, want)
	}
	per[30] = 0 // cell 5, edge 1←0: none
	copy(per[30:36], []int{0, 0, 1, 0, 1, 0})
	if err := net.Check(per); !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "cell 5") {
		t.Errorf("Check of a child with cell 5 disconnected: %v, want ErrDisconnected naming cell 5", err)
	}
	if err := net.Check(per[:12]); err == nil {
		t.Errorf("Check accepted 12 codes for 6 cells")
	}
}

// TestPerCellChildOfEqualCells checks that a per-cell child whose cells are all alike computes what
// the same 6 codes for every cell compute, bit for bit.
func TestPerCellChildOfEqualCells(t *testing.T) {
	net, err := New(Config{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}, tensor.Float32, PyTorch, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randDense(rng, 2, 1, 8, 8)
	xf := tensor.New(tensor.WithShape(2, 1, 8, 8), tensor.WithBacking(func() []float32 {
		f := make([]float32, 128)
		for i, v := range x.Data().([]float64) {
			f[i] = float32(v)
		}
		return f
	}()))
	arch := []int{3, 2, 4, 1, 3, 2}
	a, err := net.Logits(arch, xf, BNTrain, CloneStats(net.Stats))
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.Logits(slices.Repeat(arch, 3), xf, BNTrain, CloneStats(net.Stats))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Errorf("logits %v (one arch for all cells), %v (per cell, all equal)", a, b)
	}
}

func TestSetLoadRoundTrip(t *testing.T) {
	cfg := Config{C: 2, N: 1, InC: 1, H: 4, W: 4, Classes: 2}
	a, _ := New(cfg, tensor.Float32, XavierUniform, 1)
	b, _ := New(cfg, tensor.Float32, XavierUniform, 2)
	if err := b.Load(a.Set()); err != nil {
		t.Fatal(err)
	}
	for name, t1 := range a.Params {
		if !slices.Equal(t1.Data().([]float32), b.Params[name].Data().([]float32)) {
			t.Fatalf("%s differs after Load", name)
		}
	}
	s := a.Set()
	delete(s, "stem.conv")
	if err := b.Load(s); err == nil {
		t.Errorf("Load accepted a set without stem.conv")
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

// TestGraphLeavesWeightsUntouched checks that running graphs never writes to the shared weight
// tensors (gorgonia may run some ops in place on their inputs) and that a net built twice from one
// seed gives identical gradients.
func TestGraphLeavesWeightsUntouched(t *testing.T) {
	cfg := Config{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}
	net, err := New(cfg, tensor.Float32, KaimingNormal, 3)
	if err != nil {
		t.Fatal(err)
	}
	before := net.Set()
	x, _ := net.Input(make([]float32, 2*64), 2)
	for i, v := range x.Data().([]float32) {
		x.Data().([]float32)[i] = v + float32(i%7)/7
	}
	var first map[string]*tensor.Dense
	for i := 0; i < 2; i++ {
		_, grads, err := net.Backward([]int{3, 2, 4, 1, 3, 2}, x, []int{0, 2}, CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := net.Logits([]int{1, 1, 1, 1, 1, 1}, x, BNEval, net.Stats); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = grads
			continue
		}
		for name, g := range grads {
			if !slices.Equal(g.Data().([]float32), first[name].Data().([]float32)) {
				t.Errorf("gradient of %s differs between two identical runs", name)
			}
		}
	}
	after := net.Set()
	for name, p := range before {
		q := after[name]
		if !slices.Equal(p.Shape, q.Shape) || !slices.Equal(p.Data, q.Data) {
			t.Errorf("parameter %s changed by running graphs", name)
		}
	}
}
