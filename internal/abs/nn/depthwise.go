package nn

import (
	"fmt"
	"sync"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn/sgemm"
)

// convOut returns the output size of a convolution with kernel k, stride s, padding p and
// dilation d over n: ⌊(n + 2p − d·(k−1) − 1)/s⌋ + 1.
func convOut(n, k, s, p, d int) int { return (n+2*p-d*(k-1)-1)/s + 1 }

// dwGeom is the geometry of a depthwise convolution.
type dwGeom struct{ b, c, h, w, k, s, p, d, oh, ow int }

// cols returns the range [j0, j1) of output columns whose tap v reads a pixel inside the image:
// 0 ≤ j·s − p + v·d < w.
func (g dwGeom) cols(v int) (j0, j1 int) { return tapSpan(g.w, g.ow, g.s, v*g.d-g.p) }

// tapSpan returns the range [o0, o1) of the on outputs o whose input o·s + off lies in [0, n). It
// divides only at strides other than 1 and 2 (a step runs it for every plane and tap).
func tapSpan(n, on, s, off int) (o0, o1 int) {
	if n-1-off < 0 {
		return 0, 0
	}
	switch s {
	case 1:
		o0, o1 = max(-off, 0), min(n-off, on)
	case 2:
		o0, o1 = max((-off+1)>>1, 0), min((n-1-off)>>1+1, on)
	default:
		if off < 0 {
			o0 = (-off + s - 1) / s
		}
		o1 = min((n-1-off)/s+1, on)
	}
	return min(o0, o1), o1
}

// dwFwd computes out[b,c,i,j] = Σ_{u,v} w[c,u,v]·x[b,c,i·s−p+u·d, j·s−p+v·d], pixels outside
// the image being 0.
func dwFwd[T float](x, wt []T, g dwGeom) []T {
	out := getOut[T](g.b*g.c*g.oh*g.ow, true)
	kk := g.k * g.k
	parallel(g.b*g.c, g.b*g.c*g.oh*g.ow*kk, func(lo, hi int) { dwFwdRange(x, wt, out, g, lo, hi) })
	return out
}

// dwFwdRange is dwFwd for the images and channels bc = b·C + c in [lo, hi).
func dwFwdRange[T float](x, wt, out []T, g dwGeom, lo, hi int) {
	kk := g.k * g.k
	for bc := lo; bc < hi; bc++ {
		img := x[bc*g.h*g.w : (bc+1)*g.h*g.w]
		o := out[bc*g.oh*g.ow : (bc+1)*g.oh*g.ow]
		ker := wt[(bc%g.c)*kk : (bc%g.c+1)*kk]
		for u := 0; u < g.k; u++ {
			for v := 0; v < g.k; v++ {
				kv := ker[u*g.k+v]
				j0, j1 := g.cols(v)
				if g.s == 1 { // the tap's rows at once: out[i, j0:j1] += kv·x[i−p+u·d, j0−p+v·d:]
					if i0, i1, x0 := g.tapRows(u, v, j0); i1 > i0 && j1 > j0 {
						axpyRows(i1-i0, j1-j0, kv, img[x0:], g.w, o[i0*g.ow+j0:], g.ow)
					}
					continue
				}
				for i := 0; i < g.oh; i++ {
					y := i*g.s - g.p + u*g.d
					if y < 0 || y >= g.h {
						continue
					}
					row := img[y*g.w : (y+1)*g.w]
					orow := o[i*g.ow : (i+1)*g.ow]
					for j, xx := j0, j0*g.s-g.p+v*g.d; j < j1; j, xx = j+1, xx+g.s {
						orow[j] += kv * row[xx]
					}
				}
			}
		}
	}
}

// axpyRows adds a·x[r·ldx+i] to y[r·ldy+i] for r < rows, i < n, each product rounded before the
// sum as in a Go loop: for float32 through sgemm.AxpyRows (8 values at a time on AVX2, the same
// bits).
func axpyRows[T float](rows, n int, a T, x []T, ldx int, y []T, ldy int) {
	if xs, ok := any(x).([]float32); ok {
		sgemm.AxpyRows(rows, n, float32(a), xs, ldx, any(y).([]float32), ldy)
		return
	}
	for r := 0; r < rows; r++ {
		ys := y[r*ldy : r*ldy+n]
		for i, v := range x[r*ldx : r*ldx+n] {
			ys[i] += a * v
		}
	}
}

// tapRows returns, for stride 1, the output rows [i0, i1) that tap (u, v) reads inside the image
// (0 ≤ i − p + u·d < h) and the index in the image of the pixel that output (i0, j0) reads.
func (g dwGeom) tapRows(u, v, j0 int) (i0, i1, x0 int) {
	i0, i1 = g.rows(u)
	return i0, i1, (i0+u*g.d-g.p)*g.w + j0 - g.p + v*g.d
}

// dwBwdX is the adjoint of dwFwd in x: gx[b,c,y,x] = Σ over the outputs (i,j) and taps (u,v) that
// read (y,x) of w[c,u,v]·gy[b,c,i,j].
func dwBwdX[T float](wt, gy []T, g dwGeom) []T {
	gx := getOut[T](g.b*g.c*g.h*g.w, true)
	kk := g.k * g.k
	parallel(g.b*g.c, g.b*g.c*g.oh*g.ow*kk, func(lo, hi int) { dwBwdXRange(wt, gy, gx, g, lo, hi) })
	return gx
}

// dwBwdXRange is dwBwdX for the images and channels bc = b·C + c in [lo, hi).
func dwBwdXRange[T float](wt, gy, gx []T, g dwGeom, lo, hi int) {
	kk := g.k * g.k
	for bc := lo; bc < hi; bc++ {
		gimg := gx[bc*g.h*g.w : (bc+1)*g.h*g.w]
		o := gy[bc*g.oh*g.ow : (bc+1)*g.oh*g.ow]
		ker := wt[(bc%g.c)*kk : (bc%g.c+1)*kk]
		for u := 0; u < g.k; u++ {
			for v := 0; v < g.k; v++ {
				kv := ker[u*g.k+v]
				j0, j1 := g.cols(v)
				if g.s == 1 { // the tap's rows at once: gx[i−p+u·d, j0−p+v·d:] += kv·gy[i, j0:j1]
					if i0, i1, x0 := g.tapRows(u, v, j0); i1 > i0 && j1 > j0 {
						axpyRows(i1-i0, j1-j0, kv, o[i0*g.ow+j0:], g.ow, gimg[x0:], g.w)
					}
					continue
				}
				for i := 0; i < g.oh; i++ {
					y := i*g.s - g.p + u*g.d
					if y < 0 || y >= g.h {
						continue
					}
					row := gimg[y*g.w : (y+1)*g.w]
					orow := o[i*g.ow : (i+1)*g.ow]
					for j, xx := j0, j0*g.s-g.p+v*g.d; j < j1; j, xx = j+1, xx+g.s {
						row[xx] += kv * orow[j]
					}
				}
			}
		}
	}
}

// dwBwdW is the adjoint of dwFwd in w: gw[c,u,v] = Σ_{b,i,j} x[b,c,i·s−p+u·d, j·s−p+v·d]·gy[b,c,i,j].
// For float32 it runs 8 images at a time (dwBwdW8Range), with the same bits.
func dwBwdW[T float](x, gy []T, g dwGeom) []T {
	gw := getOut[T](g.c*g.k*g.k, true)
	work := g.b * g.c * g.oh * g.ow * g.k * g.k
	if xs, ok := any(x).([]float32); ok && g.b >= 8 {
		gys, gws := any(gy).([]float32), any(gw).([]float32)
		parallel(g.c, work, func(lo, hi int) { dwBwdW8Range(xs, gys, gws, g, lo, hi) })
		return gw
	}
	parallel(g.c, work, func(lo, hi int) { dwBwdWRange(x, gy, gw, g, lo, hi) })
	return gw
}

// dwBwdWRange is dwBwdW for the channels in [lo, hi). Each channel's kernel gradient adds up the
// images in increasing order, as a single loop over b·C + c would, so the bits do not depend on
// how the channels are split.
func dwBwdWRange[T float](x, gy, gw []T, g dwGeom, lo, hi int) {
	kk := g.k * g.k
	for c := lo; c < hi; c++ {
		for b := 0; b < g.b; b++ {
			dwBwdWImage(x, gy, gw[c*kk:(c+1)*kk], g, b*g.c+c)
		}
	}
}

// dwBwdWImage adds to ker, channel c's kernel gradient, the sums of image and channel bc = b·C + c:
// for each tap (u, v) in turn, acc = Σ_i Σ_j x[bc, i·s−p+u·d, j·s−p+v·d]·gy[bc, i, j] over the
// outputs whose pixel lies inside the image, in increasing i then j, and then ker[u,v] += acc.
func dwBwdWImage[T float](x, gy, ker []T, g dwGeom, bc int) {
	img := x[bc*g.h*g.w : (bc+1)*g.h*g.w]
	o := gy[bc*g.oh*g.ow : (bc+1)*g.oh*g.ow]
	for u := 0; u < g.k; u++ {
		for v := 0; v < g.k; v++ {
			var acc T
			j0, j1 := g.cols(v)
			for i := 0; i < g.oh; i++ {
				y := i*g.s - g.p + u*g.d
				if y < 0 || y >= g.h {
					continue
				}
				row := img[y*g.w : (y+1)*g.w]
				orow := o[i*g.ow : (i+1)*g.ow]
				for j, xx := j0, j0*g.s-g.p+v*g.d; j < j1; j, xx = j+1, xx+g.s {
					acc += row[xx] * orow[j]
				}
			}
			ker[u*g.k+v] += acc
		}
	}
}

// rows returns the range [i0, i1) of output rows whose tap u reads a row inside the image:
// 0 ≤ i·s − p + u·d < h.
func (g dwGeom) rows(u int) (i0, i1 int) { return tapSpan(g.h, g.oh, g.s, u*g.d-g.p) }

// dwScratch holds dwBwdW8Range's interleaved copies, one pair per running call.
var dwScratch = sync.Pool{New: func() any { return new([]float32) }}

// dwBwdW8Range is dwBwdWRange for float32, 8 images at a time. A group of 8 images of a channel
// is interleaved (image b0+l in lane l, sgemm.Transpose), and each tap's 8 sums run in the lanes
// of sgemm.DotLanes8, each in dwBwdWImage's order (rows i, then columns j, every product rounded
// before the sum); the 8 sums are then added to the kernel gradient in increasing image order.
// The last b mod 8 images go through dwBwdWImage. So the bits are dwBwdWRange's.
func dwBwdW8Range(x, gy, gw []float32, g dwGeom, lo, hi int) {
	kk, hw, ohw := g.k*g.k, g.h*g.w, g.oh*g.ow
	buf := dwScratch.Get().(*[]float32)
	defer dwScratch.Put(buf)
	if cap(*buf) < 8*(hw+ohw) {
		*buf = make([]float32, 8*(hw+ohw))
	}
	xp, gp := (*buf)[:8*hw], (*buf)[8*hw:8*(hw+ohw)]
	for c := lo; c < hi; c++ {
		ker := gw[c*kk : (c+1)*kk]
		b0 := 0
		for ; b0+8 <= g.b; b0 += 8 {
			sgemm.Transpose(8, hw, x[(b0*g.c+c)*hw:], g.c*hw, xp, 8)
			sgemm.Transpose(8, ohw, gy[(b0*g.c+c)*ohw:], g.c*ohw, gp, 8)
			for u := 0; u < g.k; u++ {
				i0, i1 := g.rows(u)
				for v := 0; v < g.k; v++ {
					var acc [8]float32
					if j0, j1 := g.cols(v); i1 > i0 && j1 > j0 {
						x0 := (i0*g.s-g.p+u*g.d)*g.w + j0*g.s - g.p + v*g.d
						sgemm.DotLanes8(i1-i0, j1-j0, xp[8*x0:], 8*g.s*g.w, 8*g.s, gp[8*(i0*g.ow+j0):], 8*g.ow, &acc)
					}
					for _, a := range acc {
						ker[u*g.k+v] += a
					}
				}
			}
		}
		for b := b0; b < g.b; b++ {
			dwBwdWImage(x, gy, ker, g, b*g.c+c)
		}
	}
}

// DepthwiseConv convolves every channel of the NCHW node x with its own k×k kernel, w of shape
// [C,1,k,k] (a grouped convolution with groups = C, as in separable and MBConv layers), with
// stride s, zero padding p and dilation d:
//
//	out[b,c,i,j] = Σ_{u,v} w[c,0,u,v]·x[b,c,i·s−p+u·d, j·s−p+v·d],
//
// of side ⌊(H + 2p − d·(k−1) − 1)/s⌋ + 1. Gorgonia v0.9.18's Conv2d has no groups; dilation d > 1
// gives DARTS' dilated convolutions.
func DepthwiseConv(x, w *gorgonia.Node, s, p, d int) (*gorgonia.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || ws[0] != xs[1] || ws[1] != 1 || ws[2] != ws[3] {
		return nil, fmt.Errorf("depthwise conv: input %v, kernel %v, want NCHW and [C,1,k,k]", xs, ws)
	}
	k := ws[2]
	if s < 1 || p < 0 || d < 1 {
		return nil, fmt.Errorf("depthwise conv: stride %d pad %d dilation %d, want s≥1, p≥0, d≥1", s, p, d)
	}
	if convOut(xs[2], k, s, p, d) < 1 || convOut(xs[3], k, s, p, d) < 1 {
		return nil, fmt.Errorf("depthwise conv: input %v too small for kernel %d dilation %d pad %d", xs, k, d, p)
	}
	geom := func(in tensor.Shape) dwGeom {
		b, c, h, wd := dims4(in)
		return dwGeom{b, c, h, wd, k, s, p, d, convOut(h, k, s, p, d), convOut(wd, k, s, p, d)}
	}
	name := fmt.Sprintf("Depthwise(k=%d,s=%d,p=%d,d=%d)", k, s, p, d)
	op := &kernelOp{
		name: name, in: []int{4, 4}, out: 4, wrt: []bool{true, true},
		shape: func(in []tensor.Shape) tensor.Shape {
			g := geom(in[0])
			return tensor.Shape{g.b, g.c, g.oh, g.ow}
		},
	}
	op.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
		g := geom(in[0].Shape())
		return apply(in[0], func() (gorgonia.Value, error) {
			out := dwFwd(slice[float32](in[0]), slice[float32](in[1]), g)
			return tensor.New(tensor.WithShape(g.b, g.c, g.oh, g.ow), tensor.WithBacking(out)), nil
		}, func() (gorgonia.Value, error) {
			out := dwFwd(slice[float64](in[0]), slice[float64](in[1]), g)
			return tensor.New(tensor.WithShape(g.b, g.c, g.oh, g.ow), tensor.WithBacking(out)), nil
		})
	}
	op.grad = func(in gorgonia.Nodes, _, gy *gorgonia.Node) (gorgonia.Nodes, error) {
		// The gradient in x reads x only for its shape.
		gxOp := &kernelOp{
			name: "DepthwiseGradX" + name[len("Depthwise"):], in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[0].Clone() },
		}
		gxOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			g := geom(in[0].Shape())
			return apply(in[2], func() (gorgonia.Value, error) {
				gx := dwBwdX(slice[float32](in[1]), slice[float32](in[2]), g)
				return tensor.New(tensor.WithShape(g.b, g.c, g.h, g.w), tensor.WithBacking(gx)), nil
			}, func() (gorgonia.Value, error) {
				gx := dwBwdX(slice[float64](in[1]), slice[float64](in[2]), g)
				return tensor.New(tensor.WithShape(g.b, g.c, g.h, g.w), tensor.WithBacking(gx)), nil
			})
		}
		gwOp := &kernelOp{
			name: "DepthwiseGradW" + name[len("Depthwise"):], in: []int{4, 4, 4}, out: 4,
			shape: func(in []tensor.Shape) tensor.Shape { return in[1].Clone() },
		}
		gwOp.fwd = func(in []*tensor.Dense) (gorgonia.Value, error) {
			g := geom(in[0].Shape())
			return apply(in[2], func() (gorgonia.Value, error) {
				gw := dwBwdW(slice[float32](in[0]), slice[float32](in[2]), g)
				return tensor.New(tensor.WithShape(g.c, 1, k, k), tensor.WithBacking(gw)), nil
			}, func() (gorgonia.Value, error) {
				gw := dwBwdW(slice[float64](in[0]), slice[float64](in[2]), g)
				return tensor.New(tensor.WithShape(g.c, 1, k, k), tensor.WithBacking(gw)), nil
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
