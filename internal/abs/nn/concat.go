package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// concatFwd joins the NCHW tensors xs, of cs[i] channels each, along the channel axis: image b of
// the result holds image b of xs[0], then of xs[1], and so on.
func concatFwd[T float](xs [][]T, cs []int, b, hw int) []T {
	total := 0
	for _, c := range cs {
		total += c
	}
	out := getOut[T](b*total*hw, false) // every value is copied in
	for i := 0; i < b; i++ {
		dst := out[i*total*hw : (i+1)*total*hw]
		for j, x := range xs {
			n := cs[j] * hw
			dst = dst[copy(dst, x[i*n:(i+1)*n]):]
		}
	}
	return out
}

// concatSlice returns channels [off, off+c) of the NCHW tensor gy of total channels: the gradient
// of one input of a channel concatenation.
func concatSlice[T float](gy []T, b, total, off, c, hw int) []T {
	out := getOut[T](b*c*hw, false)
	for i := 0; i < b; i++ {
		copy(out[i*c*hw:(i+1)*c*hw], gy[(i*total+off)*hw:(i*total+off+c)*hw])
	}
	return out
}

// ConcatChannels joins the NCHW nodes xs along the channel axis (what gorgonia.Concat(1, xs...)
// computes). Its gradient in each input is the matching channels of the output gradient. Both are
// plain copies, without the strided iterators gorgonia's Concat and its gradient go through.
func ConcatChannels(xs ...*gorgonia.Node) (*gorgonia.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("concat: no inputs")
	}
	s0 := xs[0].Shape()
	cs := make([]int, len(xs))
	total := 0
	for i, x := range xs {
		s := x.Shape()
		if s.Dims() != 4 || s0.Dims() != 4 || s[0] != s0[0] || s[2] != s0[2] || s[3] != s0[3] {
			return nil, fmt.Errorf("concat: input %d has shape %v, want NCHW like input 0's %v", i, s, s0)
		}
		cs[i] = s[1]
		total += s[1]
	}
	offsets := make([]int, len(xs))
	for i := 1; i < len(xs); i++ {
		offsets[i] = offsets[i-1] + cs[i-1]
	}
	dims := make([]int, len(xs))
	wrt := make([]bool, len(xs))
	for i := range xs {
		dims[i], wrt[i] = 4, true
	}
	op := &kernelOp{
		name: fmt.Sprintf("ConcatChannels%v", cs), in: dims, out: 4, wrt: wrt,
		shape: func(in []tensor.Shape) tensor.Shape { return tensor.Shape{in[0][0], total, in[0][2], in[0][3]} },
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		b, _, h, w := dims4(in[0].Shape())
		return apply(in[0], func() (gorgonia.Value, error) {
			return concatDense(in, cs, b, h, w, total, slice[float32]), nil
		}, func() (gorgonia.Value, error) {
			return concatDense(in, cs, b, h, w, total, slice[float64]), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, gy *gorgonia.Node) (gorgonia.Nodes, error) {
		grads := make(gorgonia.Nodes, len(in))
		for i, c := range cs {
			off := offsets[i] // the slice op runs later: it keeps this input's offset
			sl := &kernelOp{name: fmt.Sprintf("ConcatChannelsSlice(off=%d,c=%d,of=%d)", off, c, total), in: []int{4}, out: 4,
				shape: func(in []tensor.Shape) tensor.Shape { return tensor.Shape{in[0][0], c, in[0][2], in[0][3]} }}
			sl.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
				b, _, h, w := dims4(in[0].Shape())
				return apply(in[0], func() (gorgonia.Value, error) {
					out := concatSlice(slice[float32](in[0]), b, total, off, c, h*w)
					return tensor.New(tensor.WithShape(b, c, h, w), tensor.WithBacking(out)), nil
				}, func() (gorgonia.Value, error) {
					out := concatSlice(slice[float64](in[0]), b, total, off, c, h*w)
					return tensor.New(tensor.WithShape(b, c, h, w), tensor.WithBacking(out)), nil
				})
			}
			g, err := gorgonia.ApplyOp(sl, gy)
			if err != nil {
				return nil, err
			}
			grads[i] = g
		}
		return grads, nil
	}
	return gorgonia.ApplyOp(op, xs...)
}

func concatDense[T float](in []*tensor.Dense, cs []int, b, h, w, total int, data func(*tensor.Dense) []T) *tensor.Dense {
	xs := make([][]T, len(in))
	for i, d := range in {
		xs[i] = data(d)
	}
	out := concatFwd(xs, cs, b, h*w)
	return tensor.New(tensor.WithShape(b, total, h, w), tensor.WithBacking(out))
}
