package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randDense(rng *rand.Rand, shape ...int) *tensor.Dense {
	d, v := newDense[float64](shape...)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return d
}

// projLoss builds L = Σ f(inputs)·R for a fixed random R, so that ∂L/∂out = R is generic.
func projLoss(t *testing.T, f func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error), vals []*tensor.Dense, grad bool) (float64, []*tensor.Dense) {
	t.Helper()
	g := gorgonia.NewGraph()
	in := make([]*gorgonia.Node, len(vals))
	for i, v := range vals {
		in[i] = gorgonia.NewTensor(g, tensor.Float64, v.Dims(), gorgonia.WithShape(v.Shape()...), gorgonia.WithValue(v), gorgonia.WithName(string(rune('a'+i))))
	}
	out, err := f(g, in)
	if err != nil {
		t.Fatal(err)
	}
	var loss *gorgonia.Node
	if out.IsScalar() {
		loss = out
	} else {
		r := randDense(rand.New(rand.NewPCG(99, 1)), out.Shape()...)
		rn := gorgonia.NewTensor(g, tensor.Float64, r.Dims(), gorgonia.WithShape(r.Shape()...), gorgonia.WithValue(r), gorgonia.WithName("R"))
		loss = gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(out, rn))))
	}
	var grads gorgonia.Nodes
	if grad {
		if grads, err = gorgonia.Grad(loss, in...); err != nil {
			t.Fatal(err)
		}
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	var gs []*tensor.Dense
	for _, gn := range grads {
		d, err := dense(gn.Value())
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, d.Clone().(*tensor.Dense))
	}
	return scalar(loss.Value()), gs
}

// checkGrad compares the analytic gradient of each input against central differences,
// (L(x+h·e_i) − L(x−h·e_i))/2h with h = 1e-6, which in float64 is accurate to about 1e-8 for
// these smooth functions; we allow 1e-6 relative error.
func checkGrad(t *testing.T, f func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error), vals ...*tensor.Dense) {
	t.Helper()
	_, grads := projLoss(t, f, vals, true)
	const h = 1e-6
	for k, v := range vals {
		x := v.Data().([]float64)
		g := grads[k].Data().([]float64)
		for i := range x {
			old := x[i]
			x[i] = old + h
			lp, _ := projLoss(t, f, vals, false)
			x[i] = old - h
			lm, _ := projLoss(t, f, vals, false)
			x[i] = old
			fd := (lp - lm) / (2 * h)
			if math.Abs(fd-g[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
				t.Errorf("input %d element %d: analytic %.10g, finite difference %.10g", k, i, g[i], fd)
			}
		}
	}
}

func TestGradAvgPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct{ k, s, p int }{{3, 1, 1}, {2, 2, 0}} {
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return AvgPool(in[0], c.k, c.s, c.p)
		}, randDense(rng, 2, 2, 4, 4))
	}
}

func TestGradGlobalAvgPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return GlobalAvgPool(in[0])
	}, randDense(rng, 2, 3, 3, 2))
}

func TestGradBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	for _, mode := range []BNMode{BNTrain, BNEval} {
		st := NewStats(3)
		st.Mean = []float64{0.1, -0.2, 0.3}
		st.Var = []float64{0.5, 1.5, 2}
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return BatchNorm(in[0], st.Clone(), mode, "bn")
		}, randDense(rng, 2, 3, 2, 3))
	}
}

func TestGradScaleShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 4))
	checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return ScaleShift(in[0], in[1], in[2])
	}, randDense(rng, 2, 3, 2, 2), randDense(rng, 3), randDense(rng, 3))
}

func TestGradCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 5))
	checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return CrossEntropy(in[0], []int{2, 0, 3})
	}, randDense(rng, 3, 4))
}

// TestGradConv checks gorgonia's own Conv2d (the nor_conv ops rest on it) for both kernel sizes and
// the stride-2 convolution of the reduction block.
func TestGradConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 6))
	for _, c := range []struct{ k, s, p int }{{1, 1, 0}, {3, 1, 1}, {3, 2, 1}} {
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return gorgonia.Conv2d(in[0], in[1], tensor.Shape{c.k, c.k}, []int{c.p, c.p}, []int{c.s, c.s}, nil)
		}, randDense(rng, 2, 2, 4, 4), randDense(rng, 3, 2, c.k, c.k))
	}
}

// TestGradNet checks the gradient of the cross-entropy of whole small networks with respect to
// every parameter, for children that use every op type, one with pruned edges, the skip-only
// child, and a per-cell child whose three cells differ.
func TestGradNet(t *testing.T) {
	cfg := Config{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}
	archs := [][]int{
		{3, 2, 4, 1, 3, 2}, // every op type
		{0, 3, 4, 0, 2, 1}, // node 1 unused: edges 2 and 4 are dead
		{1, 1, 1, 1, 1, 1},
		{2, 0, 3, 4, 0, 1 /* cell 1 */, 3, 3, 0, 0, 2, 4 /* cell 2 */, 1, 2, 2, 0, 0, 3}, // per cell
	}
	for _, arch := range archs {
		net, err := New(cfg, tensor.Float64, KaimingNormal, 7)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 2))
		x := randDense(rng, 3, 1, 8, 8)
		labels := []int{0, 2, 1}
		_, grads, err := net.Backward(arch, x, labels, CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		want, err := net.ChildParams(arch)
		if err != nil {
			t.Fatal(err)
		}
		if len(grads) != len(want) {
			t.Errorf("arch %v: %d gradients, want %d (%v)", arch, len(grads), len(want), want)
		}
		// Up to 4 coordinates per parameter keep the test fast.
		checkGradients(t, net, arch, x, labels, grads, want, func(n int) []int { return []int{0, n / 3, n / 2, n - 1} })
	}
}

// graphNet is a supernet whose graphs the gradient checks build directly.
type graphNet interface {
	Graph(child []int, x *tensor.Dense, labels []int, mode BNMode, stats map[string]*Stats) (*Graph, error)
	Weights() map[string]*tensor.Dense
	RunningStats() map[string]*Stats
}

// checkGradients compares the analytic gradient grads[name] of each named parameter with the
// central finite difference (h = 1e-6, float64) of the loss of child's BNTrain graph on (x, labels)
// at the coordinates at(len) of the parameter, to 1e-5 relative (absolute below 1). Each loss is
// computed on a copy of the running statistics, so the probes do not disturb each other.
func checkGradients(t *testing.T, net graphNet, child []int, x *tensor.Dense, labels []int, grads map[string]*tensor.Dense, names []string, at func(n int) []int) {
	t.Helper()
	loss := func() float64 {
		gr, err := net.Graph(child, x, labels, BNTrain, CloneStats(net.RunningStats()))
		if err != nil {
			t.Fatal(err)
		}
		m := gorgonia.NewTapeMachine(gr.G)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return scalar(gr.Loss.Value())
	}
	const h = 1e-6
	for _, name := range names {
		w := net.Weights()[name].Data().([]float64)
		g := grads[name].Data().([]float64)
		for _, i := range at(len(w)) {
			old := w[i]
			w[i] = old + h
			lp := loss()
			w[i] = old - h
			lm := loss()
			w[i] = old
			fd := (lp - lm) / (2 * h)
			if math.Abs(fd-g[i]) > 1e-5*math.Max(1, math.Abs(fd)) {
				t.Errorf("child %v %s[%d]: analytic %.10g, finite difference %.10g", child, name, i, g[i], fd)
			}
		}
	}
}
