package nn

import (
	"fmt"
	"github.com/abs-nas/abs/internal/abs/nn/gradcheck"
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
	loss := func() float64 {
		l, _ := projLoss(t, f, vals, false)
		return l
	}
	for k, v := range vals {
		gradcheck.Central(t, fmt.Sprintf("input %d", k), v.Data().([]float64), grads[k].Data().([]float64), nil, 1e-6, loss)
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
