package nn

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn/sgemm"
)

// Conv2d convolves the NCHW node x with the O×C×k×k weights w (square kernel, no bias) at stride s
// with zero padding p, optionally applying a ReLU to x first:
//
//	y[b,o,i,j] = Σ_{c,u,v} w[o,c,u,v] · r(x[b,c, i·s−p+u, j·s−p+v]),  r(t) = max(t, 0) if relu, else t
//
// with x read as 0 outside the image. It replaces gorgonia's Conv2d (per-image im2col, matrix
// multiply and transposes) by one im2col of the whole batch into a K×(B·OH·OW) matrix, K = C·k·k,
// one matrix multiply Wmat·cols with the weights as they are stored (O×K) and a copy of the O
// result rows into NCHW; no transposes. The gradients are, with G the output gradient in the same
// O×(B·OH·OW) layout,
//
//	∂L/∂W = G·colsᵀ,   ∂L/∂x = r′(x) ⊙ col2im(Wᵀ·G),
//
// where col2im adds each column entry back to the pixel it was read from and r′(x) = [x > 0] when
// relu is set (PyTorch's choice at 0), else 1. Fusing the ReLU saves a pass over x and its
// gradient node: NB201 puts a ReLU before every convolution but the stem's and the shortcut's.
// Convolutions that keep the image size at stride 1 skip the im2col altogether (see shiftconv.go).
// The matrix multiplies go through gemm: float32 to package sgemm (or OpenBLAS with the openblas
// build tag), float64 to the BLAS registered with gonum's blas64.
func Conv2d(x, w *gorgonia.Node, s, p int, relu bool) (*gorgonia.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || ws[1] != xs[1] || ws[2] != ws[3] {
		return nil, fmt.Errorf("conv: input shape %v, weight shape %v, want NCHW and O×C×k×k", xs, ws)
	}
	k := ws[2]
	if s < 1 || p < 0 || poolOut(xs[2], k, s, p) < 1 || poolOut(xs[3], k, s, p) < 1 {
		return nil, fmt.Errorf("conv: kernel %d stride %d pad %d on %d×%d", k, s, p, xs[2], xs[3])
	}
	g := convGeom{k: k, s: s, p: p, relu: relu}
	cache := &convCache{}
	op := &kernelOp{
		name: "Conv2d" + g.String(), in: []int{4, 4}, out: 4, wrt: []bool{true, true},
		shape: func(in []tensor.Shape) tensor.Shape {
			b, _, h, w := dims4(in[0])
			return tensor.Shape{b, in[1][0], poolOut(h, k, s, p), poolOut(w, k, s, p)}
		},
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		return apply(in[0], func() (gorgonia.Value, error) {
			return convFwd[float32](g, cache, in[0], in[1]), nil
		}, func() (gorgonia.Value, error) {
			return convFwd[float64](g, cache, in[0], in[1]), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, gy *gorgonia.Node) (gorgonia.Nodes, error) {
		cache.keep = true
		gxOp := &kernelOp{name: "Conv2dGradX" + g.String(), in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() }}
		gxOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return convGradX[float32](g, cache, in[0], in[1], in[2]), nil
			}, func() (gorgonia.Value, error) {
				return convGradX[float64](g, cache, in[0], in[1], in[2]), nil
			})
		}
		gwOp := &kernelOp{name: "Conv2dGradW" + g.String(), in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[1].Clone() }}
		gwOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			return apply(in[0], func() (gorgonia.Value, error) {
				return convGradW[float32](g, cache, in[0], in[1], in[2]), nil
			}, func() (gorgonia.Value, error) {
				return convGradW[float64](g, cache, in[0], in[1], in[2]), nil
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

// convGeom is the kernel size, stride, padding and input ReLU of a convolution.
type convGeom struct {
	k, s, p int
	relu    bool
}

func (g convGeom) String() string {
	return fmt.Sprintf("(k=%d,s=%d,p=%d,relu=%t)", g.k, g.s, g.p, g.relu)
}

// span returns the output columns [j0, j1) whose input column j·s−p+v lies inside [0, w).
func (g convGeom) span(v, w, ow int) (int, int) {
	j0 := 0
	if g.p > v {
		j0 = min((g.p-v+g.s-1)/g.s, ow)
	}
	j1 := 0
	if t := w - 1 + g.p - v; t >= 0 {
		j1 = min(t/g.s+1, ow)
	}
	return j0, max(j1, j0)
}

// im2col writes the K×(B·OH·OW) matrix of input patches of x (B×C×H×W) to col: row (c·k+u)·k+v,
// column (b·OH+i)·OW+j holds r(x[b,c,i·s−p+u,j·s−p+v]), 0 outside the image.
// With the ReLU and a window of more than one pixel (every input value is read about k²/s² times),
// the input is rectified once first, 8 values at a time (reluInto), and the patches copied as they
// are: the same values.
func im2col[T float](g convGeom, x []T, b, c, h, w int, col []T) {
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	if g.relu && g.k > 1 {
		xr := getScratch[T](len(x))
		defer putScratch(xr)
		parallel(len(x), len(x), func(lo, hi int) { reluInto(x[lo:hi], xr[lo:hi]) })
		x, g.relu = xr, false
	}
	if g.s == 2 && g.k > 1 { // the ReLU is applied by now
		parallel(c, c*g.k*g.k*b*oh*ow, func(c0, c1 int) { im2colPhases(g, x, b, c, h, w, col, c0, c1) })
		return
	}
	parallel(c, c*g.k*g.k*b*oh*ow, func(c0, c1 int) { im2colRange(g, x, b, c, h, w, col, c0, c1) })
}

// phases lays an h×w image out as its even columns then its odd ones, two h×pw planes (pw =
// ⌈w/2⌉): ph[φ·h·pw + y·pw + m] = img[y·w + 2m + φ]. At stride 2 the pixels a tap reads along
// a row are then contiguous: column 2j − p + v is phase φ = (v − p) mod 2, position j + (v − p −
// φ)/2.
func phases[T float](img []T, h, w int, ph []T) {
	pw := (w + 1) / 2
	for y := 0; y < h; y++ {
		r, e, o := img[y*w:][:w], ph[y*pw:][:pw], ph[(h+y)*pw:][:pw]
		for m := 0; m < w/2; m++ {
			e[m], o[m] = r[2*m], r[2*m+1]
		}
		if w%2 == 1 {
			e[pw-1] = r[w-1]
		}
	}
}

// fromPhases undoes phases: img[y·w + 2m + φ] = ph[φ·h·pw + y·pw + m].
func fromPhases[T float](ph []T, h, w int, img []T) {
	pw := (w + 1) / 2
	for y := 0; y < h; y++ {
		r, e, o := img[y*w:][:w], ph[y*pw:][:pw], ph[(h+y)*pw:][:pw]
		for m := 0; m < w/2; m++ {
			r[2*m], r[2*m+1] = e[m], o[m]
		}
		if w%2 == 1 {
			r[w-1] = e[pw-1]
		}
	}
}

// phaseTap returns where tap (u, v) of a stride-2 convolution reads in phases' layout: the offset
// of output (i0, j0)'s pixel, the output rows [i0, i1) and columns [j0, j1) that read inside the
// image; successive output rows are 2·pw values apart.
func (g convGeom) phaseTap(u, v, h, w, oh, ow int) (off, i0, i1, j0, j1 int) {
	pw := (w + 1) / 2
	i0, i1 = g.span(u, h, oh)
	j0, j1 = g.span(v, w, ow)
	phi := ((v-g.p)%2 + 2) % 2
	return phi*h*pw + (2*i0-g.p+u)*pw + j0 + (v-g.p-phi)/2, i0, i1, j0, j1
}

// im2colPhases is im2col at stride 2 without the ReLU for the input channels [c0, c1): each image
// is laid out by phases once, and each tap's rows are copied from it whole (copyRows).
func im2colPhases[T float](g convGeom, x []T, b, c, h, w int, col []T, c0, c1 int) {
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n, pw := oh*ow, (w+1)/2
	ph := getScratch[T](2 * h * pw)
	defer putScratch(ph)
	for ch := c0; ch < c1; ch++ {
		for img := 0; img < b; img++ {
			phases(x[(img*c+ch)*h*w:][:h*w], h, w, ph)
			for u := 0; u < g.k; u++ {
				for v := 0; v < g.k; v++ {
					d := col[((ch*g.k+u)*g.k+v)*b*n+img*n:][:n]
					clear(d)
					if off, i0, i1, j0, j1 := g.phaseTap(u, v, h, w, oh, ow); i1 > i0 && j1 > j0 {
						copyRows(i1-i0, j1-j0, ph[off:], 2*pw, d[i0*ow+j0:], ow)
					}
				}
			}
		}
	}
}

// im2colRange is im2col for the input channels [c0, c1).
func im2colRange[T float](g convGeom, x []T, b, c, h, w int, col []T, c0, c1 int) {
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n := oh * ow
	ld := b * n
	for ch := c0; ch < c1; ch++ {
		for u := 0; u < g.k; u++ {
			for v := 0; v < g.k; v++ {
				row := col[((ch*g.k+u)*g.k+v)*ld:][:ld]
				j0, j1 := g.span(v, w, ow)
				for img := 0; img < b; img++ {
					src := x[(img*c+ch)*h*w:][:h*w]
					dst := row[img*n:][:n]
					for i := 0; i < oh; i++ {
						d := dst[i*ow:][:ow]
						y := i*g.s - g.p + u
						if y < 0 || y >= h {
							clear(d)
							continue
						}
						clear(d[:j0])
						clear(d[j1:])
						sr := src[y*w:][:w]
						x0 := j0*g.s - g.p + v
						switch {
						case g.s == 1 && g.relu:
							for j, t := range sr[x0 : x0+j1-j0] {
								d[j0+j] = max(t, 0)
							}
						case g.s == 1:
							copy(d[j0:j1], sr[x0:])
						case g.relu:
							src := sr[x0:]
							for j := range d[j0:j1] {
								d[j0+j] = max(src[j*g.s], 0)
							}
						default:
							src := sr[x0:]
							for j := range d[j0:j1] {
								d[j0+j] = src[j*g.s]
							}
						}
					}
				}
			}
		}
	}
}

// col2im adds every entry of the K×(B·OH·OW) matrix col to the element of dx (B×C×H×W) that
// im2col read it from; it is the adjoint of im2col without the ReLU. dx must be zero on entry.
func col2im[T float](g convGeom, col []T, b, c, h, w int, dx []T) {
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	if g.s == 2 && g.k > 1 {
		parallel(c, c*g.k*g.k*b*oh*ow, func(c0, c1 int) { col2imPhases(g, col, b, c, h, w, dx, c0, c1) })
		return
	}
	parallel(c, c*g.k*g.k*b*oh*ow, func(c0, c1 int) { col2imRange(g, col, b, c, h, w, dx, c0, c1) })
}

// col2imPhases is col2im at stride 2 for the input channels [c0, c1): each image's sums run in
// phases' layout, where each tap's rows add whole (axpyRows by 1, exact products), and are then
// laid back. Every pixel takes its terms in the same order as col2imRange (taps u, then v), from
// zero, so the bits are the same.
func col2imPhases[T float](g convGeom, col []T, b, c, h, w int, dx []T, c0, c1 int) {
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n, pw := oh*ow, (w+1)/2
	acc := getScratch[T](2 * h * pw)
	defer putScratch(acc)
	for ch := c0; ch < c1; ch++ {
		for img := 0; img < b; img++ {
			clear(acc)
			for u := 0; u < g.k; u++ {
				for v := 0; v < g.k; v++ {
					src := col[((ch*g.k+u)*g.k+v)*b*n+img*n:][:n]
					if off, i0, i1, j0, j1 := g.phaseTap(u, v, h, w, oh, ow); i1 > i0 && j1 > j0 {
						axpyRows(i1-i0, j1-j0, 1, src[i0*ow+j0:], ow, acc[off:], 2*pw)
					}
				}
			}
			fromPhases(acc, h, w, dx[(img*c+ch)*h*w:][:h*w])
		}
	}
}

// col2imRange is col2im for the input channels [c0, c1).
func col2imRange[T float](g convGeom, col []T, b, c, h, w int, dx []T, c0, c1 int) {
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n := oh * ow
	ld := b * n
	for ch := c0; ch < c1; ch++ {
		for u := 0; u < g.k; u++ {
			for v := 0; v < g.k; v++ {
				row := col[((ch*g.k+u)*g.k+v)*ld:][:ld]
				j0, j1 := g.span(v, w, ow)
				for img := 0; img < b; img++ {
					dst := dx[(img*c+ch)*h*w:][:h*w]
					src := row[img*n:][:n]
					for i := 0; i < oh; i++ {
						y := i*g.s - g.p + u
						if y < 0 || y >= h {
							continue
						}
						sr := src[i*ow:][:ow]
						dr := dst[y*w:][:w]
						if g.s == 1 {
							x0 := j0 - g.p + v
							d := dr[x0 : x0+j1-j0]
							for j, t := range sr[j0:j1] {
								d[j] += t
							}
							continue
						}
						dst := dr[j0*g.s-g.p+v:]
						for j, t := range sr[j0:j1] {
							dst[j*g.s] += t
						}
					}
				}
			}
		}
	}
}

// toRows copies the B×O×N tensor y to the O×(B·N) matrix m.
func toRows[T float](y []T, b, o, n int, m []T) {
	for img := 0; img < b; img++ {
		for ch := 0; ch < o; ch++ {
			copy(m[ch*b*n+img*n:][:n], y[(img*o+ch)*n:][:n])
		}
	}
}

// fromRows copies the O×(B·N) matrix m to the B×O×N tensor y.
func fromRows[T float](m []T, b, o, n int, y []T) {
	for img := 0; img < b; img++ {
		for ch := 0; ch < o; ch++ {
			copy(y[(img*o+ch)*n:][:n], m[ch*b*n+img*n:][:n])
		}
	}
}

func convFwd[T float](g convGeom, cc *convCache, xd, wd *tensor.Dense) *tensor.Dense {
	cc.begin()
	if g.same() {
		return shiftFwd[T](g, cc, xd, wd, nil)
	}
	b, c, h, w := dims4(xd.Shape())
	o := wd.Shape()[0]
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n, kk := oh*ow, c*g.k*g.k
	col := getScratch[T](kk * b * n)
	im2col(g, slice[T](xd), b, c, h, w, col)
	ym := getScratch[T](o * b * n)
	gemm(false, false, o, b*n, kk, slice[T](wd), kk, col, b*n, 0, ym, b*n)
	cc.putX(col)
	out, y := newDenseFull[T](b, o, oh, ow)
	fromRows(ym, b, o, n, y)
	putScratch(ym)
	return out
}

func convGradX[T float](g convGeom, cc *convCache, xd, wd, gyd *tensor.Dense) *tensor.Dense {
	if g.same() {
		return shiftGradX[T](g, cc, xd, wd, gyd, nil, nil)
	}
	b, c, h, w := dims4(xd.Shape())
	o := wd.Shape()[0]
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n, kk := oh*ow, c*g.k*g.k
	gm, shared := takeGy[T](cc)
	if !shared {
		gm = getScratch[T](o * b * n)
		toRows(slice[T](gyd), b, o, n, gm)
	}
	dcol := getScratch[T](kk * b * n)
	gemm(true, false, kk, b*n, o, slice[T](wd), kk, gm, b*n, 0, dcol, b*n)
	cc.doneGy(gm, shared)
	out, dx := newDense[T](b, c, h, w)
	col2im(g, dcol, b, c, h, w, dx)
	putScratch(dcol)
	if g.relu {
		reluMask(dx, slice[T](xd))
	}
	return out
}

func convGradW[T float](g convGeom, cc *convCache, xd, wd, gyd *tensor.Dense) *tensor.Dense {
	if g.same() {
		return shiftGradW[T](g, cc, xd, wd, gyd, nil, nil)
	}
	b, c, h, w := dims4(xd.Shape())
	o := wd.Shape()[0]
	oh, ow := poolOut(h, g.k, g.s, g.p), poolOut(w, g.k, g.s, g.p)
	n, kk := oh*ow, c*g.k*g.k
	col := takeX[T](cc)
	if col == nil {
		col = getScratch[T](kk * b * n)
		im2col(g, slice[T](xd), b, c, h, w, col)
	}
	gm, shared := takeGy[T](cc)
	if !shared {
		gm = getScratch[T](o * b * n)
		toRows(slice[T](gyd), b, o, n, gm)
	}
	out, dw := newDenseFull[T](wd.Shape()...)
	gemm(false, true, o, kk, b*n, gm, b*n, col, b*n, 0, dw, kk)
	putScratch(col)
	cc.doneGy(gm, shared)
	return out
}

// convCache passes buffers between the forward and gradient ops of one convolution within one run
// of its graph: the forward op's prepared input (im2col matrix or padded buffer) to the weight
// gradient, and the prepared output gradient from whichever gradient op runs first to the other.
// Each entry records the run it belongs to, so no later run can see it; a nil cache keeps nothing.
type convCache struct {
	// keep is set once gradient ops exist, so the forward op keeps its input.
	keep        bool
	run         int
	x, gy       any // []float32 or []float64
	xRun, gyRun int
}

// begin starts a run (the forward op runs first) and recycles what the last run left.
func (c *convCache) begin() {
	if c == nil {
		return
	}
	c.run++
	for _, v := range []*any{&c.x, &c.gy} {
		switch s := (*v).(type) {
		case []float32:
			putScratch(s)
		case []float64:
			putScratch(s)
		}
		*v = nil
	}
}

// putX keeps the forward op's prepared input for the weight gradient, or recycles it.
func (c *convCache) putX(s any) {
	if c == nil || !c.keep {
		switch v := s.(type) {
		case []float32:
			putScratch(v)
		case []float64:
			putScratch(v)
		}
		return
	}
	c.x, c.xRun = s, c.run
}

// takeX returns the prepared input of this run's forward op, or nil; the caller owns it.
func takeX[T float](c *convCache) []T {
	if c == nil || c.x == nil || c.xRun != c.run {
		return nil
	}
	s, _ := c.x.([]T)
	c.x = nil
	return s
}

// takeGy returns the output gradient prepared by this run's other gradient op, if it ran first.
func takeGy[T float](c *convCache) ([]T, bool) {
	if c == nil || c.gy == nil || c.gyRun != c.run {
		return nil, false
	}
	s, ok := c.gy.([]T)
	c.gy = nil
	return s, ok
}

// doneGy hands the prepared output gradient on to the other gradient op of the run, or, if it came
// from there, recycles it.
func (c *convCache) doneGy(s any, shared bool) {
	if c == nil || shared {
		switch v := s.(type) {
		case []float32:
			putScratch(v)
		case []float64:
			putScratch(v)
		}
		return
	}
	c.gy, c.gyRun = s, c.run
}

// sgemmFunc is the signature of sgemm.Sgemm.
type sgemmFunc = func(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// sgemm32 multiplies float32 matrices: package sgemm (an AVX2+FMA micro-kernel on every core
// GOMAXPROCS allows, or gonum's pure-Go Sgemm on other CPUs), or OpenBLAS with the openblas build
// tag. sgemm32On1 computes the same on the calling goroutine, for kernels that spread independent
// products over the cores themselves; both give the same bits.
var (
	sgemm32    sgemmFunc = sgemm.Sgemm
	sgemm32On1 sgemmFunc = func(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemm.SgemmThreads(1, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
	}
)

// sgemmRows32 multiplies float32 matrices by a B gathered from rows (sgemm.SgemmRows, which
// reports false where it has no micro-kernel); the openblas build sets it to nil.
var sgemmRows32 = sgemm.SgemmRows

// gatherValues bounds the scratch B that gemmRows gathers when it has no kernel for the rows.
const gatherValues = 1 << 21

// gemmRows computes C = op(A)·B + beta·C, op(A) m×k, where row p of B (k×n) is b[rows[p]:][:n]:
// float32 through sgemmRows32 where it has its kernel; otherwise it copies the rows into a
// scratch B, a block of rows at a time, and multiplies each block with gemm onto the blocks
// before it. Both keep each element's sum in increasing p.
func gemmRows[T float](tA bool, m, n, k int, a []T, lda int, b []T, rows []int, beta T, c []T, ldc int) {
	if av, ok := any(a).([]float32); ok && sgemmRows32 != nil &&
		sgemmRows32(tA, m, n, k, av, lda, any(b).([]float32), rows, float32(beta), any(c).([]float32), ldc) {
		return
	}
	if d, ok := stride(rows[:k]); ok && d >= n { // an ordinary matrix: no copy
		gemm(tA, false, m, n, k, a, lda, b[rows[0]:], max(1, d), beta, c, ldc)
		return
	}
	blk := max(1, min(k, gatherValues/max(1, n)))
	buf := getScratch[T](blk * n)
	for p0 := 0; p0 < k || p0 == 0; p0 += blk {
		kb := min(blk, k-p0)
		for p := range kb {
			copy(buf[p*n:(p+1)*n], b[rows[p0+p]:][:n])
		}
		ap := a[p0:]
		if tA {
			ap = a[p0*lda:]
		}
		gemm(tA, false, m, n, kb, ap, lda, buf, max(1, n), beta, c, ldc)
		beta = 1
	}
	putScratch(buf)
}

// stride reports whether rows (at least one) are evenly spaced, and their spacing.
func stride(rows []int) (int, bool) {
	if len(rows) < 2 {
		return 0, len(rows) == 1
	}
	d := rows[1] - rows[0]
	for p := 2; p < len(rows); p++ {
		if rows[p]-rows[p-1] != d {
			return 0, false
		}
	}
	return d, true
}

// gemm computes C = op(A)·op(B) + beta·C for row-major matrices, op(A) m×k and op(B) k×n: float32
// through sgemm32, float64 (the gradient checks) through the BLAS registered in blas64.
func gemm[T float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmBy(sgemm32, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// gemm1 is gemm on the calling goroutine (float32 through sgemm32On1).
func gemm1[T float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	gemmBy(sgemm32On1, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

func gemmBy[T float](f32 sgemmFunc, tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if av, ok := any(a).([]float32); ok {
		f32(tA, tB, m, n, k, av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	blas64.Implementation().Dgemm(ta, tb, m, n, k, 1, any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
}

// Scratch buffers (im2col matrices and the like) live only inside one op's computation, so they are
// recycled across ops and steps instead of being allocated each time: a free list per element type
// from which get takes the smallest buffer that is large enough. Their contents on loan are
// arbitrary.
var (
	scratchMu sync.Mutex
	free32    [][]float32
	free64    [][]float64
)

// maxFree bounds the buffers kept per element type.
const maxFree = 32

func freeList[T float]() *[][]T {
	var l any
	switch any(T(0)).(type) {
	case float32:
		l = &free32
	default:
		l = &free64
	}
	return l.(*[][]T)
}

func getScratch[T float](n int) []T {
	scratchMu.Lock()
	defer scratchMu.Unlock()
	l := freeList[T]()
	best := -1
	for i, s := range *l {
		if cap(s) >= n && (best < 0 || cap(s) < cap((*l)[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]T, n)
	}
	s := (*l)[best]
	(*l)[best] = (*l)[len(*l)-1]
	*l = (*l)[:len(*l)-1]
	return s[:n]
}

func putScratch[T float](s []T) {
	scratchMu.Lock()
	defer scratchMu.Unlock()
	l := freeList[T]()
	if len(*l) < maxFree {
		*l = append(*l, s)
		return
	}
	// Keep the largest buffers: replace the smallest if s is larger.
	small := 0
	for i, t := range *l {
		if cap(t) < cap((*l)[small]) {
			small = i
		}
	}
	if cap(s) > cap((*l)[small]) {
		(*l)[small] = s
	}
}
