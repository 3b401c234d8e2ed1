package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pwFwd computes out[b] = W·X[b] for every image b: W is cout×cin, X[b] cin×hw. The images are
// spread over the cores, each image's product computed on one, so the bits do not depend on the
// thread count.
func pwFwd[T float](x, w []T, b, cin, cout, hw int) []T {
	out := getOut[T](b*cout*hw, false) // a product with beta 0 writes every value
	parallel(b, b*(cin+cout)*hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm1(false, false, cout, hw, cin, w, cin, x[i*cin*hw:(i+1)*cin*hw], hw, 0, out[i*cout*hw:(i+1)*cout*hw], hw)
		}
	})
	return out
}

// pwBwdX computes gX[b] = Wᵀ·gY[b], the images spread over the cores as in pwFwd.
func pwBwdX[T float](w, gy []T, b, cin, cout, hw int) []T {
	gx := getOut[T](b*cin*hw, false)
	parallel(b, b*(cin+cout)*hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm1(true, false, cin, hw, cout, w, cin, gy[i*cout*hw:(i+1)*cout*hw], hw, 0, gx[i*cin*hw:(i+1)*cin*hw], hw)
		}
	})
	return gx
}

// pwBwdW computes gW = Σ_b gY[b]·X[b]ᵀ, the images' products added in order (so on the cores
// the multiply itself uses).
func pwBwdW[T float](x, gy []T, b, cin, cout, hw int) []T {
	gw := getOut[T](cout*cin, false) // the first product, with beta 0, writes every value
	for i := 0; i < b; i++ {
		beta := T(0)
		if i > 0 {
			beta = 1
		}
		gemm(false, true, cout, cin, hw, gy[i*cout*hw:(i+1)*cout*hw], hw, x[i*cin*hw:(i+1)*cin*hw], hw, beta, gw, cin)
	}
	return gw
}

// Pointwise applies the 1×1 convolution with kernel w of shape [C_out,C_in,1,1] and stride 1 to
// the NCHW node x, out[b,o,y,x] = Σ_i w[o,i]·x[b,i,y,x], as one matrix product per image. It
// computes what gorgonia's Conv2d computes for a 1×1 kernel without its im2col and transpose
// copies; the DARTS and MobileNet-like nets use it for their pointwise layers.
func Pointwise(x, w *gorgonia.Node) (*gorgonia.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || ws[1] != xs[1] || ws[2] != 1 || ws[3] != 1 {
		return nil, fmt.Errorf("pointwise conv: input %v, kernel %v, want NCHW and [C_out,C,1,1]", xs, ws)
	}
	cout := ws[0]
	op := &kernelOp{
		name: "Pointwise", in: []int{4, 4}, out: 4, wrt: []bool{true, true},
		shape: func(in []tensor.Shape) tensor.Shape {
			return tensor.Shape{in[0][0], cout, in[0][2], in[0][3]}
		},
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		b, c, h, wd := dims4(in[0].Shape())
		return apply(in[0], func() (gorgonia.Value, error) {
			out := pwFwd(slice[float32](in[0]), slice[float32](in[1]), b, c, cout, h*wd)
			return tensor.New(tensor.WithShape(b, cout, h, wd), tensor.WithBacking(out)), nil
		}, func() (gorgonia.Value, error) {
			out := pwFwd(slice[float64](in[0]), slice[float64](in[1]), b, c, cout, h*wd)
			return tensor.New(tensor.WithShape(b, cout, h, wd), tensor.WithBacking(out)), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, gy *gorgonia.Node) (gorgonia.Nodes, error) {
		gxOp := &kernelOp{name: "PointwiseGradX", in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }}
		gxOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			b, c, h, wd := dims4(in[0].Shape())
			return apply(in[2], func() (gorgonia.Value, error) {
				gx := pwBwdX(slice[float32](in[1]), slice[float32](in[2]), b, c, cout, h*wd)
				return tensor.New(tensor.WithShape(b, c, h, wd), tensor.WithBacking(gx)), nil
			}, func() (gorgonia.Value, error) {
				gx := pwBwdX(slice[float64](in[1]), slice[float64](in[2]), b, c, cout, h*wd)
				return tensor.New(tensor.WithShape(b, c, h, wd), tensor.WithBacking(gx)), nil
			})
		}
		gwOp := &kernelOp{name: "PointwiseGradW", in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[1].Clone() }}
		gwOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			b, c, h, wd := dims4(in[0].Shape())
			return apply(in[2], func() (gorgonia.Value, error) {
				gw := pwBwdW(slice[float32](in[0]), slice[float32](in[2]), b, c, cout, h*wd)
				return tensor.New(tensor.WithShape(cout, c, 1, 1), tensor.WithBacking(gw)), nil
			}, func() (gorgonia.Value, error) {
				gw := pwBwdW(slice[float64](in[0]), slice[float64](in[2]), b, c, cout, h*wd)
				return tensor.New(tensor.WithShape(cout, c, 1, 1), tensor.WithBacking(gw)), nil
			})
		}
		gx, err := gorgonia.ApplyOp(gxOp, in[0], in[1], gy)
		if err != nil {
			return nil, err
		}
		gw, err := gorgonia.ApplyOp(gwOp, in[0], in[1], gy)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gw}, nil
	}
	return gorgonia.ApplyOp(op, x, w)
}
