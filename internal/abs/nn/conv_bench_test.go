package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConv measures one forward and both gradients of the ReLU-convolutions of the benchmark
// network (batch 64, 28×28 at C=8 and its later stages), float32.
func BenchmarkConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct{ c, hw, k, s, p int }{{8, 28, 3, 1, 1}, {8, 28, 1, 1, 0}, {16, 14, 3, 1, 1}, {32, 7, 3, 1, 1}, {8, 28, 3, 2, 1}} {
		o := c.c
		if c.s == 2 {
			o *= 2
		}
		x, w := toF32(randDense(rng, 64, c.c, c.hw, c.hw)), toF32(randDense(rng, o, c.c, c.k, c.k))
		g := convGeom{k: c.k, s: c.s, p: c.p, relu: true}
		gy := toF32(randDense(rng, 64, o, poolOut(c.hw, c.k, c.s, c.p), poolOut(c.hw, c.k, c.s, c.p)))
		b.Run(fmt.Sprintf("C=%d,%dx%d,k=%d,s=%d", c.c, c.hw, c.hw, c.k, c.s), func(b *testing.B) {
			cc := &convCache{keep: true}
			for i := 0; i < b.N; i++ {
				convFwd[float32](g, cc, x, w)
				convGradX[float32](g, cc, x, w, gy)
				convGradW[float32](g, cc, x, w, gy)
			}
		})
	}
}

// BenchmarkGemm32 measures the float32 matrix multiply the build uses (package sgemm's AVX2 kernel
// by default, gonum's Sgemm with -tags purego, OpenBLAS with -tags openblas) on the engine's
// shapes at C=8 and C=16, batch 64 of 28×28 images: a 3×3 convolution's forward (W·cols), input
// gradient (Wᵀ·G) and weight gradient (G·colsᵀ), and C=32's forward at 14×14. Compare the builds
// with -cpu 1 (one thread each) and the scaling with -cpu 1,2.
func BenchmarkGemm32(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, s := range []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"fwd-c8", false, false, 8, 64 * 784, 72},
		{"dx-c8", true, false, 72, 64 * 784, 8},
		{"dw-c8", false, true, 8, 72, 64 * 784},
		{"fwd-c16", false, false, 16, 64 * 784, 144},
		{"dx-c16", true, false, 144, 64 * 784, 16},
		{"dw-c16", false, true, 16, 144, 64 * 784},
		{"fwd-c32-14x14", false, false, 32, 64 * 196, 288},
	} {
		lda, ldb := s.k, s.n
		if s.tA {
			lda = s.m
		}
		if s.tB {
			ldb = s.k
		}
		a := toF32(randDense(rng, s.m*s.k)).Data().([]float32)
		bm := toF32(randDense(rng, s.k*s.n)).Data().([]float32)
		c := make([]float32, s.m*s.n)
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				gemm(s.tA, s.tB, s.m, s.n, s.k, a, lda, bm, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDwBwdW measures the depthwise convolution's kernel gradient, float32, on DARTS-small's
// shapes (batch 64 of 28×28 at width 8·3 = 24 channels, then 14×14 at 48): the scalar loop over
// the images one by one (dwBwdWRange) against 8 images at a time (dwBwdW8Range), on one thread.
func BenchmarkDwBwdW(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, c := range []struct{ c, hw, k, s, p, d int }{{24, 28, 3, 1, 1, 1}, {24, 28, 5, 1, 4, 2}, {48, 14, 5, 1, 2, 1}, {24, 28, 3, 2, 1, 1}} {
		g := dwGeom{64, c.c, c.hw, c.hw, c.k, c.s, c.p, c.d, convOut(c.hw, c.k, c.s, c.p, c.d), convOut(c.hw, c.k, c.s, c.p, c.d)}
		x := toF32(randDense(rng, g.b, g.c, g.h, g.w)).Data().([]float32)
		gy := toF32(randDense(rng, g.b, g.c, g.oh, g.ow)).Data().([]float32)
		gw := make([]float32, g.c*g.k*g.k)
		name := fmt.Sprintf("C=%d,%dx%d,k=%d,s=%d,d=%d", c.c, c.hw, c.hw, c.k, c.s, c.d)
		b.Run(name+"/scalar", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dwBwdWRange(x, gy, gw, g, 0, g.c)
			}
		})
		b.Run(name+"/lanes8", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dwBwdW8Range(x, gy, gw, g, 0, g.c)
			}
		})
	}
}

// BenchmarkShiftGemm measures the three multiplies of a same-size 3×3 convolution on the padded
// grid (batch 64 of 28×28, C channels in and out), float32, in GFLOP/s of the products: the
// forward over the input's shifted rows, the input gradient over the output gradient's, each one
// multiply with K = 9·C read in place, and the weight gradient, the channels-last transpose and
// its k multiplies over rows of it.
func BenchmarkShiftGemm(b *testing.B) {
	for _, c := range []int{8, 16} {
		s := newShiftGrid(64, 28, 28, 1)
		rng := rand.New(rand.NewPCG(7, 7))
		xp := toF32(randDense(rng, c*s.ld)).Data().([]float32)
		gp := toF32(randDense(rng, c*s.ld)).Data().([]float32)
		w := toF32(randDense(rng, c*c*9)).Data().([]float32)
		y, dx, xt := make([]float32, c*s.l), make([]float32, c*s.ld), make([]float32, c*s.ld)
		dwr := make([]float32, 9*c*c)
		flops := 2 * float64(c*c*9) * float64(s.l)
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(fmt.Sprintf("fwd-c%d", c), func(b *testing.B) {
			rows := s.fwdRows(c, 3)
			for i := 0; i < b.N; i++ {
				gemmRows(false, c, s.l, 9*c, w, 9*c, xp, rows, 0, y, s.l)
			}
			report(b)
		})
		b.Run(fmt.Sprintf("dx-c%d", c), func(b *testing.B) {
			rows := s.gradRows(c, 3)
			for i := 0; i < b.N; i++ {
				gemmRows(true, c, s.l, 9*c, w, c, gp, rows, 0, dx[s.m:], s.ld)
			}
			report(b)
		})
		b.Run(fmt.Sprintf("dw-c%d", c), func(b *testing.B) {
			rows := strided(s.l, c)
			for i := 0; i < b.N; i++ {
				transpose(c, s.ld, xp, s.ld, xt, c)
				for u := 0; u < 3; u++ {
					gemmRows(false, c, 3*c, s.l, gp[s.m:], s.ld, xt[u*s.wp*c:], rows, 0, dwr[u*c*3*c:], 3*c)
				}
			}
			report(b)
		})
	}
}
