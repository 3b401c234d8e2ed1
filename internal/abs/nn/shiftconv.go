package nn

import (
	"sync"

	"github.com/abs-nas/abs/internal/abs/nn/sgemm"
	"gorgonia.org/tensor"
)

// A stride-1 convolution that keeps the image size (2p = k−1: NB201's 3×3 and 1×1 convolutions)
// needs no im2col. The input is copied once into a zero-padded buffer, channel by channel, all
// images of a channel in one row of length L = B·(H+p)·(W+p) with a margin of M = p·(W+p)+p zeros
// at both ends: each image is a block of H+p rows of W+p values whose first p rows and first p
// values of every row are 0, so the p zero columns at the start of a row also pad the end of the
// row before and the p zero rows of a block also pad the bottom of the block before. On that
// padded grid, the input pixel that kernel tap (u,v) pairs with the output at grid position q is at
// q + (u−p)·(W+p) + (v−p), so each tap is a matrix multiply with the same buffer shifted by a
// constant offset:
//
//	Ypad = Σ_{u,v} W_uv · shift_uv(Xpad),   W_uv[o,c] = w[o,c,u,v],
//
// computed on every grid position; the outputs at the padding positions mix neighbouring images
// and are dropped. So the forward pass is one matrix multiply with K = k²·C whose B rows are the
// rows of Xpad at the taps' offsets, read in place (gemmRows; no im2col copy). The gradients use
// the output gradient placed on the same padded layout, zero at its padding positions and margins:
// the input gradient is likewise one multiply, ∂L/∂Xpad = Σ_{u,v} W_uvᵀ·shift_−uv(Gpad), over the
// rows of Gpad at the opposite offsets. The weight gradient ∂L/∂W_uv = Gpad·shift_uv(Xpad)ᵀ is
// k multiplies, one per kernel row u, over Xpad transposed to channels-last, whose k horizontal
// taps at a grid position are k·C contiguous values (shiftGradW).

// same reports whether the convolution keeps the image size at stride 1.
func (g convGeom) same() bool { return g.s == 1 && 2*g.p == g.k-1 }

// shiftGrid is the padded layout of a B×C×H×W tensor for a convolution with padding p.
type shiftGrid struct {
	b, h, w, p int
	hp, wp     int // padded image size
	l          int // grid positions of all images
	m          int // margin before and after each channel row
	ld         int // row length, l + 2m
}

func newShiftGrid(b, h, w, p int) shiftGrid {
	hp, wp := h+p, w+p
	m := p*wp + p
	return shiftGrid{b: b, h: h, w: w, p: p, hp: hp, wp: wp, l: b * hp * wp, m: m, ld: b*hp*wp + 2*m}
}

// off returns the offset of tap (u,v) into a channel row of the padded buffer.
func (s shiftGrid) off(u, v int) int { return s.m + (u-s.p)*s.wp + (v - s.p) }

// pad writes r(x) for the c channels of x (B×C×H×W) into buf (c rows of length ld, the grid
// starting at offset start within a row) and zeroes everything else.
func pad[T float](s shiftGrid, x []T, c, ld, start int, relu bool, buf []T) {
	parallel(c, c*ld, func(c0, c1 int) { padRange(s, x, c, ld, start, relu, buf, c0, c1) })
}

// padRange is pad for the channels [c0, c1).
func padRange[T float](s shiftGrid, x []T, c, ld, start int, relu bool, buf []T, c0, c1 int) {
	hw := s.h * s.w
	for ch := c0; ch < c1; ch++ {
		row := buf[ch*ld : (ch+1)*ld]
		clear(row[:start])
		clear(row[start+s.l:])
		for img := 0; img < s.b; img++ {
			src := x[(img*c+ch)*hw:][:hw]
			grid := row[start+img*s.hp*s.wp:][:s.hp*s.wp]
			clear(grid)
			copyRows(s.h, s.w, src, s.w, grid[s.p*s.wp+s.p:], s.wp)
			if relu { // over the whole plane, padding included (max(+0, 0) = +0)
				reluInto(grid, grid)
			}
		}
	}
}

// unpad copies the image positions of buf (c rows of length ld, grid starting at offset start)
// into x (B×C×H×W). With a non-nil mask (B×C×H×W) it then applies reluMask(x, mask), plane by
// plane while the plane is in cache.
func unpad[T float](s shiftGrid, buf []T, c, ld, start int, x, mask []T) {
	parallel(s.b, s.b*c*s.h*s.w, func(b0, b1 int) { unpadRange(s, buf, c, ld, start, x, mask, b0, b1) })
}

// unpadRange is unpad for the images [b0, b1).
func unpadRange[T float](s shiftGrid, buf []T, c, ld, start int, x, mask []T, b0, b1 int) {
	hw := s.h * s.w
	for img := b0; img < b1; img++ {
		for ch := 0; ch < c; ch++ {
			o := (img*c + ch) * hw
			dst := x[o:][:hw]
			src := buf[ch*ld+start+img*s.hp*s.wp:]
			copyRows(s.h, s.w, src[s.p*s.wp+s.p:], s.wp, dst, s.w)
			if mask != nil {
				reluMask(dst, mask[o:o+hw])
			}
		}
	}
}

// tapWeights returns w (O×C×k×k) as k² matrices O×C, tap by tap: out[(u·k+v)·O·C + o·C + c].
func tapWeights[T float](w []T, o, c, k int) []T {
	out := getScratch[T](len(w))
	kk := k * k
	for oc := 0; oc < o; oc++ {
		for ch := 0; ch < c; ch++ {
			for t := 0; t < kk; t++ {
				out[t*o*c+oc*c+ch] = w[(oc*c+ch)*kk+t]
			}
		}
	}
	return out
}

func shiftFwd[T float](g convGeom, cc *convCache, xd, wd *tensor.Dense, bn *convBN) *tensor.Dense {
	b, c, h, w := dims4(xd.Shape())
	o := wd.Shape()[0]
	s := newShiftGrid(b, h, w, g.p)
	xp := getScratch[T](c * s.ld)
	pad(s, slice[T](xd), c, s.ld, s.m, g.relu, xp)
	yp := getScratch[T](o * s.l)
	wr := rowWeights(slice[T](wd), o, c, g.k)
	kk := c * g.k * g.k
	gemmRows(false, o, s.l, kk, wr, kk, xp, s.fwdRows(c, g.k), 0, yp, s.l)
	putScratch(wr)
	cc.putX(xp)
	out, y := newDenseFull[T](b, o, h, w)
	if bn != nil {
		bnFromGrid(s, yp, o, bn, y)
	} else {
		unpad(s, yp, o, s.l, 0, y, nil)
	}
	putScratch(yp)
	return out
}

// fwdRows are the offsets into the padded input (c rows of length ld) of the forward multiply's B
// rows, in the order (u, c, v): row u·C·k + c·k + v is channel c shifted for tap (u,v), at
// c·ld + off(u,v) (= c·ld + u·(W+p) + v), so that its column j pairs with grid position j.
func (s shiftGrid) fwdRows(c, k int) []int {
	rows := make([]int, 0, k*c*k)
	for u := 0; u < k; u++ {
		for ch := 0; ch < c; ch++ {
			for v := 0; v < k; v++ {
				rows = append(rows, ch*s.ld+s.off(u, v))
			}
		}
	}
	return rows
}

// gradRows are the offsets into the padded output gradient (o rows of length ld, the grid at m) of
// the input-gradient multiply's B rows, in the order (u, v, o): the gradient at grid position q
// takes tap (u,v)'s weights times the output gradient at q − (off(u,v) − m), so with the result's
// column j at grid position j, row (u·k+v)·O + o is at o·ld + m + m − off(u,v).
func (s shiftGrid) gradRows(o, k int) []int {
	rows := make([]int, 0, k*k*o)
	for u := 0; u < k; u++ {
		for v := 0; v < k; v++ {
			for oc := 0; oc < o; oc++ {
				rows = append(rows, oc*s.ld+2*s.m-s.off(u, v))
			}
		}
	}
	return rows
}

// rowWeights returns w (O×C×k×k) as one matrix O×(k·C·k) in the forward multiply's order
// (u, c, v): out[o·k·C·k + u·C·k + c·k + v] = w[o,c,u,v].
func rowWeights[T float](w []T, o, c, k int) []T {
	out := getScratch[T](len(w))
	for oc := 0; oc < o; oc++ {
		for ch := 0; ch < c; ch++ {
			for u := 0; u < k; u++ {
				copy(out[oc*k*c*k+u*c*k+ch*k:][:k], w[((oc*c+ch)*k+u)*k:][:k])
			}
		}
	}
	return out
}

func shiftGradX[T float](g convGeom, cc *convCache, xd, wd, gyd, zd *tensor.Dense, bn *convBN) *tensor.Dense {
	b, c, h, w := dims4(xd.Shape())
	o := wd.Shape()[0]
	s := newShiftGrid(b, h, w, g.p)
	gp, shared := prepGy[T](s, cc, gyd, zd, o, bn)
	wt := tapWeights(slice[T](wd), o, c, g.k)
	dxp := getScratch[T](c * s.ld)
	// Only the grid's positions: unpad reads no margin.
	gemmRows(true, c, s.l, g.k*g.k*o, wt, c, gp, s.gradRows(o, g.k), 0, dxp[s.m:], s.ld)
	cc.doneGy(gp, shared)
	putScratch(wt)
	out, dx := newDenseFull[T](b, c, h, w)
	var mask []T
	if g.relu {
		mask = slice[T](xd)
	}
	unpad(s, dxp, c, s.ld, s.m, dx, mask)
	putScratch(dxp)
	return out
}

func shiftGradW[T float](g convGeom, cc *convCache, xd, wd, gyd, zd *tensor.Dense, bn *convBN) *tensor.Dense {
	b, c, h, w := dims4(xd.Shape())
	o := wd.Shape()[0]
	s := newShiftGrid(b, h, w, g.p)
	xp := takeX[T](cc)
	if xp == nil {
		xp = getScratch[T](c * s.ld)
		pad(s, slice[T](xd), c, s.ld, s.m, g.relu, xp)
	}
	gp, shared := prepGy[T](s, cc, gyd, zd, o, bn)
	gm := gp[s.m:] // the grid's positions of the output gradient, rows of ld
	out, dw := newDenseFull[T](o, c, g.k, g.k)
	if g.k == 1 {
		gemm(false, true, o, c, s.l, gm, s.ld, xp, s.ld, 0, dw, c)
		putScratch(xp)
		cc.doneGy(gp, shared)
		return out
	}
	// The input channels-last (xt[q·C + c] = Xpad[c, q]): the k horizontal taps of grid position
	// q are then the k·C contiguous values from xt[q·C], so kernel row u's gradient is one multiply
	// by the rows xt[(j + u·(W+p))·C:] for grid positions j, read in place (gemmRows).
	xt := getScratch[T](s.ld * c)
	transpose(c, s.ld, xp, s.ld, xt, c)
	putScratch(xp)
	kc := c * g.k
	dwr := getScratch[T](g.k * o * kc) // [u][o][v·C + c]
	rows := strided(s.l, c)
	for u := 0; u < g.k; u++ {
		gemmRows(false, o, kc, s.l, gm, s.ld, xt[u*s.wp*c:], rows, 0, dwr[u*o*kc:], kc)
	}
	putScratch(xt)
	for oc := 0; oc < o; oc++ {
		for ch := 0; ch < c; ch++ {
			for u := 0; u < g.k; u++ {
				for v := 0; v < g.k; v++ {
					dw[((oc*c+ch)*g.k+u)*g.k+v] = dwr[u*o*kc+oc*kc+v*c+ch]
				}
			}
		}
	}
	putScratch(dwr)
	cc.doneGy(gp, shared)
	return out
}

// transpose sets dst[p·ldd+r] = src[r·lds+p] for r < rows, p < n (float32 through
// sgemm.Transpose), spread over the cores by columns.
func transpose[T float](rows, n int, src []T, lds int, dst []T, ldd int) {
	parallel(n, rows*n, func(p0, p1 int) {
		if s32, ok := any(src).([]float32); ok {
			sgemm.Transpose(rows, p1-p0, s32[p0:], lds, any(dst).([]float32)[p0*ldd:], ldd)
			return
		}
		for r := 0; r < rows; r++ {
			for p := p0; p < p1; p++ {
				dst[p*ldd+r] = src[r*lds+p]
			}
		}
	})
}

// strided returns the row offsets 0, d, 2d, … (n of them), kept for the next call with the same n
// and d (a network has a handful of grid sizes and channel counts).
func strided(n, d int) []int {
	key := [2]int{n, d}
	if r, ok := stridedRows.Load(key); ok {
		return r.([]int)
	}
	r := make([]int, n)
	for j := range r {
		r[j] = j * d
	}
	stridedRows.Store(key, r)
	return r
}

var stridedRows sync.Map

// reluMask sets g[i] to 0 where x[i] ≤ 0: the gradient through r(x) = max(x, 0). For float32 it
// is sgemm.MaskPositive (branch-free, as the sign of x is unpredictable, and 8 values at a time with
// AVX2).
func reluMask[T float](g, x []T) {
	if g32, ok := any(g).([]float32); ok {
		sgemm.MaskPositive(any(x).([]float32)[:len(g32)], g32)
		return
	}
	x = x[:len(g)]
	for i, t := range x {
		if t <= 0 {
			g[i] = 0
		}
	}
}

// prepGy returns the output gradient on the padded layout of the input (o rows of length ld, the
// grid at m, zero at the padding positions and in the margins), prepared by this run's other gradient op if it ran first. With bn it is the
// gradient with respect to the convolution's output, through the batch norm, from the gradient
// gyd with respect to the normalised output zd.
func prepGy[T float](s shiftGrid, cc *convCache, gyd, zd *tensor.Dense, o int, bn *convBN) ([]T, bool) {
	if gp, shared := takeGy[T](cc); shared {
		return gp, true
	}
	gp := getScratch[T](o * s.ld)
	if bn == nil {
		pad(s, slice[T](gyd), o, s.ld, s.m, false, gp)
	} else {
		bnGradGrid(s, slice[T](zd), slice[T](gyd), o, bn, gp)
	}
	return gp, false
}
