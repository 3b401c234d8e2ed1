package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kernelOp is a gorgonia operation defined by a forward function over dense float32 or float64
// tensors and, for differentiable ops, a symbolic gradient built from further kernelOps. It exists
// because gorgonia v0.9.18's AveragePool2D is wrong, GlobalAveragePool2D has no gradient and its
// BatchNorm always carries affine parameters; our own ops replace them.
type kernelOp struct {
	// name identifies the op and all its settings; gorgonia merges nodes whose op name and inputs
	// are equal, so stateful ops put a unique layer name in it.
	name string
	// in holds the number of dimensions of each input (0 for a scalar); out that of the result.
	in  []int
	out int
	// shape returns the result shape from the input shapes.
	shape func(in []tensor.Shape) tensor.Shape
	// fwd computes the result. Inputs are contiguous; a scalar input is a 0-d Dense.
	fwd func(in []*tensor.Dense) (gorgonia.Value, error)
	// grad returns one gradient node per input (nil where wrt is false), given the inputs, the
	// output and the gradient of the cost with respect to the output. Nil for ops that are only
	// used inside gradients.
	grad func(in gorgonia.Nodes, out, g *gorgonia.Node) (gorgonia.Nodes, error)
	wrt  []bool
	// inShapes are the input shapes the graph was built with (recorded by InferShape); Do refuses
	// inputs of any other shape, so a kernel never indexes past a value it was not built for.
	inShapes []tensor.Shape
}

func (o *kernelOp) Arity() int { return len(o.in) }

func (o *kernelOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make(hm.Types, 0, len(o.in)+1)
	typ := func(d int) hm.Type {
		if d == 0 {
			return a
		}
		return gorgonia.TensorType{Dims: d, Of: a}
	}
	for _, d := range o.in {
		ts = append(ts, typ(d))
	}
	ts = append(ts, typ(o.out))
	return hm.NewFnType(ts...)
}

func (o *kernelOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%s: input %d has no shape", o.name, i)
		}
		shapes[i] = s
	}
	o.inShapes = make([]tensor.Shape, len(shapes))
	for i, s := range shapes {
		o.inShapes[i] = s.Clone()
	}
	return o.shape(shapes), nil
}

func (o *kernelOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != len(o.in) {
		return nil, fmt.Errorf("%s: got %d inputs, want %d", o.name, len(in), len(o.in))
	}
	ds := make([]*tensor.Dense, len(in))
	for i, v := range in {
		d, err := dense(v)
		if err != nil {
			return nil, fmt.Errorf("%s: input %d: %w", o.name, i, err)
		}
		if err := o.checkInput(i, d); err != nil {
			return nil, err
		}
		ds[i] = d
	}
	return o.fwd(ds)
}

// checkInput returns an error if input i does not hold as many values as its shape says, or its
// shape is not the one the graph was built with.
func (o *kernelOp) checkInput(i int, d *tensor.Dense) error {
	s := d.Shape()
	if n := d.DataSize(); !s.IsScalar() && n != s.TotalSize() {
		return fmt.Errorf("%s: input %d has shape %v but %d values", o.name, i, s, n)
	}
	if i < len(o.inShapes) {
		want := o.inShapes[i]
		if !(s.IsScalar() && want.IsScalar()) && !s.Eq(want) {
			return fmt.Errorf("%s: input %d has shape %v, the graph was built for %v", o.name, i, s, want)
		}
	}
	return nil
}

func (o *kernelOp) ReturnsPtr() bool     { return false }
func (o *kernelOp) CallsExtern() bool    { return false }
func (o *kernelOp) OverwritesInput() int { return -1 }
func (o *kernelOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, o.name)
}
func (o *kernelOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *kernelOp) String() string { return o.name }

func (o *kernelOp) DiffWRT(n int) []bool {
	if o.grad == nil {
		return make([]bool, n)
	}
	return o.wrt
}

func (o *kernelOp) SymDiff(in gorgonia.Nodes, out, g *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.grad == nil {
		return nil, fmt.Errorf("%s is not differentiable", o.name)
	}
	return o.grad(in, out, g)
}

// dense converts a gorgonia value to a contiguous Dense; scalars become 0-d tensors.
func dense(v gorgonia.Value) (*tensor.Dense, error) {
	switch x := v.(type) {
	case *tensor.Dense:
		if x.RequiresIterator() || x.IsView() {
			return x.Materialize().(*tensor.Dense), nil
		}
		return x, nil
	case *gorgonia.F32:
		return tensor.New(tensor.FromScalar(float32(*x))), nil
	case *gorgonia.F64:
		return tensor.New(tensor.FromScalar(float64(*x))), nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

// float is the element type of the tensors our kernels handle.
type float interface{ ~float32 | ~float64 }

// slice returns the backing slice of a contiguous float32 or float64 Dense as []T. The caller
// picks T to match the dtype; a mismatch is a programmer error and panics.
func slice[T float](d *tensor.Dense) []T {
	if d.Shape().IsScalar() {
		switch v := d.ScalarValue().(type) {
		case float32:
			return []T{T(v)}
		case float64:
			return []T{T(v)}
		}
	}
	return d.Data().([]T)
}

// apply runs f with the element type of d: f32 for float32, f64 for float64.
func apply(d *tensor.Dense, f32 func() (gorgonia.Value, error), f64 func() (gorgonia.Value, error)) (gorgonia.Value, error) {
	switch d.Dtype() {
	case tensor.Float32:
		return f32()
	case tensor.Float64:
		return f64()
	}
	return nil, fmt.Errorf("unsupported dtype %v, want float32 or float64", d.Dtype())
}

func newDense[T float](shape ...int) (*tensor.Dense, []T) {
	n := 1
	for _, s := range shape {
		n *= s
	}
	buf := getOut[T](n, true)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf)), buf
}

// newDenseFull is newDense for a kernel that writes every element: the contents are arbitrary.
func newDenseFull[T float](shape ...int) (*tensor.Dense, []T) {
	n := 1
	for _, s := range shape {
		n *= s
	}
	buf := getOut[T](n, false)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf), tensor.WithEngine(engine{})), buf
}

func scalarValue[T float](v T) gorgonia.Value {
	switch x := any(v).(type) {
	case float32:
		return gorgonia.NewF32(x)
	case float64:
		return gorgonia.NewF64(x)
	}
	panic("unreachable")
}

func dims4(s tensor.Shape) (b, c, h, w int) { return s[0], s[1], s[2], s[3] }

// ---- average pooling ----

// poolOut returns the output size of a pooling window k with stride s and padding p over n.
func poolOut(n, k, s, p int) int { return (n+2*p-k)/s + 1 }

// avgPoolFwd computes out[b,c,i,j] = (1/|W_ij|) Σ_{(y,x)∈W_ij} x[b,c,y,x], where W_ij is the k×k
// window at (i·s−p, j·s−p) clipped to the image: padding is not counted (PyTorch's
// count_include_pad=False, as in NB201's POOLING op).
func avgPoolFwd[T float](x []T, b, c, h, w, k, s, p int) ([]T, int, int) {
	oh, ow := poolOut(h, k, s, p), poolOut(w, k, s, p)
	out := getOut[T](b*c*oh*ow, false) // every branch below writes every output
	if s == 1 && k == 2*p+1 {
		boxPool(x, out, b*c, h, w, p, false)
		return out, oh, ow
	}
	if k == 2 && s == 2 && p == 0 && h%2 == 0 && w%2 == 0 {
		// Disjoint 2×2 windows, all inside the image.
		parallel(b*c, b*c*h*w, func(p0, p1 int) {
			for pl := p0; pl < p1; pl++ {
				in, o := x[pl*h*w:][:h*w], out[pl*oh*ow:][:oh*ow]
				for i := 0; i < oh; i++ {
					r0, r1, or := in[2*i*w:][:w], in[(2*i+1)*w:][:w], o[i*ow:][:ow]
					for j := range or {
						or[j] = (r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]) / 4
					}
				}
			}
		})
		return out, oh, ow
	}
	parallel(b*c, b*c*oh*ow*k*k, func(p0, p1 int) {
		for bc := p0; bc < p1; bc++ {
			img := x[bc*h*w : (bc+1)*h*w]
			o := out[bc*oh*ow : (bc+1)*oh*ow]
			for i := 0; i < oh; i++ {
				y0, y1 := max(i*s-p, 0), min(i*s-p+k, h)
				for j := 0; j < ow; j++ {
					x0, x1 := max(j*s-p, 0), min(j*s-p+k, w)
					var sum T
					for y := y0; y < y1; y++ {
						for xx := x0; xx < x1; xx++ {
							sum += img[y*w+xx]
						}
					}
					o[i*ow+j] = sum / T((y1-y0)*(x1-x0))
				}
			}
		}
	})
	return out, oh, ow
}

// avgPoolBwd is the adjoint of avgPoolFwd: each output gradient is spread evenly over its window.
func avgPoolBwd[T float](gy []T, b, c, h, w, k, s, p int) []T {
	oh, ow := poolOut(h, k, s, p), poolOut(w, k, s, p)
	box, disjoint := s == 1 && k == 2*p+1, k == 2 && s == 2 && p == 0 && h%2 == 0 && w%2 == 0
	gx := getOut[T](b*c*h*w, !box && !disjoint) // the general case accumulates
	if box {
		boxPool(gy, gx, b*c, h, w, p, true)
		return gx
	}
	if disjoint {
		parallel(b*c, b*c*h*w, func(p0, p1 int) {
			for pl := p0; pl < p1; pl++ {
				g, o := gx[pl*h*w:][:h*w], gy[pl*oh*ow:][:oh*ow]
				for i := 0; i < oh; i++ {
					r0, r1, or := g[2*i*w:][:w], g[(2*i+1)*w:][:w], o[i*ow:][:ow]
					for j, v := range or {
						v /= 4
						r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1] = v, v, v, v
					}
				}
			}
		})
		return gx
	}
	parallel(b*c, b*c*oh*ow*k*k, func(p0, p1 int) {
		for bc := p0; bc < p1; bc++ {
			g := gx[bc*h*w : (bc+1)*h*w]
			o := gy[bc*oh*ow : (bc+1)*oh*ow]
			for i := 0; i < oh; i++ {
				y0, y1 := max(i*s-p, 0), min(i*s-p+k, h)
				for j := 0; j < ow; j++ {
					x0, x1 := max(j*s-p, 0), min(j*s-p+k, w)
					v := o[i*ow+j] / T((y1-y0)*(x1-x0))
					for y := y0; y < y1; y++ {
						for xx := x0; xx < x1; xx++ {
							g[y*w+xx] += v
						}
					}
				}
			}
		}
	})
	return gx
}

// boxPool is average pooling with a (2p+1)×(2p+1) window at stride 1 and padding p, which keeps
// the image size, computed separably: a clipped sum along rows, then along columns, then the
// division by the window's pixel count inside the image. The clipped box sum is its own adjoint,
// so with adjoint set it computes the gradient instead, dividing first.
func boxPool[T float](src, dst []T, planes, h, w, p int, adjoint bool) {
	// inv[y·w+x] = 1/(pixels of the window at (y,x) inside the image).
	inv := getScratch[T](h * w)
	defer putScratch(inv)
	for y := 0; y < h; y++ {
		cy := min(y+p, h-1) - max(y-p, 0) + 1
		for x := 0; x < w; x++ {
			inv[y*w+x] = 1 / T(cy*(min(x+p, w-1)-max(x-p, 0)+1))
		}
	}
	parallel(planes, 2*planes*h*w, func(p0, p1 int) {
		tmp := getScratch[T](h * w)
		boxPlanes(src, dst, tmp, inv, p0, p1, h, w, p, adjoint)
		putScratch(tmp)
	})
}

// boxPlanes is boxPool on the planes [p0, p1), with tmp (h·w values) as its scratch. With p = 1
// (NB201's 3×3 pooling) each pass runs over the whole plane at once (sum3: the row sums at every
// position, the two edge columns then redone with their two terms; the column sums on the rows
// with a row above and below), with each element's terms in the same order as the general loops.
func boxPlanes[T float](src, dst, tmp, inv []T, p0, p1, h, w, p int, adjoint bool) {
	n := h * w
	for pl := p0; pl < p1; pl++ {
		in, out := src[pl*n:][:n], dst[pl*n:][:n]
		if adjoint {
			mulInto(in, inv, out)
			in = out
		}
		if p == 1 && w >= 2 {
			if n > 2 {
				sum3(in, in[1:], in[2:], nil, tmp[1:n-1])
			}
			for y := 0; y < h; y++ {
				r, t := in[y*w:][:w], tmp[y*w:][:w]
				t[0], t[w-1] = r[0]+r[1], r[w-2]+r[w-1]
			}
		} else {
			for y := 0; y < h; y++ {
				r, t := in[y*w:][:w], tmp[y*w:][:w]
				for x := 0; x < w; x++ {
					var sum T
					for j := max(x-p, 0); j <= min(x+p, w-1); j++ {
						sum += r[j]
					}
					t[x] = sum
				}
			}
		}
		inner := p == 1 && h >= 3 // rows 1 … h−2 sum the row above, their own, the row below
		if inner {
			var iv []T
			if !adjoint {
				iv = inv[w : (h-1)*w]
			}
			sum3(tmp, tmp[w:], tmp[2*w:], iv, out[w:(h-1)*w])
		}
		for y := 0; y < h; y++ {
			if inner && y > 0 && y < h-1 {
				continue
			}
			o := out[y*w:][:w]
			y0, y1 := max(y-p, 0), min(y+p, h-1)
			copy(o, tmp[y0*w:][:w])
			for i := y0 + 1; i <= y1; i++ {
				for x, v := range tmp[i*w:][:w] {
					o[x] += v
				}
			}
			if !adjoint {
				for x, v := range inv[y*w:][:w] {
					o[x] *= v
				}
			}
		}
	}
}

// AvgPool applies k×k average pooling with stride s and padding p to the NCHW node x, dividing each
// window's sum by the number of pixels inside the image (padding excluded).
func AvgPool(x *gorgonia.Node, k, s, p int) (*gorgonia.Node, error) {
	if x.Shape().Dims() != 4 {
		return nil, fmt.Errorf("avg pool: input shape %v, want 4 dims", x.Shape())
	}
	if k < 1 || s < 1 || p < 0 || p >= k {
		return nil, fmt.Errorf("avg pool: kernel %d stride %d pad %d, want k≥1, s≥1, 0≤p<k", k, s, p)
	}
	op := &kernelOp{
		name: fmt.Sprintf("AvgPool(k=%d,s=%d,p=%d)", k, s, p),
		in:   []int{4}, out: 4, wrt: []bool{true},
		shape: func(in []tensor.Shape) tensor.Shape {
			b, c, h, w := dims4(in[0])
			return tensor.Shape{b, c, poolOut(h, k, s, p), poolOut(w, k, s, p)}
		},
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		b, c, h, w := dims4(in[0].Shape())
		return apply(in[0], func() (gorgonia.Value, error) {
			out, oh, ow := avgPoolFwd(slice[float32](in[0]), b, c, h, w, k, s, p)
			return tensor.New(tensor.WithShape(b, c, oh, ow), tensor.WithBacking(out)), nil
		}, func() (gorgonia.Value, error) {
			out, oh, ow := avgPoolFwd(slice[float64](in[0]), b, c, h, w, k, s, p)
			return tensor.New(tensor.WithShape(b, c, oh, ow), tensor.WithBacking(out)), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{
			name: "AvgPoolGrad" + op.name[len("AvgPool"):],
			in:   []int{4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
		}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			b, c, h, w := dims4(in[0].Shape())
			return apply(in[1], func() (gorgonia.Value, error) {
				gx := avgPoolBwd(slice[float32](in[1]), b, c, h, w, k, s, p)
				return tensor.New(tensor.WithShape(b, c, h, w), tensor.WithBacking(gx)), nil
			}, func() (gorgonia.Value, error) {
				gx := avgPoolBwd(slice[float64](in[1]), b, c, h, w, k, s, p)
				return tensor.New(tensor.WithShape(b, c, h, w), tensor.WithBacking(gx)), nil
			})
		}
		gx, err := gorgonia.ApplyOp(back, in[0], g)
		return gorgonia.Nodes{gx}, err
	}
	return gorgonia.ApplyOp(op, x)
}

// ---- global average pooling ----

// GlobalAvgPool maps the NCHW node x to the N×C node of per-channel means,
// out[b,c] = (1/HW) Σ_{y,x} x[b,c,y,x].
func GlobalAvgPool(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x.Shape().Dims() != 4 {
		return nil, fmt.Errorf("global avg pool: input shape %v, want 4 dims", x.Shape())
	}
	op := &kernelOp{
		name: "GlobalAvgPool", in: []int{4}, out: 2, wrt: []bool{true},
		shape: func(in []tensor.Shape) tensor.Shape { return tensor.Shape{in[0][0], in[0][1]} },
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		b, c, h, w := dims4(in[0].Shape())
		return apply(in[0], func() (gorgonia.Value, error) {
			return gapFwd(slice[float32](in[0]), b, c, h*w), nil
		}, func() (gorgonia.Value, error) {
			return gapFwd(slice[float64](in[0]), b, c, h*w), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{
			name: "GlobalAvgPoolGrad", in: []int{4, 2}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
		}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			b, c, h, w := dims4(in[0].Shape())
			return apply(in[1], func() (gorgonia.Value, error) {
				return gapBwd(slice[float32](in[1]), b, c, h, w), nil
			}, func() (gorgonia.Value, error) {
				return gapBwd(slice[float64](in[1]), b, c, h, w), nil
			})
		}
		gx, err := gorgonia.ApplyOp(back, in[0], g)
		return gorgonia.Nodes{gx}, err
	}
	return gorgonia.ApplyOp(op, x)
}

func gapFwd[T float](x []T, b, c, hw int) *tensor.Dense {
	out, o := newDense[T](b, c)
	for i := range o {
		var s T
		for _, v := range x[i*hw : (i+1)*hw] {
			s += v
		}
		o[i] = s / T(hw)
	}
	return out
}

func gapBwd[T float](gy []T, b, c, h, w int) *tensor.Dense {
	out, gx := newDenseFull[T](b, c, h, w)
	hw := h * w
	for i, g := range gy {
		v := g / T(hw)
		for j := i * hw; j < (i+1)*hw; j++ {
			gx[j] = v
		}
	}
	return out
}

// ---- batch normalisation without affine parameters ----

// BNEps is the ε added to the variance in batch normalisation (PyTorch's default).
const BNEps = 1e-5

// BNMomentum is the weight of the current batch in the running statistics (PyTorch's default 0.1).
const BNMomentum = 0.1

// BNMode says which statistics a batch-normalisation layer uses and whether it updates its running
// statistics.
type BNMode int

const (
	// BNTrain normalises with the batch statistics and updates the running statistics by an
	// exponential moving average: r ← (1−0.1)·r + 0.1·s, with the unbiased batch variance.
	BNTrain BNMode = iota
	// BNEval normalises with the running statistics and leaves them unchanged.
	BNEval
	// BNRecompute normalises with the batch statistics and sets the running statistics to the
	// cumulative mean of the batch statistics seen so far (Stats.Batches counts them): the Re-BN
	// of the ABS paper.
	BNRecompute
)

// Stats holds the running mean and variance of one batch-normalisation layer.
type Stats struct {
	Mean, Var []float64
	// Batches counts the batches averaged by BNRecompute.
	Batches int
}

// NewStats returns running statistics for c channels initialised as PyTorch does (mean 0, var 1).
func NewStats(c int) *Stats {
	s := &Stats{Mean: make([]float64, c), Var: make([]float64, c)}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// Clone returns a deep copy of s.
func (s *Stats) Clone() *Stats {
	return &Stats{Mean: append([]float64(nil), s.Mean...), Var: append([]float64(nil), s.Var...), Batches: s.Batches}
}

// CloneStats returns a deep copy of stats.
func CloneStats(stats map[string]*Stats) map[string]*Stats {
	c := make(map[string]*Stats, len(stats))
	for k, v := range stats {
		c[k] = v.Clone()
	}
	return c
}

// BatchNorm normalises the NCHW node x per channel, y = (x−μ_c)/√(σ²_c+ε), with no affine
// parameters (the authors' supernet uses affine=False in its cells). In BNTrain and BNRecompute
// mode μ and σ² are the biased batch statistics over N, H and W and the gradient is
// ∂L/∂x = (1/√(σ²+ε))·(g − mean(g) − y·mean(g·y)); in BNEval mode they come from st and the gradient
// is g/√(σ²+ε). Running statistics in st are updated when the graph runs. name must be unique in
// the graph.
func BatchNorm(x *gorgonia.Node, st *Stats, mode BNMode, name string) (*gorgonia.Node, error) {
	if x.Shape().Dims() != 4 {
		return nil, fmt.Errorf("batch norm %s: input shape %v, want 4 dims", name, x.Shape())
	}
	if c := x.Shape()[1]; len(st.Mean) != c || len(st.Var) != c {
		return nil, fmt.Errorf("batch norm %s: %d running statistics for %d channels", name, len(st.Mean), c)
	}
	op := &kernelOp{
		name: fmt.Sprintf("BatchNorm(%s,mode=%d)", name, mode), in: []int{4}, out: 4, wrt: []bool{true},
		shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
	}
	// inv holds 1/√(σ²_c+ε) of the last forward run, for the gradient of the same run.
	var inv []float64
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		return apply(in[0], func() (v gorgonia.Value, err error) {
			v, inv = bnFwd(slice[float32](in[0]), in[0].Shape(), st, mode)
			return v, nil
		}, func() (v gorgonia.Value, err error) {
			v, inv = bnFwd(slice[float64](in[0]), in[0].Shape(), st, mode)
			return v, nil
		})
	}
	op.grad = func(in gorgonia.Nodes, out, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{
			name: fmt.Sprintf("BatchNormGrad(%s,mode=%d)", name, mode), in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
		}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return bnBwd(slice[float32](in[1]), slice[float32](in[2]), in[0].Shape(), inv, mode), nil
			}, func() (gorgonia.Value, error) {
				return bnBwd(slice[float64](in[1]), slice[float64](in[2]), in[0].Shape(), inv, mode), nil
			})
		}
		gx, err := gorgonia.ApplyOp(back, in[0], out, g)
		return gorgonia.Nodes{gx}, err
	}
	return gorgonia.ApplyOp(op, x)
}

// batchStats returns the per-channel mean and biased variance of x, accumulated in float64 in one
// pass over values shifted by the channel's first value (which keeps the variance
// Σ(x−K)²/n − (Σ(x−K)/n)² free of cancellation when the mean is large).
func batchStats[T float](x []T, b, c, hw int) (mean, vr []float64) {
	mean, vr = make([]float64, c), make([]float64, c)
	n := float64(b * hw)
	parallel(c, b*c*hw, func(c0, c1 int) {
		for ch := c0; ch < c1; ch += 4 {
			ls := lanes4(ch, c1)
			var k, s, q [4]float64
			for l, cl := range ls {
				k[l] = float64(x[cl*hw])
			}
			for i := 0; i < b; i++ {
				seg := func(l int) []T { return x[(i*c+ls[l])*hw:][:hw] }
				moments4(seg(0), seg(1), seg(2), seg(3), &k, &s, &q)
			}
			for l := 0; l < 4 && ch+l < c1; l++ {
				m := s[l] / n
				mean[ch+l], vr[ch+l] = k[l]+m, max(q[l]/n-m*m, 0)
			}
		}
	})
	return mean, vr
}

// updateStats folds the batch mean and biased variance over n values into the running statistics
// (BNTrain or BNRecompute mode).
func updateStats[T float](st *Stats, mode BNMode, mean, vr []float64, n float64) {
	unbiased := n / math.Max(n-1, 1)
	// Running statistics are rounded to the element type, so that a float32 net's statistics
	// survive a round trip through a float32 checkpoint bit for bit.
	switch mode {
	case BNTrain:
		for ch := range mean {
			st.Mean[ch] = float64(T((1-BNMomentum)*st.Mean[ch] + BNMomentum*mean[ch]))
			st.Var[ch] = float64(T((1-BNMomentum)*st.Var[ch] + BNMomentum*vr[ch]*unbiased))
		}
	case BNRecompute:
		k := float64(st.Batches)
		for ch := range mean {
			st.Mean[ch] = float64(T((k*st.Mean[ch] + mean[ch]) / (k + 1)))
			st.Var[ch] = float64(T((k*st.Var[ch] + vr[ch]*unbiased) / (k + 1)))
		}
		st.Batches++
	}
}

// bnFwd returns the normalised x and the per-channel 1/√(σ²+ε) it used.
func bnFwd[T float](x []T, shape tensor.Shape, st *Stats, mode BNMode) (*tensor.Dense, []float64) {
	b, c, h, w := dims4(shape)
	hw := h * w
	var mean, vr []float64
	if mode == BNEval {
		mean, vr = st.Mean, st.Var
	} else {
		mean, vr = batchStats(x, b, c, hw)
		updateStats[T](st, mode, mean, vr, float64(b*hw))
	}
	inv := make([]float64, c)
	for ch := range inv {
		inv[ch] = 1 / math.Sqrt(vr[ch]+BNEps)
	}
	out, y := newDenseFull[T](b, c, h, w)
	parallel(b*c, b*c*hw, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			ch := bc % c
			m, iv := T(mean[ch]), T(inv[ch])
			centreInto(x[bc*hw:(bc+1)*hw], y[bc*hw:(bc+1)*hw], m, iv)
		}
	})
	return out, inv
}

// bnBwd returns ∂L/∂x from the output y, its gradient gy and the forward pass's 1/√(σ²+ε).
func bnBwd[T float](y, gy []T, shape tensor.Shape, inv []float64, mode BNMode) *tensor.Dense {
	b, c, h, w := dims4(shape)
	hw := h * w
	out, gx := newDenseFull[T](b, c, h, w)
	if mode == BNEval {
		parallel(b*c, b*c*hw, func(lo, hi int) {
			for bc := lo; bc < hi; bc++ {
				iv := T(inv[bc%c])
				gs, gxs := gy[bc*hw:(bc+1)*hw], gx[bc*hw:(bc+1)*hw]
				for j, g := range gs {
					gxs[j] = g * iv
				}
			}
		})
		return out
	}
	n := float64(b * hw)
	parallel(c, 2*b*c*hw, func(c0, c1 int) {
		for ch := c0; ch < c1; ch++ {
			var sg, sgy float64
			for i := 0; i < b; i++ {
				o := (i*c + ch) * hw
				ys := y[o : o+hw]
				for j, g := range gy[o : o+hw] {
					sg += float64(g)
					sgy += float64(g) * float64(ys[j])
				}
			}
			mg, mgy, iv := T(sg/n), T(sgy/n), T(inv[ch])
			for i := 0; i < b; i++ {
				o := (i*c + ch) * hw
				bnGradInto(gy[o:o+hw], y[o:o+hw], gx[o:o+hw], mg, mgy, iv)
			}
		}
	})
	return out
}

// ---- per-channel affine transform ----

// ScaleShift applies the per-channel affine map y[b,c,…] = γ[c]·x[b,c,…] + β[c] to the NCHW node x:
// the affine part of a batch-normalisation layer with affine=True.
func ScaleShift(x, gamma, beta *gorgonia.Node) (*gorgonia.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || gamma.Shape().TotalSize() != s[1] || beta.Shape().TotalSize() != s[1] {
		return nil, fmt.Errorf("scale shift: shapes %v, %v, %v, want NCHW, [C], [C]", s, gamma.Shape(), beta.Shape())
	}
	op := &kernelOp{
		name: "ScaleShift", in: []int{4, 1, 1}, out: 4, wrt: []bool{true, true, true},
		shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		return apply(in[0], func() (gorgonia.Value, error) {
			return scaleShiftFwd(slice[float32](in[0]), slice[float32](in[1]), slice[float32](in[2]), in[0].Shape()), nil
		}, func() (gorgonia.Value, error) {
			return scaleShiftFwd(slice[float64](in[0]), slice[float64](in[1]), slice[float64](in[2]), in[0].Shape()), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		// ∂L/∂x = g·γ[c] (ScaleShift with β = 0), ∂L/∂γ[c] = Σ g·x, ∂L/∂β[c] = Σ g.
		gxOp := &kernelOp{name: "ScaleShiftGradX", in: []int{4, 1}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }}
		gxOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return scaleShiftFwd(slice[float32](in[0]), slice[float32](in[1]), nil, in[0].Shape()), nil
			}, func() (gorgonia.Value, error) {
				return scaleShiftFwd(slice[float64](in[0]), slice[float64](in[1]), nil, in[0].Shape()), nil
			})
		}
		sumOp := &kernelOp{name: "ChannelDot", in: []int{4, 4}, out: 1,
			shape: func(in []tensor.Shape) tensor.Shape { return tensor.Shape{in[0][1]} }}
		sumOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return channelDot(slice[float32](in[0]), slice[float32](in[1]), in[0].Shape()), nil
			}, func() (gorgonia.Value, error) {
				return channelDot(slice[float64](in[0]), slice[float64](in[1]), in[0].Shape()), nil
			})
		}
		sum := &kernelOp{name: "ChannelSum", in: []int{4}, out: 1,
			shape: func(in []tensor.Shape) tensor.Shape { return tensor.Shape{in[0][1]} }}
		sum.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return channelDot(slice[float32](in[0]), nil, in[0].Shape()), nil
			}, func() (gorgonia.Value, error) {
				return channelDot(slice[float64](in[0]), nil, in[0].Shape()), nil
			})
		}
		gx, err := gorgonia.ApplyOp(gxOp, g, in[1])
		if err != nil {
			return nil, err
		}
		gg, err := gorgonia.ApplyOp(sumOp, g, in[0])
		if err != nil {
			return nil, err
		}
		gb, err := gorgonia.ApplyOp(sum, g)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gg, gb}, nil
	}
	return gorgonia.ApplyOp(op, x, gamma, beta)
}

func scaleShiftFwd[T float](x, gamma, beta []T, shape tensor.Shape) *tensor.Dense {
	b, c, h, w := dims4(shape)
	hw := h * w
	out, y := newDenseFull[T](b, c, h, w)
	for i := 0; i < b; i++ {
		for ch := 0; ch < c; ch++ {
			gm := gamma[ch]
			var bt T
			if beta != nil {
				bt = beta[ch]
			}
			o := (i*c + ch) * hw
			for j := o; j < o+hw; j++ {
				y[j] = gm*x[j] + bt
			}
		}
	}
	return out
}

// channelDot returns the per-channel sums Σ_{n,h,w} a·b, or Σ a when b is nil.
func channelDot[T float](a, b []T, shape tensor.Shape) *tensor.Dense {
	n, c, h, w := dims4(shape)
	hw := h * w
	out, s := newDense[T](c)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			o := (i*c + ch) * hw
			var acc T
			if b == nil {
				for _, v := range a[o : o+hw] {
					acc += v
				}
			} else {
				bs := b[o : o+hw]
				for j, v := range a[o : o+hw] {
					acc += v * bs[j]
				}
			}
			s[ch] += acc
		}
	}
	return out
}

// ---- softmax cross-entropy ----

// CrossEntropy returns the mean over the batch of the softmax cross-entropy between the N×K logits
// z and the labels, L = (1/N) Σ_b (log Σ_k e^{z_bk} − z_{b,y_b}), with gradient
// ∂L/∂z_bk = (softmax(z_b)_k − [k = y_b])/N. Labels must lie in [0, K).
func CrossEntropy(z *gorgonia.Node, labels []int) (*gorgonia.Node, error) {
	s := z.Shape()
	if s.Dims() != 2 || s[0] != len(labels) {
		return nil, fmt.Errorf("cross entropy: logits shape %v for %d labels", s, len(labels))
	}
	for i, y := range labels {
		if y < 0 || y >= s[1] {
			return nil, fmt.Errorf("cross entropy: label %d of example %d outside [0, %d)", y, i, s[1])
		}
	}
	op := &kernelOp{
		name: fmt.Sprintf("CrossEntropy(%p)", &labels[0]), in: []int{2}, out: 0, wrt: []bool{true},
		shape: func([]tensor.Shape) tensor.Shape { return tensor.ScalarShape() },
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		return apply(in[0], func() (gorgonia.Value, error) {
			l, _ := xent(slice[float32](in[0]), labels, s[1], false)
			return scalarValue(float32(l)), nil
		}, func() (gorgonia.Value, error) {
			l, _ := xent(slice[float64](in[0]), labels, s[1], false)
			return scalarValue(l), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		back := &kernelOp{name: "CrossEntropyGrad" + op.name[len("CrossEntropy"):], in: []int{2, 0}, out: 2,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }}
		back.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				_, gz := xent(slice[float32](in[0]), labels, s[1], true)
				gs := slice[float32](in[1])[0]
				for i := range gz {
					gz[i] *= gs
				}
				return tensor.New(tensor.WithShape(s...), tensor.WithBacking(gz)), nil
			}, func() (gorgonia.Value, error) {
				_, gz := xent(slice[float64](in[0]), labels, s[1], true)
				gs := slice[float64](in[1])[0]
				for i := range gz {
					gz[i] *= gs
				}
				return tensor.New(tensor.WithShape(s...), tensor.WithBacking(gz)), nil
			})
		}
		gz, err := gorgonia.ApplyOp(back, in[0], g)
		return gorgonia.Nodes{gz}, err
	}
	return gorgonia.ApplyOp(op, z)
}

// xent returns the mean cross-entropy and, if grad, its gradient with respect to the logits.
func xent[T float](z []T, labels []int, k int, grad bool) (float64, []T) {
	n := len(labels)
	var loss float64
	var gz []T
	if grad {
		gz = make([]T, len(z))
	}
	for b, y := range labels {
		row := z[b*k : (b+1)*k]
		m := float64(row[0])
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		loss += lse - float64(row[y])
		if grad {
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if j == y {
					p--
				}
				gz[b*k+j] = T(p / float64(n))
			}
		}
	}
	return loss / float64(n), gz
}
