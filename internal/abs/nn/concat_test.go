package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestConcatChannels checks ConcatChannels against gorgonia's Concat along axis 1 on inputs of
// 2, 3 and 1 channels: the same output and the same gradient of L = Σ out·R in every input (both
// are copies, so equal to the bit), and the gradient against central differences.
func TestConcatChannels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	vals := []*tensor.Dense{randDense(rng, 2, 2, 3, 3), randDense(rng, 2, 3, 3, 3), randDense(rng, 2, 1, 3, 3)}
	ours := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) { return ConcatChannels(in...) }
	theirs := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Concat(1, in...)
	}
	lo, gOurs := projLoss(t, ours, vals, true)
	lt, gTheirs := projLoss(t, theirs, vals, true)
	if lo != lt {
		t.Errorf("loss %v, gorgonia's Concat gives %v", lo, lt)
	}
	for i := range vals {
		if !slices.Equal(gOurs[i].Data().([]float64), gTheirs[i].Data().([]float64)) || !gOurs[i].Shape().Eq(vals[i].Shape()) {
			t.Errorf("input %d: gradient %v, gorgonia's Concat gives %v", i, gOurs[i], gTheirs[i])
		}
	}
	checkGrad(t, ours, vals...)
	if _, err := ConcatChannels(); err == nil {
		t.Error("no inputs accepted")
	}
}

// TestReLUMatchesRectify checks ReLU against gorgonia's Rectify to the bit, −0 and the sign of
// zero gradients included, on values with zeros of both signs, and its gradient against central
// differences away from the kink.
func TestReLUMatchesRectify(t *testing.T) {
	x := randDense(rand.New(rand.NewPCG(8, 2)), 2, 3, 2, 2)
	v := x.Data().([]float64)
	v[0], v[1], v[2] = 0, math.Copysign(0, -1), -1.5
	forward := func(f func(*gorgonia.Node) (*gorgonia.Node, error)) []float64 {
		return runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return f(in[0]) }, x).Data().([]float64)
	}
	bits := func(v []float64) []uint64 {
		b := make([]uint64, len(v))
		for i, x := range v {
			b[i] = math.Float64bits(x)
		}
		return b
	}
	if ours, theirs := forward(ReLU), forward(gorgonia.Rectify); !slices.Equal(bits(ours), bits(theirs)) {
		t.Errorf("ReLU %v, Rectify %v", ours, theirs)
	}
	wrap := func(f func(*gorgonia.Node) (*gorgonia.Node, error)) func(*gorgonia.ExprGraph, []*gorgonia.Node) (*gorgonia.Node, error) {
		return func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) { return f(in[0]) }
	}
	_, gOurs := projLoss(t, wrap(ReLU), []*tensor.Dense{x}, true)
	_, gTheirs := projLoss(t, wrap(gorgonia.Rectify), []*tensor.Dense{x}, true)
	if a, b := gOurs[0].Data().([]float64), gTheirs[0].Data().([]float64); !slices.Equal(bits(a), bits(b)) {
		t.Errorf("ReLU's gradient %v, Rectify's %v", a, b)
	}
	smooth := randDense(rand.New(rand.NewPCG(8, 3)), 2, 3, 2, 2) // no value within 1e-6 of 0
	checkGrad(t, wrap(ReLU), smooth)
}
