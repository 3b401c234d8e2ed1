package nn

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConvBN is BatchNorm(Conv2d(x, w, 1, p, relu), st, mode, name) in one op, for convolutions that
// keep the image size (stride 1, 2p = k−1): NB201's ReLU-conv-BN cell ops, whose batch norms have
// no affine parameters. The result is the same; fused, the batch-norm statistics and the
// normalised output come straight from the convolution's padded result, and the gradient with
// respect to the convolution's output,
//
//	∂L/∂y = (1/√(σ²+ε))·(g − mean(g) − z·mean(g·z))   (BNEval: g/√(σ²+ε)),
//
// with z the op's output and g its gradient, is written straight into the padded layout the
// convolution's gradients use. name must be unique in the graph.
func ConvBN(x, w *gorgonia.Node, p int, relu bool, st *Stats, mode BNMode, name string) (*gorgonia.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || ws[1] != xs[1] || ws[2] != ws[3] || ws[2] != 2*p+1 {
		return nil, fmt.Errorf("conv-bn %s: input shape %v, weight shape %v, padding %d, want NCHW, O×C×k×k, k = 2p+1", name, xs, ws, p)
	}
	if len(st.Mean) != ws[0] || len(st.Var) != ws[0] {
		return nil, fmt.Errorf("conv-bn %s: %d running statistics for %d channels", name, len(st.Mean), ws[0])
	}
	g := convGeom{k: ws[2], s: 1, p: p, relu: relu}
	cache := &convCache{}
	bn := &convBN{st: st, mode: mode}
	label := fmt.Sprintf("(%s,mode=%d,%s)", name, mode, g)
	op := &kernelOp{
		name: "ConvBN" + label, in: []int{4, 4}, out: 4, wrt: []bool{true, true},
		shape: func(in []tensor.Shape) tensor.Shape { return tensor.Shape{in[0][0], in[1][0], in[0][2], in[0][3]} },
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		cache.begin()
		return apply(in[0], func() (gorgonia.Value, error) {
			return shiftFwd[float32](g, cache, in[0], in[1], bn), nil
		}, func() (gorgonia.Value, error) {
			return shiftFwd[float64](g, cache, in[0], in[1], bn), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, out, gz *gorgonia.Node) (gorgonia.Nodes, error) {
		cache.keep = true
		gxOp := &kernelOp{name: "ConvBNGradX" + label, in: []int{4, 4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }}
		gxOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return shiftGradX[float32](g, cache, in[0], in[1], in[3], in[2], bn), nil
			}, func() (gorgonia.Value, error) {
				return shiftGradX[float64](g, cache, in[0], in[1], in[3], in[2], bn), nil
			})
		}
		gwOp := &kernelOp{name: "ConvBNGradW" + label, in: []int{4, 4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[1].Clone() }}
		gwOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return shiftGradW[float32](g, cache, in[0], in[1], in[3], in[2], bn), nil
			}, func() (gorgonia.Value, error) {
				return shiftGradW[float64](g, cache, in[0], in[1], in[3], in[2], bn), nil
			})
		}
		gx, err := gorgonia.ApplyOp(gxOp, in[0], in[1], out, gz)
		if err != nil {
			return nil, err
		}
		gw, err := gorgonia.ApplyOp(gwOp, in[0], in[1], out, gz)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gw}, nil
	}
	return gorgonia.ApplyOp(op, x, w)
}

// convBN is the batch norm of a ConvBN op and the 1/√(σ²+ε) of its last forward run.
type convBN struct {
	st   *Stats
	mode BNMode
	inv  []float64
}

// bnFromGrid normalises the o×L convolution result yp on the grid of s into y (B×O×H×W): batch
// statistics from the image positions (or the running ones in BNEval mode), running statistics
// updated as BatchNorm does.
func bnFromGrid[T float](s shiftGrid, yp []T, o int, bn *convBN, y []T) {
	hw := s.h * s.w
	var mean, vr []float64
	if bn.mode == BNEval {
		mean, vr = bn.st.Mean, bn.st.Var
	} else {
		mean, vr = make([]float64, o), make([]float64, o)
		n := float64(s.b * hw)
		// Each channel's sums in the same order on any core.
		parallel(o, o*s.b*hw, func(c0, c1 int) {
			for ch := c0; ch < c1; ch += 4 {
				ls := lanes4(ch, c1)
				var k, sum, sq [4]float64
				for l, cl := range ls {
					k[l] = float64(yp[cl*s.l+s.p*s.wp+s.p])
				}
				for img := 0; img < s.b; img++ {
					for yy := 0; yy < s.h; yy++ {
						at := img*s.hp*s.wp + (yy+s.p)*s.wp + s.p
						seg := func(l int) []T { return yp[ls[l]*s.l+at:][:s.w] }
						moments4(seg(0), seg(1), seg(2), seg(3), &k, &sum, &sq)
					}
				}
				for l := 0; l < 4 && ch+l < c1; l++ {
					m := sum[l] / n
					mean[ch+l], vr[ch+l] = k[l]+m, max(sq[l]/n-m*m, 0)
				}
			}
		})
		updateStats[T](bn.st, bn.mode, mean, vr, n)
	}
	bn.inv = make([]float64, o)
	for ch := range bn.inv {
		bn.inv[ch] = 1 / math.Sqrt(vr[ch]+BNEps)
	}
	parallel(s.b*o, s.b*o*hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img, ch := i/o, i%o
			m, iv := T(mean[ch]), T(bn.inv[ch])
			dst := y[i*hw:][:hw]
			grid := yp[ch*s.l+img*s.hp*s.wp:]
			copyRows(s.h, s.w, grid[s.p*s.wp+s.p:], s.wp, dst, s.w)
			centreInto(dst, dst, m, iv)
		}
	})
}

// bnGradGrid writes the gradient with respect to the convolution result, from the normalised
// output z and its gradient gz (B×O×H×W), onto the grid of s in gp: o rows of length ld with the
// grid at offset m, as pad lays them out, zero at the padding positions and in the margins.
func bnGradGrid[T float](s shiftGrid, z, gz []T, o int, bn *convBN, gp []T) {
	hw := s.h * s.w
	n := float64(s.b * hw)
	parallel(o, 3*o*s.b*hw, func(c0, c1 int) { bnGradGridRange(s, z, gz, o, bn, gp, n, c0, c1) })
}

// bnGradGridRange is bnGradGrid for the channels [c0, c1): each channel's sums in the same order on
// any core.
func bnGradGridRange[T float](s shiftGrid, z, gz []T, o int, bn *convBN, gp []T, n float64, c0, c1 int) {
	hw := s.h * s.w
	tmp := getScratch[T](hw) // one image's plane, computed in one pass, then laid on the grid
	defer putScratch(tmp)
	clear(gp[c0*s.ld : c1*s.ld])
	for ch := c0; ch < c1; ch++ {
		var mg, mgz T
		if bn.mode != BNEval {
			var sg, sgz float64
			for img := 0; img < s.b; img++ {
				o0 := (img*o + ch) * hw
				zs := z[o0 : o0+hw]
				for j, g := range gz[o0 : o0+hw] {
					sg += float64(g)
					sgz += float64(g) * float64(zs[j])
				}
			}
			mg, mgz = T(sg/n), T(sgz/n)
		}
		iv := T(bn.inv[ch])
		for img := 0; img < s.b; img++ {
			o0 := (img*o + ch) * hw
			bnGradInto(gz[o0:o0+hw], z[o0:o0+hw], tmp, mg, mgz, iv)
			grid := gp[ch*s.ld+s.m+img*s.hp*s.wp:]
			copyRows(s.h, s.w, tmp, s.w, grid[s.p*s.wp+s.p:], s.wp)
		}
	}
}
