package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn/sgemm"
)

// maxPoolArg returns, for every output of a k×k max pooling with stride s and padding p, the
// index in the image of its maximum (the first in row-major order on ties). Padding never wins:
// only pixels inside the image are compared, as PyTorch's MaxPool2d pads with −∞. The 3×3
// stride-1 windows of float32 images, but for the first and last columns, go through
// sgemm.ArgMax3 (8 windows side by side on AVX2, the same comparisons).
func maxPoolArg[T float](x []T, b, c, h, w, k, s, p int) []int32 {
	oh, ow := poolOut(h, k, s, p), poolOut(w, k, s, p)
	arg := make([]int32, b*c*oh*ow)
	x32, fast := any(x).([]float32)
	fast = fast && k == 3 && s == 1 && p == 1 && w >= 3
	parallel(b*c, b*c*oh*ow*k*k, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			img := x[bc*h*w : (bc+1)*h*w]
			a := arg[bc*oh*ow : (bc+1)*oh*ow]
			for i := 0; i < oh; i++ {
				if fast {
					a[i*ow] = argWindow(img, h, w, k, s, p, i, 0)
					a[i*ow+ow-1] = argWindow(img, h, w, k, s, p, i, ow-1)
					// The window's rows, clipped: a missing row is the last one again, which
					// never wins (it comes later and is not greater).
					im := x32[bc*h*w : (bc+1)*h*w]
					y0 := max(i-1, 0)
					r1, r2 := min(y0+1, h-1), min(y0+2, h-1, i+1)
					sgemm.ArgMax3(im[y0*w:], im[r1*w:], im[r2*w:], w, y0*w, a[i*ow+1:i*ow+ow-1])
					continue
				}
				for j := 0; j < ow; j++ {
					a[i*ow+j] = argWindow(img, h, w, k, s, p, i, j)
				}
			}
		}
	})
	return arg
}

// argWindow returns the index in img (h×w) of the first maximum in row-major order of output
// (i, j)'s window, clipped to the image.
func argWindow[T float](img []T, h, w, k, s, p, i, j int) int32 {
	y0, y1 := max(i*s-p, 0), min(i*s-p+k, h)
	x0, x1 := max(j*s-p, 0), min(j*s-p+k, w)
	best := y0*w + x0
	for y := y0; y < y1; y++ {
		for xx := x0; xx < x1; xx++ {
			if img[y*w+xx] > img[best] {
				best = y*w + xx
			}
		}
	}
	return int32(best)
}

// MaxPool applies k×k max pooling with stride s and padding p to the NCHW node x: out[b,c,i,j] is
// the largest pixel of the window at (i·s−p, j·s−p) clipped to the image. The gradient flows to
// that pixel (the first in row-major order on ties).
func MaxPool(x *gorgonia.Node, k, s, p int) (*gorgonia.Node, error) {
	if x.Shape().Dims() != 4 {
		return nil, fmt.Errorf("max pool: input shape %v, want 4 dims", x.Shape())
	}
	if k < 1 || s < 1 || p < 0 || 2*p > k {
		return nil, fmt.Errorf("max pool: kernel %d stride %d pad %d, want k≥1, s≥1, 0≤p≤k/2", k, s, p)
	}
	name := fmt.Sprintf("MaxPool(k=%d,s=%d,p=%d)", k, s, p)
	op := &kernelOp{
		name: name, in: []int{4}, out: 4, wrt: []bool{true},
		shape: func(in []tensor.Shape) tensor.Shape {
			b, c, h, w := dims4(in[0])
			return tensor.Shape{b, c, poolOut(h, k, s, p), poolOut(w, k, s, p)}
		},
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		b, c, h, w := dims4(in[0].Shape())
		oh, ow := poolOut(h, k, s, p), poolOut(w, k, s, p)
		return apply(in[0], func() (gorgonia.Value, error) {
			return maxPoolGather(slice[float32](in[0]), b, c, h, w, k, s, p, oh, ow), nil
		}, func() (gorgonia.Value, error) {
			return maxPoolGather(slice[float64](in[0]), b, c, h, w, k, s, p, oh, ow), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{
			name: "MaxPoolGrad" + name[len("MaxPool"):], in: []int{4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
		}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			b, c, h, w := dims4(in[0].Shape())
			return apply(in[1], func() (gorgonia.Value, error) {
				return maxPoolScatter(slice[float32](in[0]), slice[float32](in[1]), b, c, h, w, k, s, p), nil
			}, func() (gorgonia.Value, error) {
				return maxPoolScatter(slice[float64](in[0]), slice[float64](in[1]), b, c, h, w, k, s, p), nil
			})
		}
		gx, err := gorgonia.ApplyOp(back, in[0], g)
		return gorgonia.Nodes{gx}, err
	}
	return gorgonia.ApplyOp(op, x)
}

func maxPoolGather[T float](x []T, b, c, h, w, k, s, p, oh, ow int) *tensor.Dense {
	arg := maxPoolArg(x, b, c, h, w, k, s, p)
	out, o := newDense[T](b, c, oh, ow)
	parallel(b*c, b*c*oh*ow, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			img := x[bc*h*w : (bc+1)*h*w]
			for t, a := range arg[bc*oh*ow : (bc+1)*oh*ow] {
				o[bc*oh*ow+t] = img[a]
			}
		}
	})
	return out
}

func maxPoolScatter[T float](x, gy []T, b, c, h, w, k, s, p int) *tensor.Dense {
	oh, ow := poolOut(h, k, s, p), poolOut(w, k, s, p)
	arg := maxPoolArg(x, b, c, h, w, k, s, p)
	out, gx := newDense[T](b, c, h, w)
	// Each plane's sums in the same order on any core.
	parallel(b*c, b*c*oh*ow, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			g := gx[bc*h*w : (bc+1)*h*w]
			for t, a := range arg[bc*oh*ow : (bc+1)*oh*ow] {
				g[a] += gy[bc*oh*ow+t]
			}
		}
	})
	return out
}

// ReLU6 returns min(max(x, 0), 6) elementwise (MobileNetV2's activation), with gradient
// g·[0 < x < 6].
func ReLU6(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activation(x, "ReLU6", relu6[float32], relu6[float64])
}

// ReLU is the rectifier with what gorgonia.Rectify computes, to the bit: x·[x ≥ 0] (so −0 for a
// negative x), and the gradient g·[x ≥ 0]. As one op it reads x once instead of building a mask
// tensor and multiplying, and it keeps gorgonia's shared zero constant out of our graphs.
func ReLU(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activation(x, "ReLU", relu[float32], relu[float64])
}

// activation applies the elementwise function f (f32 or f64 by dtype) to x: f(x, nil, shape) is
// the value, f(x, g, shape) the gradient given the output gradient g.
func activation(x *gorgonia.Node, name string, f32 func(x, g []float32, s tensor.Shape) *tensor.Dense, f64 func(x, g []float64, s tensor.Shape) *tensor.Dense) (*gorgonia.Node, error) {
	d := x.Shape().Dims()
	same := func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }
	op := &kernelOp{name: name, in: []int{d}, out: d, wrt: []bool{true}, shape: same}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		return apply(in[0], func() (gorgonia.Value, error) {
			return f32(slice[float32](in[0]), nil, in[0].Shape()), nil
		}, func() (gorgonia.Value, error) {
			return f64(slice[float64](in[0]), nil, in[0].Shape()), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{name: name + "Grad", in: []int{d, d}, out: d, shape: same}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[1], func() (gorgonia.Value, error) {
				return f32(slice[float32](in[0]), slice[float32](in[1]), in[0].Shape()), nil
			}, func() (gorgonia.Value, error) {
				return f64(slice[float64](in[0]), slice[float64](in[1]), in[0].Shape()), nil
			})
		}
		gx, err := gorgonia.ApplyOp(back, in[0], g)
		return gorgonia.Nodes{gx}, err
	}
	return gorgonia.ApplyOp(op, x)
}

// relu returns x·[x ≥ 0] if g is nil, else the gradient g·[x ≥ 0]: a product by 1 or 0, as
// gorgonia's Rectify computes it (a NaN stays NaN, and a negative value times 0 is −0).
func relu[T float](x, g []T, shape tensor.Shape) *tensor.Dense {
	out, y := newDenseFull[T](shape...)
	if g == nil {
		g = x
	}
	parallel(len(x), len(x), func(lo, hi int) {
		if xs, ok := any(x[lo:hi]).([]float32); ok { // 8 at a time on AVX2, the same bits
			sgemm.MaskMul(xs, any(g[lo:hi]).([]float32), any(y[lo:hi]).([]float32))
			return
		}
		for i, v := range x[lo:hi] {
			var m T
			if v >= 0 {
				m = 1
			}
			y[lo+i] = g[lo+i] * m
		}
	})
	return out
}

// relu6 returns min(max(x,0),6) if g is nil, else the gradient g·[0 < x < 6].
func relu6[T float](x, g []T, shape tensor.Shape) *tensor.Dense {
	out, y := newDense[T](shape...)
	for i, v := range x {
		switch {
		case g != nil:
			if v > 0 && v < 6 {
				y[i] = g[i]
			}
		case v <= 0:
		case v >= 6:
			y[i] = 6
		default:
			y[i] = v
		}
	}
	return out
}

// Subsample2 returns out[b,c,i,j] = x[b,c,2i+off,2j+off] for off ∈ {0,1}, of side ⌈(H−off)/2⌉:
// the pixels a 1×1 convolution with stride 2 reads from x (off = 0) or from x[:,:,1:,1:]
// (off = 1), the two halves of DARTS' FactorizedReduce.
func Subsample2(x *gorgonia.Node, off int) (*gorgonia.Node, error) {
	if x.Shape().Dims() != 4 || (off != 0 && off != 1) {
		return nil, fmt.Errorf("subsample: input shape %v offset %d, want 4 dims and offset 0 or 1", x.Shape(), off)
	}
	side := func(n int) int { return (n - off + 1) / 2 }
	op := &kernelOp{
		name: fmt.Sprintf("Subsample2(off=%d)", off), in: []int{4}, out: 4, wrt: []bool{true},
		shape: func(in []tensor.Shape) tensor.Shape {
			b, c, h, w := dims4(in[0])
			return tensor.Shape{b, c, side(h), side(w)}
		},
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		b, c, h, w := dims4(in[0].Shape())
		return apply(in[0], func() (gorgonia.Value, error) {
			return subsample(slice[float32](in[0]), nil, b, c, h, w, off, side(h), side(w)), nil
		}, func() (gorgonia.Value, error) {
			return subsample(slice[float64](in[0]), nil, b, c, h, w, off, side(h), side(w)), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{
			name: fmt.Sprintf("Subsample2Grad(off=%d)", off), in: []int{4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
		}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			b, c, h, w := dims4(in[0].Shape())
			return apply(in[1], func() (gorgonia.Value, error) {
				return subsample(nil, slice[float32](in[1]), b, c, h, w, off, side(h), side(w)), nil
			}, func() (gorgonia.Value, error) {
				return subsample(nil, slice[float64](in[1]), b, c, h, w, off, side(h), side(w)), nil
			})
		}
		gx, err := gorgonia.ApplyOp(back, in[0], g)
		return gorgonia.Nodes{gx}, err
	}
	return gorgonia.ApplyOp(op, x)
}

// subsample gathers x into a b×c×oh×ow tensor if gy is nil, else scatters gy into a b×c×h×w one.
func subsample[T float](x, gy []T, b, c, h, w, off, oh, ow int) *tensor.Dense {
	if gy == nil {
		out, o := newDense[T](b, c, oh, ow)
		for bc := 0; bc < b*c; bc++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					o[(bc*oh+i)*ow+j] = x[(bc*h+2*i+off)*w+2*j+off]
				}
			}
		}
		return out
	}
	out, gx := newDense[T](b, c, h, w)
	for bc := 0; bc < b*c; bc++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				gx[(bc*h+2*i+off)*w+2*j+off] = gy[(bc*oh+i)*ow+j]
			}
		}
	}
	return out
}
