package nn

import (
	"github.com/abs-nas/abs/internal/abs/nn/sgemm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// engine is the tensor engine of our graphs' values (the tape machines run with it, and our ops'
// results carry it): gorgonia's standard engine, except that Add (the graph's sums of a cell's
// edges, and gorgonia's sums of the gradients of a value used more than once) runs in one pass
// over the values, spread over the cores by parallel (float32 through sgemm.Add, 8 values at a
// time with AVX2), instead of gorgonia's single-threaded copy and add. Each sum is the same float
// addition, so the results have the same bits. Anything else (other dtypes, views, broadcasts)
// goes to the standard engine.
type engine struct{ gorgonia.StandardEngine }

func (e engine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	if r, ok := addDense(a, b, tensor.ParseFuncOpts(opts...)); ok {
		return r, nil
	}
	return e.StdEng.Add(a, b, opts...)
}

// addDense is Add on two contiguous dense tensors of one shape and element type, with the
// options fo: into fo.Incr() (adding to it), fo.Reuse(), a itself (unsafe), or a new tensor. It
// reports false, doing nothing, for anything else.
func addDense(a, b tensor.Tensor, fo *tensor.OpOpt) (tensor.Tensor, bool) {
	ad, bd := contiguous(a), contiguous(b)
	if ad == nil || bd == nil || !ad.Shape().Eq(bd.Shape()) || ad.Dtype() != bd.Dtype() {
		return nil, false
	}
	switch ad.Dtype() {
	case tensor.Float32:
		return addInto[float32](ad, bd, fo)
	case tensor.Float64:
		return addInto[float64](ad, bd, fo)
	}
	return nil, false
}

// contiguous returns t as a contiguous *tensor.Dense, or nil.
func contiguous(t tensor.Tensor) *tensor.Dense {
	d, ok := t.(*tensor.Dense)
	if !ok || d == nil || d.IsView() || d.RequiresIterator() || d.Shape().IsScalar() {
		return nil
	}
	return d
}

func addInto[T float](ad, bd *tensor.Dense, fo *tensor.OpOpt) (tensor.Tensor, bool) {
	x, y := slice[T](ad), slice[T](bd)
	var out *tensor.Dense
	var incr bool
	switch {
	case fo.Incr() != nil:
		out, incr = contiguous(fo.Incr()), true
	case fo.Reuse() != nil:
		out = contiguous(fo.Reuse())
	case !fo.Safe():
		out = ad
	default:
		out = tensor.New(tensor.WithShape(ad.Shape().Clone()...), tensor.WithBacking(make([]T, len(x))), tensor.WithEngine(engine{}))
	}
	if out == nil || out.Dtype() != ad.Dtype() || out.Shape().TotalSize() != len(x) {
		return nil, false
	}
	z := slice[T](out)
	parallel(len(x), len(x), func(lo, hi int) {
		xs, ys, zs := x[lo:hi], y[lo:hi], z[lo:hi]
		if x32, ok := any(xs).([]float32); ok {
			sgemm.Add(x32, any(ys).([]float32), any(zs).([]float32), incr)
			return
		}
		if incr {
			for i, v := range xs {
				zs[i] += v + ys[i]
			}
			return
		}
		for i, v := range xs {
			zs[i] = v + ys[i]
		}
	})
	return out, true
}
