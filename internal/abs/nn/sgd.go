package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// SGD is stochastic gradient descent with Nesterov momentum and L2 weight decay, as PyTorch's
// torch.optim.SGD(nesterov=True) computes it:
//
//	g ← ∇ + λ·w;  b ← μ·b + g;  w ← w − η·(g + μ·b)
//
// with the momentum buffer b starting at 0. It keeps its buffers by parameter name, not by
// position, so that children of a supernet that use different subsets of the shared weights each
// update exactly the parameters they use; a parameter that a step does not touch keeps its buffer
// and receives no decay (as in PyTorch when its gradient is None).
type SGD struct {
	// Momentum μ and WeightDecay λ (authors' NB201 settings: 0.9 and 5e-4).
	Momentum, WeightDecay float64
	// Buffers holds the momentum buffer of each parameter that has been updated.
	Buffers map[string]*tensor.Dense
}

// NewSGD returns an optimiser with empty momentum buffers.
func NewSGD(momentum, weightDecay float64) *SGD {
	return &SGD{Momentum: momentum, WeightDecay: weightDecay, Buffers: map[string]*tensor.Dense{}}
}

// Step applies one update with learning rate lr to each parameter in grads. params and grads are
// matched by name; their shapes and dtypes must agree.
func (o *SGD) Step(lr float64, params, grads map[string]*tensor.Dense) error {
	for name, g := range grads {
		w := params[name]
		if w == nil {
			return fmt.Errorf("sgd: gradient for unknown parameter %s", name)
		}
		if !w.Shape().Eq(g.Shape()) || w.Dtype() != g.Dtype() {
			return fmt.Errorf("sgd: parameter %s is %v %v, gradient %v %v", name, w.Dtype(), w.Shape(), g.Dtype(), g.Shape())
		}
		b := o.Buffers[name]
		if b == nil {
			b = tensor.New(tensor.Of(w.Dtype()), tensor.WithShape(w.Shape()...))
			o.Buffers[name] = b
		}
		switch wd := w.Data().(type) {
		case []float32:
			sgdStep(wd, g.Data().([]float32), b.Data().([]float32), float32(lr), float32(o.Momentum), float32(o.WeightDecay))
		case []float64:
			sgdStep(wd, g.Data().([]float64), b.Data().([]float64), lr, o.Momentum, o.WeightDecay)
		}
	}
	return nil
}

func sgdStep[T float](w, g, b []T, lr, mu, wd T) {
	for i := range w {
		gi := g[i] + wd*w[i]
		b[i] = mu*b[i] + gi
		w[i] -= lr * (gi + mu*b[i])
	}
}

// Cosine returns the learning rate of step t of T under cosine annealing from lr0 to lrMin,
// η_t = lrMin + ½(lr0 − lrMin)(1 + cos(π·t/T)) (Loshchilov & Hutter 2017, without restarts).
func Cosine(lr0, lrMin float64, t, T int) float64 {
	if T <= 0 {
		return lr0
	}
	return lrMin + 0.5*(lr0-lrMin)*(1+math.Cos(math.Pi*float64(t)/float64(T)))
}
