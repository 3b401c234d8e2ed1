package nn

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNormAffine is BatchNorm followed by ScaleShift in one op: per channel c,
//
//	y = γ_c·x̂ + β_c,   x̂ = (x − μ_c)/√(σ²_c+ε),
//
// with μ, σ² and the running statistics as in BatchNorm. Its gradients, with g = ∂L/∂y, n the
// values per channel and sums over N, H and W, are
//
//	∂L/∂β_c = Σ g,   ∂L/∂γ_c = Σ g·x̂,   ∂L/∂x = (γ_c/√(σ²_c+ε))·(g − Σg/n − x̂·Σ(g·x̂)/n)
//
// in BNTrain and BNRecompute mode and ∂L/∂x = γ_c·g/√(σ²_c+ε) in BNEval mode. Fused, the forward
// pass reads x twice (statistics, output) and the backward pass computes the two sums once for
// all three gradients instead of passing through a normalised copy. name must be unique in the
// graph.
func BatchNormAffine(x, gamma, beta *gorgonia.Node, st *Stats, mode BNMode, name string) (*gorgonia.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("batch norm %s: input shape %v, want 4 dims", name, s)
	}
	c := s[1]
	if len(st.Mean) != c || len(st.Var) != c {
		return nil, fmt.Errorf("batch norm %s: %d running statistics for %d channels", name, len(st.Mean), c)
	}
	if gamma.Shape().TotalSize() != c || beta.Shape().TotalSize() != c {
		return nil, fmt.Errorf("batch norm %s: γ %v, β %v for %d channels", name, gamma.Shape(), beta.Shape(), c)
	}
	bs := &bnState{}
	same := func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }
	channels := func([]tensor.Shape) tensor.Shape { return tensor.Shape{c} }
	op := &kernelOp{
		name: fmt.Sprintf("BatchNormAffine(%s,mode=%d)", name, mode), in: []int{4, 1, 1}, out: 4, wrt: []bool{true, true, true},
		shape: same,
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		return apply(in[0], func() (gorgonia.Value, error) {
			return bnAffineFwd(bs, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), in[0].Shape(), st, mode), nil
		}, func() (gorgonia.Value, error) {
			return bnAffineFwd(bs, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), in[0].Shape(), st, mode), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		gxOp := &kernelOp{name: fmt.Sprintf("BatchNormAffineGradX(%s,mode=%d)", name, mode), in: []int{4, 1, 4}, out: 4, shape: same}
		gxOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return bnAffineGradX(bs, slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), in[0].Shape(), mode), nil
			}, func() (gorgonia.Value, error) {
				return bnAffineGradX(bs, slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), in[0].Shape(), mode), nil
			})
		}
		// which 0 is ∂L/∂γ = Σ g·x̂, 1 is ∂L/∂β = Σ g.
		param := func(which int, label string) *kernelOp {
			o := &kernelOp{name: fmt.Sprintf("BatchNormAffineGrad%s(%s,mode=%d)", label, name, mode), in: []int{4, 4}, out: 1, shape: channels}
			o.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
				return apply(in[0], func() (gorgonia.Value, error) {
					return bnAffineGradParam(bs, slice[float32](in[0]), slice[float32](in[1]), in[0].Shape(), which), nil
				}, func() (gorgonia.Value, error) {
					return bnAffineGradParam(bs, slice[float64](in[0]), slice[float64](in[1]), in[0].Shape(), which), nil
				})
			}
			return o
		}
		gx, err := gorgonia.ApplyOp(gxOp, in[0], in[1], g)
		if err != nil {
			return nil, err
		}
		gg, err := gorgonia.ApplyOp(param(0, "Gamma"), in[0], g)
		if err != nil {
			return nil, err
		}
		gb, err := gorgonia.ApplyOp(param(1, "Beta"), in[0], g)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gg, gb}, nil
	}
	return gorgonia.ApplyOp(op, x, gamma, beta)
}

// bnState carries the statistics of a BatchNormAffine forward run to its gradient ops, and the two
// per-channel sums of the output gradient from whichever gradient op of the run computes them
// first to the others.
type bnState struct {
	run, sumsRun int
	mean, inv    []float64
	sg, sgx      []float64 // Σ g and Σ g·x̂ per channel
}

func bnAffineFwd[T float](bs *bnState, x, gamma, beta []T, shape tensor.Shape, st *Stats, mode BNMode) *tensor.Dense {
	b, c, h, w := dims4(shape)
	hw := h * w
	norm, inv := bnFwdStats(x, shape, st, mode)
	bs.run++
	bs.mean, bs.inv = norm, inv
	out, y := newDenseFull[T](b, c, h, w)
	parallel(b*c, b*c*hw, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			ch := bc % c
			a := float64(gamma[ch]) * inv[ch]
			sa, sb := T(a), T(float64(beta[ch])-norm[ch]*a)
			affineInto(x[bc*hw:(bc+1)*hw], y[bc*hw:(bc+1)*hw], sa, sb)
		}
	})
	return out
}

// sums computes Σ g and Σ g·x̂ per channel for the current run, once.
func bnAffineSums[T float](bs *bnState, x, g []T, shape tensor.Shape) {
	if bs.sumsRun == bs.run && bs.sg != nil {
		return
	}
	b, c, h, w := dims4(shape)
	hw := h * w
	bs.sg, bs.sgx = make([]float64, c), make([]float64, c)
	parallel(c, b*c*hw, func(c0, c1 int) {
		for ch := c0; ch < c1; ch++ {
			m, iv := bs.mean[ch], bs.inv[ch]
			var sg, sgx float64
			for i := 0; i < b; i++ {
				o := (i*c + ch) * hw
				xs := x[o : o+hw]
				for j, gv := range g[o : o+hw] {
					sg += float64(gv)
					sgx += float64(gv) * (float64(xs[j]) - m)
				}
			}
			bs.sg[ch], bs.sgx[ch] = sg, sgx*iv
		}
	})
	bs.sumsRun = bs.run
}

func bnAffineGradX[T float](bs *bnState, x, gamma, g []T, shape tensor.Shape, mode BNMode) *tensor.Dense {
	b, c, h, w := dims4(shape)
	hw := h * w
	out, gx := newDenseFull[T](b, c, h, w)
	if mode != BNEval {
		bnAffineSums(bs, x, g, shape)
	}
	n := float64(b * hw)
	parallel(b*c, b*c*hw, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			ch := bc % c
			a := float64(gamma[ch]) * bs.inv[ch]
			// gx = a·(g − Σg/n − (x−μ)·inv·Σ(g·x̂)/n) = a·g + p·x + q.
			var p, q float64
			if mode != BNEval {
				p = -a * bs.inv[ch] * bs.sgx[ch] / n
				q = -a*bs.sg[ch]/n - p*bs.mean[ch]
			}
			sa, sp, sq := T(a), T(p), T(q)
			affine2Into(g[bc*hw:(bc+1)*hw], x[bc*hw:(bc+1)*hw], gx[bc*hw:(bc+1)*hw], sa, sp, sq)
		}
	})
	return out
}

func bnAffineGradParam[T float](bs *bnState, x, g []T, shape tensor.Shape, which int) *tensor.Dense {
	bnAffineSums(bs, x, g, shape)
	c := shape[1]
	out, v := newDense[T](c)
	src := bs.sgx
	if which == 1 {
		src = bs.sg
	}
	for ch := range v {
		v[ch] = T(src[ch])
	}
	return out
}

// bnFwdStats returns the mean and 1/√(σ²+ε) per channel that batch norm in mode uses on x,
// updating the running statistics in st as BatchNorm does.
func bnFwdStats[T float](x []T, shape tensor.Shape, st *Stats, mode BNMode) (mean, inv []float64) {
	b, c, h, w := dims4(shape)
	hw := h * w
	var vr []float64
	if mode == BNEval {
		mean, vr = st.Mean, st.Var
	} else {
		mean, vr = batchStats(x, b, c, hw)
		updateStats[T](st, mode, mean, vr, float64(b*hw))
	}
	inv = make([]float64, c)
	for ch := range inv {
		inv[ch] = 1 / math.Sqrt(vr[ch]+BNEps)
	}
	return mean, inv
}
