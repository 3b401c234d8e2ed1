package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGeoms are the convolutions of NB201 (1×1, 3×3, 3×3 at stride 2) and some that exercise the
// border handling: no padding, an even image at stride 2 and padding 2.
var convGeoms = []struct{ k, s, p int }{{1, 1, 0}, {3, 1, 1}, {3, 2, 1}, {3, 1, 0}, {3, 2, 2}, {1, 2, 0}}

// naiveConv is the definition of Conv2d written as nested loops over the output.
func naiveConv(x, w []float64, b, c, h, wd, o, k, s, p int, relu bool) []float64 {
	oh, ow := poolOut(h, k, s, p), poolOut(wd, k, s, p)
	y := make([]float64, b*o*oh*ow)
	for n := 0; n < b; n++ {
		for oc := 0; oc < o; oc++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var sum float64
					for ch := 0; ch < c; ch++ {
						for u := 0; u < k; u++ {
							for v := 0; v < k; v++ {
								yy, xx := i*s-p+u, j*s-p+v
								if yy < 0 || yy >= h || xx < 0 || xx >= wd {
									continue
								}
								t := x[((n*c+ch)*h+yy)*wd+xx]
								if relu {
									t = math.Max(t, 0)
								}
								sum += w[((oc*c+ch)*k+u)*k+v] * t
							}
						}
					}
					y[((n*o+oc)*oh+i)*ow+j] = sum
				}
			}
		}
	}
	return y
}

func TestConvValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	for _, c := range convGeoms {
		for _, relu := range []bool{false, true} {
			x, w := randDense(rng, 2, 3, 5, 6), randDense(rng, 4, 3, c.k, c.k)
			got := convFwd[float64](convGeom{k: c.k, s: c.s, p: c.p, relu: relu}, nil, x, w)
			want := naiveConv(x.Data().([]float64), w.Data().([]float64), 2, 3, 5, 6, 4, c.k, c.s, c.p, relu)
			if s := got.Shape(); s[0] != 2 || s[1] != 4 || s[2] != poolOut(5, c.k, c.s, c.p) || s[3] != poolOut(6, c.k, c.s, c.p) {
				t.Fatalf("k=%d s=%d p=%d: shape %v", c.k, c.s, c.p, s)
			}
			for i, v := range got.Data().([]float64) {
				if math.Abs(v-want[i]) > 1e-12 {
					t.Fatalf("k=%d s=%d p=%d relu=%t: y[%d] = %g, want %g", c.k, c.s, c.p, relu, i, v, want[i])
				}
			}
		}
	}
}

func TestConvValuesFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 2))
	x, w := randDense(rng, 2, 3, 5, 6), randDense(rng, 4, 3, 3, 3)
	want := naiveConv(x.Data().([]float64), w.Data().([]float64), 2, 3, 5, 6, 4, 3, 1, 1, true)
	got := convFwd[float32](convGeom{k: 3, s: 1, p: 1, relu: true}, nil, toF32(x), toF32(w))
	for i, v := range got.Data().([]float32) {
		// float32 sums of 27 products of unit normals: error well under 1e-5.
		if math.Abs(float64(v)-want[i]) > 1e-5 {
			t.Fatalf("y[%d] = %g, want %g", i, v, want[i])
		}
	}
}

func TestGradConv2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 7))
	for _, c := range convGeoms {
		for _, relu := range []bool{false, true} {
			checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
				return Conv2d(in[0], in[1], c.s, c.p, relu)
			}, randDense(rng, 2, 2, 5, 4), randDense(rng, 3, 2, c.k, c.k))
		}
	}
}

func toF32(d *tensor.Dense) *tensor.Dense {
	v := d.Data().([]float64)
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(d.Shape()...), tensor.WithBacking(f))
}

// TestBoxPool checks the separable stride-1 average pooling, the disjoint 2×2 pooling and their
// gradients against the definition written as loops over each clipped window, on random
// non-square planes.
func TestBoxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const b, c, h, w = 2, 3, 5, 7
	for _, p := range []int{1, 2} {
		testPool(t, b, c, h, w, 2*p+1, 1, p, rng)
	}
	// The disjoint 2×2 windows of the reduction block's shortcut.
	testPool(t, 2, 3, 4, 6, 2, 2, 0, rng)
}

// TestBoxPoolExact32 checks boxPool in float32 bit for bit against its separable definition
// written as plain loops (each window's row sum left to right, then the rows' sums top to bottom,
// then the division; for the gradient the division first), on plane sizes that give the vector
// paths every tail and the edge cases (one row, one column, two of each).
func TestBoxPoolExact32(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, sz := range [][2]int{{1, 1}, {1, 5}, {5, 1}, {2, 2}, {3, 3}, {5, 7}, {7, 7}, {14, 14}, {28, 28}, {9, 30}} {
		h, w := sz[0], sz[1]
		for _, p := range []int{1, 2} {
			for _, adjoint := range []bool{false, true} {
				const planes = 3
				src := make([]float32, planes*h*w)
				for i := range src {
					src[i] = float32(rng.NormFloat64())
				}
				want := make([]float32, len(src))
				for pl := 0; pl < planes; pl++ {
					in := src[pl*h*w:][:h*w]
					inv := func(y, x int) float32 {
						return 1 / float32((min(y+p, h-1)-max(y-p, 0)+1)*(min(x+p, w-1)-max(x-p, 0)+1))
					}
					if adjoint {
						in = make([]float32, h*w)
						for i := range in {
							in[i] = src[pl*h*w+i] * inv(i/w, i%w)
						}
					}
					rows := make([]float32, h*w)
					for y := 0; y < h; y++ {
						for x := 0; x < w; x++ {
							for j := max(x-p, 0); j <= min(x+p, w-1); j++ {
								rows[y*w+x] += in[y*w+j]
							}
						}
					}
					for y := 0; y < h; y++ {
						for x := 0; x < w; x++ {
							var v float32
							for i := max(y-p, 0); i <= min(y+p, h-1); i++ {
								v += rows[i*w+x]
							}
							if !adjoint {
								v *= inv(y, x)
							}
							want[pl*h*w+y*w+x] = v
						}
					}
				}
				got := make([]float32, len(src))
				boxPool(src, got, planes, h, w, p, adjoint)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%d×%d p=%d adjoint=%v: [%d] = %v; want %v", h, w, p, adjoint, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func testPool(t *testing.T, b, c, h, w, k, s, p int, rng *rand.Rand) {
	t.Helper()
	{
		x := randDense(rng, b, c, h, w).Data().([]float64)
		gy := randDense(rng, b, c, h, w).Data().([]float64)
		oh, ow := poolOut(h, k, s, p), poolOut(w, k, s, p)
		gy = gy[:b*c*oh*ow]
		want, wantG := make([]float64, b*c*oh*ow), make([]float64, len(x))
		for pl := 0; pl < b*c; pl++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					y0, y1, x0, x1 := max(i*s-p, 0), min(i*s-p+k-1, h-1), max(j*s-p, 0), min(j*s-p+k-1, w-1)
					n := float64((y1 - y0 + 1) * (x1 - x0 + 1))
					for yy := y0; yy <= y1; yy++ {
						for xx := x0; xx <= x1; xx++ {
							want[pl*oh*ow+i*ow+j] += x[pl*h*w+yy*w+xx] / n
							wantG[pl*h*w+yy*w+xx] += gy[pl*oh*ow+i*ow+j] / n
						}
					}
				}
			}
		}
		got, _, _ := avgPoolFwd(x, b, c, h, w, k, s, p)
		gotG := avgPoolBwd(gy, b, c, h, w, k, s, p)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("k=%d s=%d p=%d element %d: pool %g, want %g", k, s, p, i, got[i], want[i])
			}
		}
		for i := range wantG {
			if math.Abs(gotG[i]-wantG[i]) > 1e-12 {
				t.Fatalf("k=%d s=%d p=%d element %d: gradient %g, want %g", k, s, p, i, gotG[i], wantG[i])
			}
		}
	}
}

// TestConvRerun runs one graph with gradients twice, with a different input the second time, and
// checks both runs against the op's functions without the buffers passed between forward and
// gradient ops: nothing of the first run leaks into the second.
func TestConvRerun(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range convGeoms {
		g := gorgonia.NewGraph()
		xv, wv := randDense(rng, 2, 2, 5, 4), randDense(rng, 3, 2, c.k, c.k)
		x := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(xv.Shape()...), gorgonia.WithValue(xv), gorgonia.WithName("x"))
		w := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(wv.Shape()...), gorgonia.WithValue(wv), gorgonia.WithName("w"))
		y, err := Conv2d(x, w, c.s, c.p, true)
		if err != nil {
			t.Fatal(err)
		}
		r := randDense(rng, y.Shape()...)
		rn := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(r.Shape()...), gorgonia.WithValue(r), gorgonia.WithName("r"))
		loss := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(y, rn))))
		grads, err := gorgonia.Grad(loss, x, w)
		if err != nil {
			t.Fatal(err)
		}
		m := gorgonia.NewTapeMachine(g)
		geom := convGeom{k: c.k, s: c.s, p: c.p, relu: true}
		for run := 0; run < 2; run++ {
			if run == 1 {
				xv = randDense(rng, 2, 2, 5, 4)
				if err := gorgonia.Let(x, xv); err != nil {
					t.Fatal(err)
				}
				m.Reset()
			}
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				name      string
				got, want *tensor.Dense
			}{
				{"y", y.Value().(*tensor.Dense), convFwd[float64](geom, nil, xv, wv)},
				{"dx", grads[0].Value().(*tensor.Dense), convGradX[float64](geom, nil, xv, wv, r)},
				{"dw", grads[1].Value().(*tensor.Dense), convGradW[float64](geom, nil, xv, wv, r)},
			}
			for _, ch := range checks {
				for i, v := range ch.got.Data().([]float64) {
					if want := ch.want.Data().([]float64)[i]; math.Abs(v-want) > 1e-12 {
						t.Fatalf("k=%d s=%d p=%d run %d: %s[%d] = %g, want %g", c.k, c.s, c.p, run, ch.name, i, v, want)
					}
				}
			}
		}
		m.Close()
	}
}

// TestReluMask checks the branch-free float32 mask on the values where it could go wrong: ±0,
// tiny and huge magnitudes, infinities.
func TestReluMask(t *testing.T) {
	x := []float32{1, -1, 0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 3e38, -3e38, float32(math.Inf(1)), float32(math.Inf(-1))}
	g := []float32{2, 2, 2, 2, 2, 2, 2, 2, 2, 2}
	want := []float32{2, 0, 0, 0, 2, 0, 2, 0, 2, 0}
	reluMask(g, x)
	for i := range g {
		if g[i] != want[i] {
			t.Errorf("x = %g: gradient %g, want %g", x[i], g[i], want[i])
		}
	}
}

func TestGradBatchNormAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 8))
	for _, mode := range []BNMode{BNTrain, BNEval, BNRecompute} {
		st := NewStats(3)
		st.Mean = []float64{0.1, -0.2, 0.3}
		st.Var = []float64{0.5, 1.5, 2}
		checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return BatchNormAffine(in[0], in[1], in[2], st.Clone(), mode, "bn")
		}, randDense(rng, 2, 3, 2, 3), randDense(rng, 3), randDense(rng, 3))
	}
}

// TestBatchNormAffineValues checks the fused op against BatchNorm followed by ScaleShift: the same
// outputs and the same running statistics.
func TestBatchNormAffineValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	x, gm, bt := randDense(rng, 4, 3, 3, 2), randDense(rng, 3), randDense(rng, 3)
	for _, mode := range []BNMode{BNTrain, BNEval, BNRecompute} {
		st1, st2 := NewStats(3), NewStats(3)
		fused, _ := projLoss(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return BatchNormAffine(in[0], in[1], in[2], st1, mode, "bn")
		}, []*tensor.Dense{x, gm, bt}, false)
		plain, _ := projLoss(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			y, err := BatchNorm(in[0], st2, mode, "bn")
			if err != nil {
				return nil, err
			}
			return ScaleShift(y, in[1], in[2])
		}, []*tensor.Dense{x, gm, bt}, false)
		if math.Abs(fused-plain) > 1e-12 {
			t.Errorf("mode %d: fused Σ y·R = %.15g, unfused %.15g", mode, fused, plain)
		}
		for c := range st1.Mean {
			if math.Abs(st1.Mean[c]-st2.Mean[c]) > 1e-15 || math.Abs(st1.Var[c]-st2.Var[c]) > 1e-15 || st1.Batches != st2.Batches {
				t.Errorf("mode %d channel %d: running stats %v %v, want %v %v", mode, c, st1.Mean[c], st1.Var[c], st2.Mean[c], st2.Var[c])
			}
		}
	}
}

func TestGradConvBN(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 10))
	for _, p := range []int{0, 1} {
		for _, mode := range []BNMode{BNTrain, BNEval, BNRecompute} {
			st := NewStats(3)
			st.Mean = []float64{0.1, -0.2, 0.3}
			st.Var = []float64{0.5, 1.5, 2}
			checkGrad(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
				return ConvBN(in[0], in[1], p, true, st.Clone(), mode, "cbn")
			}, randDense(rng, 2, 2, 4, 3), randDense(rng, 3, 2, 2*p+1, 2*p+1))
		}
	}
}

// TestConvBNValues checks the fused op against Conv2d followed by BatchNorm: the same outputs,
// gradients and running statistics, bit for bit.
func TestConvBNValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 11))
	x, w := randDense(rng, 3, 2, 5, 4), randDense(rng, 3, 2, 3, 3)
	for _, mode := range []BNMode{BNTrain, BNEval, BNRecompute} {
		st1, st2 := NewStats(3), NewStats(3)
		l1, g1 := projLoss(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return ConvBN(in[0], in[1], 1, true, st1, mode, "cbn")
		}, []*tensor.Dense{x, w}, true)
		l2, g2 := projLoss(t, func(_ *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			y, err := Conv2d(in[0], in[1], 1, 1, true)
			if err != nil {
				return nil, err
			}
			return BatchNorm(y, st2, mode, "cbn")
		}, []*tensor.Dense{x, w}, true)
		if l1 != l2 {
			t.Errorf("mode %d: fused Σ z·R = %.17g, unfused %.17g", mode, l1, l2)
		}
		for k := range g1 {
			for i, v := range g1[k].Data().([]float64) {
				if want := g2[k].Data().([]float64)[i]; v != want {
					t.Fatalf("mode %d: gradient %d[%d] = %.17g, unfused %.17g", mode, k, i, v, want)
				}
			}
		}
		for c := range st1.Mean {
			if st1.Mean[c] != st2.Mean[c] || st1.Var[c] != st2.Var[c] || st1.Batches != st2.Batches {
				t.Errorf("mode %d channel %d: running stats %v %v, unfused %v %v", mode, c, st1.Mean[c], st1.Var[c], st2.Mean[c], st2.Var[c])
			}
		}
	}
}

// TestPhasesExact checks the stride-2 im2col and col2im through phases' layout against the
// row-by-row loops (im2colRange, col2imRange) bit for bit, in float32 and float64, on odd and
// even image sizes and several kernels and paddings.
func TestPhasesExact(t *testing.T) {
	testPhasesExact[float32](t)
	testPhasesExact[float64](t)
}

func testPhasesExact[T float](t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	const b, c = 2, 3
	for _, g := range []convGeom{{k: 3, s: 2, p: 1}, {k: 3, s: 2, p: 0}, {k: 5, s: 2, p: 2}, {k: 2, s: 2, p: 0}, {k: 4, s: 2, p: 1}} {
		for _, sz := range [][2]int{{7, 7}, {8, 6}, {5, 9}, {28, 28}, {3, 4}} {
			h, w := sz[0], sz[1]
			oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
			if oh < 1 || ow < 1 {
				continue
			}
			x := make([]T, b*c*h*w)
			for i := range x {
				x[i] = T(rng.NormFloat64())
			}
			kk := c * g.k * g.k
			want, got := make([]T, kk*b*oh*ow), make([]T, kk*b*oh*ow)
			for i := range got {
				got[i] = 7 // im2colPhases writes every entry
			}
			im2colRange(g, x, b, c, h, w, want, 0, c)
			im2colPhases(g, x, b, c, h, w, got, 0, c)
			if !sameBits(got, want) {
				t.Fatalf("%T im2col k=%d p=%d %d×%d: phases differ", x[0], g.k, g.p, h, w)
			}
			col := make([]T, len(want))
			for i := range col {
				col[i] = T(rng.NormFloat64())
			}
			dw, dg := make([]T, len(x)), make([]T, len(x))
			for i := range dg {
				dg[i] = 7 // col2imPhases writes every pixel
			}
			col2imRange(g, col, b, c, h, w, dw, 0, c)
			col2imPhases(g, col, b, c, h, w, dg, 0, c)
			if !sameBits(dg, dw) {
				t.Fatalf("%T col2im k=%d p=%d %d×%d: phases differ", x[0], g.k, g.p, h, w)
			}
		}
	}
}

func sameBits[T float](a, b []T) bool {
	for i := range a {
		if a[i] != b[i] || math.Signbit(float64(a[i])) != math.Signbit(float64(b[i])) {
			return false
		}
	}
	return len(a) == len(b)
}

// TestChannelSums4 checks the four-channel moments (batchStats through moments4) against the
// one-channel loop written out here, to the bit, for 1 to 9 channels (so whole groups of four and
// every remainder, whose repeated lanes are dropped).
func TestChannelSums4(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	const b, hw = 3, 13
	for c := 1; c <= 9; c++ {
		x := make([]float32, b*c*hw)
		for i := range x {
			x[i] = float32(rng.NormFloat64()*3 + 1)
		}
		mean, vr := batchStats(x, b, c, hw)
		for ch := 0; ch < c; ch++ {
			k := float64(x[ch*hw])
			var s, q float64
			for i := 0; i < b; i++ {
				for _, v := range x[(i*c+ch)*hw:][:hw] {
					d := float64(v) - k
					s += d
					q += d * d
				}
			}
			m := s / float64(b*hw)
			if wm, wv := k+m, max(q/float64(b*hw)-m*m, 0); mean[ch] != wm || vr[ch] != wv {
				t.Fatalf("c=%d: batchStats channel %d = %v, %v; want %v, %v", c, ch, mean[ch], vr[ch], wm, wv)
			}
		}
	}
}
