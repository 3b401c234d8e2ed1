package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runOp evaluates f on the given inputs (float64) and returns its value.
func runOp(t *testing.T, f func(in []*gorgonia.Node) (*gorgonia.Node, error), vals ...*tensor.Dense) *tensor.Dense {
	t.Helper()
	g := gorgonia.NewGraph()
	in := make([]*gorgonia.Node, len(vals))
	for i, v := range vals {
		in[i] = gorgonia.NewTensor(g, v.Dtype(), v.Dims(), gorgonia.WithShape(v.Shape()...), gorgonia.WithValue(v), gorgonia.WithName(string(rune('a'+i))))
	}
	out, err := f(in)
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	d, err := dense(out.Value())
	if err != nil {
		t.Fatal(err)
	}
	return d.Clone().(*tensor.Dense)
}

// TestDepthwiseMatchesDenseConv checks DepthwiseConv against gorgonia's dense Conv2d with the
// equivalent full kernel: block-diagonal over channels (zero between different channels) and
// dilated by inserting d−1 zeros between taps, of side d·(k−1)+1.
func TestDepthwiseMatchesDenseConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	for _, c := range []struct{ k, s, p, d int }{{3, 1, 1, 1}, {3, 2, 1, 1}, {5, 1, 2, 1}, {3, 1, 2, 2}, {5, 2, 4, 2}, {7, 2, 3, 1}} {
		const C = 3
		x := randDense(rng, 2, C, 7, 6)
		w := randDense(rng, C, 1, c.k, c.k)
		K := c.d*(c.k-1) + 1
		full, fv := newDense[float64](C, C, K, K)
		wv := w.Data().([]float64)
		for ch := 0; ch < C; ch++ {
			for u := 0; u < c.k; u++ {
				for v := 0; v < c.k; v++ {
					fv[((ch*C+ch)*K+u*c.d)*K+v*c.d] = wv[(ch*c.k+u)*c.k+v]
				}
			}
		}
		got := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
			return DepthwiseConv(in[0], in[1], c.s, c.p, c.d)
		}, x, w)
		want := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
			return gorgonia.Conv2d(in[0], in[1], tensor.Shape{K, K}, []int{c.p, c.p}, []int{c.s, c.s}, nil)
		}, x, full)
		if !got.Shape().Eq(want.Shape()) {
			t.Fatalf("%+v: shape %v, want %v", c, got.Shape(), want.Shape())
		}
		gv, wantv := got.Data().([]float64), want.Data().([]float64)
		for i := range gv {
			if math.Abs(gv[i]-wantv[i]) > 1e-12 {
				t.Fatalf("%+v: element %d = %g, want %g", c, i, gv[i], wantv[i])
			}
		}
	}
}

func TestGradDepthwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 2))
	for _, c := range []struct{ k, s, p, d int }{{3, 1, 1, 1}, {3, 2, 1, 1}, {3, 1, 2, 2}, {5, 2, 4, 2}} {
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return DepthwiseConv(in[0], in[1], c.s, c.p, c.d)
		}, randDense(rng, 2, 2, 5, 4), randDense(rng, 2, 1, c.k, c.k))
	}
}

// TestMaxPoolValues checks 3×3 max pooling with padding 1 against hand-computed windows of
// a 4×4 image holding 0..15 in row-major order, negated so that padding (if it counted as 0)
// would win.
func TestMaxPoolValues(t *testing.T) {
	x, v := newDense[float64](1, 1, 4, 4)
	for i := range v {
		v[i] = -float64(i)
	}
	// Stride 1: the maximum of each clipped window is its top-left pixel, −(4·max(i−1,0)+max(j−1,0)).
	want1 := []float64{0, 0, -1, -2, 0, 0, -1, -2, -4, -4, -5, -6, -8, -8, -9, -10}
	// Stride 2: windows at (−1,−1), (−1,1), (1,−1), (1,1).
	want2 := []float64{0, -1, -4, -5}
	for _, c := range []struct {
		s    int
		want []float64
	}{{1, want1}, {2, want2}} {
		got := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return MaxPool(in[0], 3, c.s, 1) }, x)
		for i, g := range got.Data().([]float64) {
			if g != c.want[i] {
				t.Errorf("stride %d: out[%d] = %g, want %g", c.s, i, g, c.want[i])
			}
		}
	}
}

func TestGradMaxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range []struct{ k, s, p int }{{3, 1, 1}, {3, 2, 1}, {2, 2, 0}} {
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return MaxPool(in[0], c.k, c.s, c.p)
		}, randDense(rng, 2, 2, 5, 4))
	}
}

func TestReLU6Values(t *testing.T) {
	x := tensor.New(tensor.WithShape(1, 1, 1, 5), tensor.WithBacking([]float64{-1, 0.5, 3, 6.5, 7}))
	got := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return ReLU6(in[0]) }, x)
	want := []float64{0, 0.5, 3, 6, 6}
	for i, g := range got.Data().([]float64) {
		if g != want[i] {
			t.Errorf("relu6(%g) = %g, want %g", x.Data().([]float64)[i], g, want[i])
		}
	}
}

func TestGradReLU6(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randDense(rng, 2, 2, 3, 3)
	v := x.Data().([]float64)
	for i := range v {
		v[i] *= 5 // spread values over both kinks (0 and 6); N(0,25) rarely lands within 1e-6 of one
	}
	checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) { return ReLU6(in[0]) }, x)
}

func TestSubsample2(t *testing.T) {
	x, v := newDense[float64](1, 1, 4, 4)
	for i := range v {
		v[i] = float64(i)
	}
	for off, want := range [][]float64{{0, 2, 8, 10}, {5, 7, 13, 15}} {
		got := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return Subsample2(in[0], off) }, x)
		for i, g := range got.Data().([]float64) {
			if g != want[i] {
				t.Errorf("offset %d: out[%d] = %g, want %g", off, i, g, want[i])
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for off := range 2 {
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return Subsample2(in[0], off)
		}, randDense(rng, 2, 2, 4, 6))
	}
}

// TestPointwiseMatchesConv checks Pointwise against gorgonia's Conv2d with the same 1×1 kernel.
func TestPointwiseMatchesConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 6))
	x, w := randDense(rng, 2, 3, 4, 5), randDense(rng, 4, 3, 1, 1)
	got := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return Pointwise(in[0], in[1]) }, x, w)
	want := runOp(t, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Conv2d(in[0], in[1], tensor.Shape{1, 1}, []int{0, 0}, []int{1, 1}, nil)
	}, x, w)
	if !got.Shape().Eq(want.Shape()) {
		t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
	}
	gv, wv := got.Data().([]float64), want.Data().([]float64)
	for i := range gv {
		if math.Abs(gv[i]-wv[i]) > 1e-12 {
			t.Fatalf("element %d = %g, want %g", i, gv[i], wv[i])
		}
	}
}

func TestGradPointwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 7))
	checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return Pointwise(in[0], in[1])
	}, randDense(rng, 3, 2, 3, 2), randDense(rng, 4, 2, 1, 1))
}

// TestDwBwdW8SameBits checks that the float32 kernel gradient taken 8 images at a time
// (dwBwdW8Range) has the bits of the scalar loop over the images one by one (dwBwdWRange), on
// batches that are and are not multiples of 8, strides 1 and 2, dilations 1 and 2, kernels 3 and 5
// and paddings that leave whole taps outside small images; and that its numbers are right, against
// a float64 sum.
func TestDwBwdW8SameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 15))
	for _, c := range []struct{ b, c, h, w, k, s, p, d int }{
		{8, 3, 6, 7, 3, 1, 1, 1}, {9, 2, 5, 5, 3, 2, 1, 1}, {16, 2, 8, 6, 5, 1, 4, 2},
		{21, 3, 7, 9, 5, 2, 2, 1}, {8, 1, 2, 3, 5, 1, 4, 2}, {17, 4, 4, 4, 3, 1, 0, 1},
	} {
		g := dwGeom{c.b, c.c, c.h, c.w, c.k, c.s, c.p, c.d, convOut(c.h, c.k, c.s, c.p, c.d), convOut(c.w, c.k, c.s, c.p, c.d)}
		x := make([]float32, g.b*g.c*g.h*g.w)
		gy := make([]float32, g.b*g.c*g.oh*g.ow)
		for i := range x {
			x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3)))
		}
		for i := range gy {
			gy[i] = float32(r.NormFloat64())
		}
		want := make([]float32, g.c*g.k*g.k)
		dwBwdWRange(x, gy, want, g, 0, g.c)
		got := dwBwdW(x, gy, g)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: gw[%d] = %v, scalar loop %v", c, i, got[i], want[i])
			}
		}
		for ch := 0; ch < g.c; ch++ {
			for u := 0; u < g.k; u++ {
				for v := 0; v < g.k; v++ {
					var sum, mag float64
					for b := 0; b < g.b; b++ {
						for i := 0; i < g.oh; i++ {
							for j := 0; j < g.ow; j++ {
								y, xx := i*g.s-g.p+u*g.d, j*g.s-g.p+v*g.d
								if y >= 0 && y < g.h && xx >= 0 && xx < g.w {
									p := float64(x[((b*g.c+ch)*g.h+y)*g.w+xx]) * float64(gy[((b*g.c+ch)*g.oh+i)*g.ow+j])
									sum, mag = sum+p, mag+math.Abs(p)
								}
							}
						}
					}
					if d := math.Abs(float64(got[(ch*g.k+u)*g.k+v]) - sum); d > 1e-5*mag+1e-30 {
						t.Fatalf("%+v: gw[%d,%d,%d] = %v, float64 sum %v", c, ch, u, v, got[(ch*g.k+u)*g.k+v], sum)
					}
				}
			}
		}
	}
}

// TestMaxPoolArg32 checks maxPoolArg in float32 (the 3×3 stride-1 inner rows through
// sgemm.ArgMax3) against the window loop written out here, on planes of few distinct values (many
// ties: the first maximum in row-major order must win), with sizes that give the vector path every
// tail and none at all.
func TestMaxPoolArg32(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	for _, sz := range [][2]int{{1, 1}, {3, 3}, {2, 12}, {5, 7}, {9, 12}, {14, 14}, {28, 28}, {4, 30}} {
		h, w := sz[0], sz[1]
		const b, c = 2, 3
		x := make([]float32, b*c*h*w)
		for i := range x {
			x[i] = float32(rng.IntN(4))
		}
		for _, s := range []int{1, 2} {
			oh, ow := poolOut(h, 3, s, 1), poolOut(w, 3, s, 1)
			got := maxPoolArg(x, b, c, h, w, 3, s, 1)
			for pl := 0; pl < b*c; pl++ {
				img := x[pl*h*w:][:h*w]
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						best := -1
						for y := i*s - 1; y <= i*s+1; y++ {
							for xx := j*s - 1; xx <= j*s+1; xx++ {
								if y >= 0 && y < h && xx >= 0 && xx < w && (best < 0 || img[y*w+xx] > img[best]) {
									best = y*w + xx
								}
							}
						}
						if g := got[pl*oh*ow+i*ow+j]; int(g) != best {
							t.Fatalf("%d×%d stride %d: plane %d output (%d,%d) = %d; want %d", h, w, s, pl, i, j, g, best)
						}
					}
				}
			}
		}
	}
}

// TestTapSpan checks tapSpan against its definition, the outputs o < on whose input o·s + off lies
// in [0, n), counted one by one, at strides 1 to 3 (its two shortcuts and the division).
func TestTapSpan(t *testing.T) {
	for n := 1; n < 12; n++ {
		for s := 1; s <= 3; s++ {
			for off := -6; off < 14; off++ {
				for on := 0; on < 14; on++ {
					o0, o1 := tapSpan(n, on, s, off)
					for o := 0; o < on; o++ {
						in := o*s+off >= 0 && o*s+off < n
						if in != (o >= o0 && o < o1) {
							t.Fatalf("tapSpan(%d, %d, %d, %d) = [%d, %d): output %d wrongly placed", n, on, s, off, o0, o1, o)
						}
					}
					if o0 < 0 || o1 < o0 || o1 > on {
						t.Fatalf("tapSpan(%d, %d, %d, %d) = [%d, %d)", n, on, s, off, o0, o1)
					}
				}
			}
		}
	}
}
