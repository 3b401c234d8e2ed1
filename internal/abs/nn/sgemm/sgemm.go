// Package sgemm multiplies float32 matrices for the training kernels: C = op(A)·op(B) + beta·C,
// row-major, on every core GOMAXPROCS allows. On amd64 CPUs with AVX2 and FMA it packs the
// matrices into blocks and runs a Go-assembly micro-kernel; elsewhere, or everywhere with the
// purego build tag, it calls gonum's pure-Go Sgemm (the engine's path before this package).
//
// The result does not depend on the number of threads: C is cut into blocks whose boundaries are
// fixed constants, every element of C is computed by one goroutine, and its sum over k runs in the
// same order (blocks of kc, each accumulated onto the value before it with fused multiply-adds in
// increasing k) whatever the thread count. The two paths round differently from each other.
package sgemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/abs-nas/abs/internal/abs/nn/spread"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Block sizes. mr×nr is the micro-kernel's tile (12 ymm accumulators for the AVX2 kernel; 4 rows
// suit the engine's channel counts, multiples of 4); a packed A block (mc×kc) stays in L2, and a
// kc×nr sliver of B in L1.
const (
	mr = 4
	nr = 24
	kc = 256
	mc = 96  // a multiple of mr
	nc = 768 // a multiple of nr

	// shortK is the longest k block whose tiles run along C's rows.
	shortK = 64
)

// packedRows are the row offsets of a packed sliver of B: row p at p·nr.
var packedRows = func() (r [kc]int) {
	for p := range r {
		r[p] = p * nr
	}
	return r
}()

// parallelFlops is the work (m·n·k) from which a multiply is spread over goroutines; below it the
// start-up of the goroutines costs more than it saves. It is a constant, so it never changes bits.
const parallelFlops = 1 << 17

// Kernel names the path in use: "avx2" (the assembly micro-kernel) or "gonum".
func Kernel() string {
	if useAsm {
		return "avx2"
	}
	return "gonum"
}

// fallback is gonum's pure-Go Sgemm (itself spread over GOMAXPROCS goroutines for large C).
func fallback(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
}

// Sgemm computes C = op(A)·op(B) + beta·C for row-major matrices, op(A) m×k and op(B) k×n: op(A) is
// A, or Aᵀ when tA is set (A is then k×m), and likewise for B. lda, ldb and ldc are the row strides.
// With beta 0, C is not read, so it may hold anything (NaN included), as in BLAS.
func Sgemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmThreads(runtime.GOMAXPROCS(0), tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm on at most threads goroutines (at least one). The result is bit-identical
// for every thread count. The gonum fallback ignores threads and splits by GOMAXPROCS itself (its
// blocks also keep each sum's order, so its bits do not depend on GOMAXPROCS either).
func SgemmThreads(threads int, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	if !useAsm {
		fallback(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	run(threads, geometry{tA: tA, tB: tB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}, beta)
}

// SgemmRows is Sgemm with B (k×n, not transposed) gathered from rows anywhere in b: row p of B is
// b[rows[p]:][:n]. A convolution multiplies its weights by the shifted rows of a padded image this
// way, with no copy of them. Each element's sum runs in increasing p, exactly as Sgemm's does on
// the same B, and the result does not depend on the thread count. It reports false, computing
// nothing, where the package has no micro-kernel (the purego build, other CPUs); the caller then
// gathers the rows itself.
func SgemmRows(tA bool, m, n, k int, a []float32, lda int, b []float32, rows []int, beta float32, c []float32, ldc int) bool {
	if !useAsm {
		return false
	}
	check(tA, false, m, n, k, len(a), lda, -1, 0, len(c), ldc)
	if len(rows) < k {
		panic(fmt.Sprintf("sgemm: %d row offsets for a B of %d rows", len(rows), k))
	}
	for p, r := range rows[:k] {
		if r < 0 || r+n > len(b) {
			panic(fmt.Sprintf("sgemm: B's row %d at %d: %d values from there, b has %d", p, r, n, len(b)))
		}
	}
	if m == 0 || n == 0 {
		return true
	}
	if k == 0 {
		scale(m, n, beta, c, ldc)
		return true
	}
	run(runtime.GOMAXPROCS(0), geometry{tA: tA, m: m, n: n, k: k, a: a, lda: lda, b: b, rows: rows[:k], c: c, ldc: ldc}, beta)
	return true
}

// run computes the multiply g on at most threads goroutines, after C = beta·C (with beta 0, the
// first k block's tiles start from zero instead).
func run(threads int, g geometry, beta float32) {
	g.zero = beta == 0
	if beta != 1 && beta != 0 {
		scale(g.m, g.n, beta, g.c, g.ldc)
	}
	if threads < 1 || int64(g.m)*int64(g.n)*int64(g.k) < parallelFlops {
		threads = 1
	}
	g.split(threads)
	units := g.units()
	threads = min(threads, units)
	if threads == 1 {
		w := getWork()
		for u := 0; u < units; u++ {
			g.unit(w, u)
		}
		putWork(w)
		return
	}
	var next atomic.Int64
	spread.Do(threads, func(int) {
		w := getWork()
		for {
			u := int(next.Add(1) - 1)
			if u >= units {
				break
			}
			g.unit(w, u)
		}
		putWork(w)
	})
}

// AxpyRows adds a·x[r·ldx+i] to y[r·ldy+i] for r < rows and i < n: a·X added to Y for two
// row-major matrices with row strides ldx and ldy. Each product is rounded to float32 before the
// sum, exactly as the Go loop y[…] += a*x[…] computes it: the AVX2 path multiplies and adds in
// separate instructions (no fused multiply-add), 8 values at a time, so both paths give the same
// bits. The depthwise convolutions add each tap's rows with it.
func AxpyRows(rows, n int, a float32, x []float32, ldx int, y []float32, ldy int) {
	if rows <= 0 || n <= 0 || axpyRowsVec(rows, n, a, x, ldx, y, ldy) {
		return
	}
	for r := 0; r < rows; r++ {
		xs, ys := x[r*ldx:r*ldx+n], y[r*ldy:r*ldy+n]
		for i, v := range xs {
			ys[i] += a * v
		}
	}
}

// MaskMul sets y[i] = g[i]·m for i < len(x), m = 1 where x[i] ≥ 0 and 0 elsewhere (NaN
// included): the rectifier's value (g = x) and gradient, as a product by 1 or 0 so that a negative
// g gives −0 and a NaN stays NaN, exactly as the Go loop computes it; the AVX2 path compares and
// multiplies 8 values at a time with the same bits.
func MaskMul(x, g, y []float32) {
	g, y = g[:len(x)], y[:len(x)]
	for i := maskMulVec(x, g, y); i < len(x); i++ {
		var m float32
		if x[i] >= 0 {
			m = 1
		}
		y[i] = g[i] * m
	}
}

// Add sets z[i] = x[i] + y[i] for i < len(x), or, when incr, z[i] += x[i] + y[i] (the sum of x
// and y first, then z's value added to it), as the Go loop computes it: the AVX2 path adds 8
// values at a time with the same bits. z may be x or y.
func Add(x, y, z []float32, incr bool) {
	y, z = y[:len(x)], z[:len(x)]
	i := addVec(x, y, z, incr)
	if incr {
		for ; i < len(x); i++ {
			z[i] += x[i] + y[i]
		}
		return
	}
	for ; i < len(x); i++ {
		z[i] = x[i] + y[i]
	}
}

// Sum3 sets z[i] = (a[i] + b[i] + c[i])·s[i] for i < len(z), or a[i] + b[i] + c[i] when s is
// nil: the sums left to right, then the product, as the Go loop computes them; the AVX2 path does
// 8 values at a time with the same bits. z may be one of the others, at the same index.
func Sum3(a, b, c, s, z []float32) {
	a, b, c = a[:len(z)], b[:len(z)], c[:len(z)]
	i := sum3Vec(a, b, c, s, z)
	if s == nil {
		for ; i < len(z); i++ {
			z[i] = a[i] + b[i] + c[i]
		}
		return
	}
	s = s[:len(z)]
	for ; i < len(z); i++ {
		z[i] = (a[i] + b[i] + c[i]) * s[i]
	}
}

// Mul sets z[i] = x[i]·s[i] for i < len(z), with AVX2 8 values at a time (the same bits). z may
// be x or s.
func Mul(x, s, z []float32) {
	x, s = x[:len(z)], s[:len(z)]
	for i := mulVec(x, s, z); i < len(z); i++ {
		z[i] = x[i] * s[i]
	}
}

// Relu sets y[i] = max(x[i], 0) for i < len(y), with Go's max: +0 for ±0 and negative values, a
// NaN for a NaN (on amd64 with its sign bit cleared). The AVX2 path does 8 values at a time with
// the bits of the compiled Go loop. y may be x.
func Relu(x, y []float32) {
	x = x[:len(y)]
	for i := reluVec(x, y); i < len(y); i++ {
		y[i] = max(x[i], 0)
	}
}

// Centre, Affine, Affine2 and BNGrad are batch norm's elementwise passes, for i < len of the
// output: each product rounded before the sums (no fused multiply-add) and the sums left to right,
// as the Go loops compute them; the AVX2 path does 8 values at a time with the same bits. The
// output may be one of the inputs.

// Centre sets y[i] = (x[i] − m)·s.
func Centre(x, y []float32, m, s float32) {
	x = x[:len(y)]
	for i := centreVec(x, y, m, s); i < len(y); i++ {
		y[i] = (x[i] - m) * s
	}
}

// Affine sets y[i] = x[i]·a + b.
func Affine(x, y []float32, a, b float32) {
	x = x[:len(y)]
	for i := affineVec(x, y, a, b); i < len(y); i++ {
		y[i] = x[i]*a + b
	}
}

// Affine2 sets y[i] = a·g[i] + p·x[i] + q.
func Affine2(g, x, y []float32, a, p, q float32) {
	g, x = g[:len(y)], x[:len(y)]
	for i := affine2Vec(g, x, y, a, p, q); i < len(y); i++ {
		y[i] = a*g[i] + p*x[i] + q
	}
}

// BNGrad sets d[i] = s·(g[i] − a − z[i]·b).
func BNGrad(g, z, d []float32, a, b, s float32) {
	g, z = g[:len(d)], z[:len(d)]
	for i := bnGradVec(g, z, d, a, b, s); i < len(d); i++ {
		d[i] = s * (g[i] - a - z[i]*b)
	}
}

// ArgMax3 sets idx[t], for t < len(idx), to the index of the first strict maximum, in row-major
// order, of the 3×3 window whose rows are r0, r1 and r2 from column t: base + d·w + t + e for the
// value r_d[t+e] (d, e < 3), the window read from (0, 0) on and replaced only by a greater value
// (never by a NaN), as the Go loop compares. The rows need len(idx)+2 values. The AVX2 path does 8
// windows side by side with the same comparisons.
func ArgMax3(r0, r1, r2 []float32, w, base int, idx []int32) {
	rows := [3][]float32{r0[:len(idx)+2], r1[:len(idx)+2], r2[:len(idx)+2]}
	for t := argMax3Vec(r0, r1, r2, w, base, idx); t < len(idx); t++ {
		best, bi := rows[0][t], base+t
		for d, r := range rows {
			for e := 0; e < 3; e++ {
				if v := r[t+e]; v > best {
					best, bi = v, base+d*w+t+e
				}
			}
		}
		idx[t] = int32(bi)
	}
}

// CopyRows copies n values from each of rows rows of src (row stride lds) to those of dst (row
// stride ldd): a padded layout's rows to a dense one, or back. The AVX2 path copies all the rows in
// one call (the rows are short: a call of copy per row cost more than the copying).
func CopyRows(rows, n int, src []float32, lds int, dst []float32, ldd int) {
	if rows <= 0 || n <= 0 || copyRowsVec(rows, n, src, lds, dst, ldd) {
		return
	}
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+n], src[r*lds:r*lds+n])
	}
}

// MaskPositive sets g[i] to +0 for i < len(x) where x[i] is not positive: the gradient through the
// rectifier max(x, 0). It reads the bits of x as an int32 s, which is positive exactly when x > 0
// (or x is a NaN with its sign bit clear), and ands g's bits with all ones there, 0 elsewhere; the
// AVX2 path compares and ands 8 values at a time with the same bits.
func MaskPositive(x, g []float32) {
	g = g[:len(x)]
	for i := maskPositiveVec(x, g); i < len(x); i++ {
		s := int32(math.Float32bits(x[i]))
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & uint32((-s&^s)>>31))
	}
}

// Transpose sets dst[p·ldd+r] = src[r·lds+p] for r < rows and p < n: rows of n values (row
// stride lds) into n rows of rows values (row stride ldd), 8 rows by 8 values at a time with AVX2.
// With rows = ldd = 8 it interleaves 8 rows into n groups of 8, row l in lane l, the layout
// DotLanes8 reads.
func Transpose(rows, n int, src []float32, lds int, dst []float32, ldd int) {
	if rows <= 0 || n <= 0 {
		return
	}
	_, _ = src[(rows-1)*lds+n-1], dst[(n-1)*ldd+rows-1]
	r0 := 0
	for ; r0+8 <= rows; r0 += 8 {
		p := transpose8(n, src[r0*lds:], lds, dst[r0:], ldd)
		for ; p < n; p++ {
			for l := 0; l < 8; l++ {
				dst[p*ldd+r0+l] = src[(r0+l)*lds+p]
			}
		}
	}
	for r := r0; r < rows; r++ {
		for p, v := range src[r*lds : r*lds+n] {
			dst[p*ldd+r] = v
		}
	}
}

// DotLanes8 adds to each lane l < 8 of acc the sum over r < rows and j < n, in that order, of
// x[r·ldx + j·incx + l]·g[r·ldg + 8j + l]: 8 independent dot products, one per lane of two
// interleaved operands (see Transpose). Each product is rounded before the sum, exactly as the
// Go loop acc[l] += x·g computes it, lane by lane; the AVX2 path multiplies and adds 8 lanes at a
// time in separate instructions (no fused multiply-add), so both give the same bits. The
// depthwise convolutions' kernel gradient runs 8 images at a time through it.
func DotLanes8(rows, n int, x []float32, ldx, incx int, g []float32, ldg int, acc *[8]float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	_ = x[(rows-1)*ldx+(n-1)*incx+7]
	_ = g[(rows-1)*ldg+8*n-1]
	if dotLanes8Vec(rows, n, x, ldx, incx, g, ldg, acc) {
		return
	}
	a := *acc
	for r := 0; r < rows; r++ {
		for j := 0; j < n; j++ {
			xs, gs := x[r*ldx+j*incx:r*ldx+j*incx+8], g[r*ldg+8*j:r*ldg+8*j+8]
			for l := range a {
				a[l] += xs[l] * gs[l]
			}
		}
	}
	*acc = a
}

// check panics, as a BLAS does, when the arguments do not describe matrices inside the slices
// (B's only when lb ≥ 0).
func check(tA, tB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ra, ca := m, k
	if tA {
		ra, ca = k, m
	}
	rb, cb := k, n
	if tB {
		rb, cb = n, k
	}
	need := func(name string, rows, cols, ld, l int) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("sgemm: %s stride %d < %d columns", name, ld, cols))
		}
		if rows > 0 && cols > 0 && l < (rows-1)*ld+cols {
			panic(fmt.Sprintf("sgemm: %s has %d values, a %d×%d matrix with stride %d needs %d", name, l, rows, cols, ld, (rows-1)*ld+cols))
		}
	}
	need("A", ra, ca, lda, la)
	if lb >= 0 { // SgemmRows checks its rows itself
		need("B", rb, cb, ldb, lb)
	}
	need("C", m, n, ldc, lc)
}

// scale sets C = beta·C (C = 0 when beta is 0, without reading C).
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// geometry is one multiply; its units of work are bm×bn blocks of C, row blocks fastest. How C is
// cut into units changes which goroutine computes an element, not how: every element's sum runs
// over the same kc blocks in the same order, so the cut may depend on the thread count.
type geometry struct {
	tA, tB  bool
	m, n, k int
	a       []float32
	lda     int
	b       []float32
	ldb     int
	c       []float32
	ldc     int
	rows    []int // B's row offsets in b (not transposed), or nil: row p at p·ldb
	zero    bool  // C starts at 0 (beta 0): not read
	bm, bn  int   // unit size: multiples of mr and nr, at most mc and nc
}

// split picks the unit size: mc×nc, halved until there are at least two units per thread (one
// unit on one thread), or a unit is one micro-tile; columns first when B is packed, rows first when
// it is read in place.
func (g *geometry) split(threads int) {
	g.bm, g.bn = mc, nc
	for threads > 1 && g.units() < 2*threads && (g.bn > nr || g.bm > mr) {
		// A unit packs its rows of A, and (transposed) its columns of B: cutting C's columns
		// packs A again for each, cutting its rows packs B again. A B read in place costs nothing
		// to cut by rows.
		if g.bn > nr && (g.tB || g.bm <= mr) {
			g.bn = roundUp(g.bn/2, nr)
		} else {
			g.bm = roundUp(g.bm/2, mr)
		}
	}
}

func roundUp(x, to int) int { return max(to, (x+to-1)/to*to) }

func (g *geometry) rowBlocks() int { return (g.m + g.bm - 1) / g.bm }

func (g *geometry) units() int { return g.rowBlocks() * ((g.n + g.bn - 1) / g.bn) }

// work is one goroutine's packing buffers and edge tile.
type work struct {
	ap   []float32 // packed A block: mc/mr slivers of kc×mr
	bp   []float32 // packed B block: nc/nr slivers of kc×nr
	rt   [kc]int   // row offsets of a B read in place, for one k block
	tile [mr * nr]float32
}

var pool = sync.Pool{New: func() any {
	return &work{ap: make([]float32, mc*kc), bp: make([]float32, kc*nc)}
}}

func getWork() *work  { return pool.Get().(*work) }
func putWork(w *work) { pool.Put(w) }

// unit computes block u of C: C[i0:i0+mb, j0:j0+nb] += op(A)[i0:, :]·op(B)[:, j0:], its k sum in
// blocks of kc in increasing order. B is read in place when it is not transposed (full slivers,
// their rows through a table of offsets), and packed otherwise. With a short k sum the tiles run
// along C's rows (4 rows of C streamed at a time, the block of B from cache), else down its
// columns (a sliver of B from L1 for every row of the block).
func (g *geometry) unit(w *work, u int) {
	rb := g.rowBlocks()
	i0, j0 := (u%rb)*g.bm, (u/rb)*g.bn
	mb, nb := min(g.bm, g.m-i0), min(g.bn, g.n-j0)
	full := nb / nr * nr // the columns of the full slivers
	for p0 := 0; p0 < g.k; p0 += kc {
		kb := min(kc, g.k-p0)
		g.packA(w.ap, i0, p0, mb, kb)
		top := 0
		if g.tB {
			g.packB(w.bp, p0, j0, kb, nb)
		} else {
			for p := range kb {
				r := g.brow(p0 + p)
				w.rt[p] = r
				top = max(top, r)
			}
			if full < nb { // the last, partial sliver of a B read in place
				g.packB(w.bp[(full/nr)*kc*nr:], p0, j0+full, kb, nb-full)
			}
		}
		tile := func(ir, jr int) {
			bs, rows, bt := w.bp[(jr/nr)*kc*nr:], packedRows[:], (kb-1)*nr
			// The first row of tiles fetches each sliver read in place from memory; the next
			// sliver's prefetch pays off there, and only there.
			inPlace := !g.tB && jr < full
			if inPlace {
				bs, rows, bt = g.b[j0+jr:], w.rt[:], top
			}
			as := w.ap[(ir/mr)*kc*mr:]
			mw, nw := min(mr, mb-ir), min(nr, nb-jr)
			ci := (i0+ir)*g.ldc + j0 + jr
			load := p0 > 0 || !g.zero
			if mw == mr && nw == nr {
				kernel(kb, as, bs, rows, bt, inPlace && ir == 0, load, g.c[ci:], g.ldc)
				return
			}
			// An edge tile: through a full-size tile, then back into C's valid part.
			t := w.tile[:]
			for i := 0; load && i < mw; i++ {
				copy(t[i*nr:i*nr+nw], g.c[ci+i*g.ldc:ci+i*g.ldc+nw])
			}
			kernel(kb, as, bs, rows, bt, inPlace && ir == 0, load, t, nr)
			for i := 0; i < mw; i++ {
				copy(g.c[ci+i*g.ldc:ci+i*g.ldc+nw], t[i*nr:i*nr+nw])
			}
		}
		if kb <= shortK {
			for ir := 0; ir < mb; ir += mr {
				for jr := 0; jr < nb; jr += nr {
					tile(ir, jr)
				}
			}
			continue
		}
		for jr := 0; jr < nb; jr += nr {
			for ir := 0; ir < mb; ir += mr {
				tile(ir, jr)
			}
		}
	}
}

// brow is the offset in b of B's stored row r: row r of B (k×n) or, transposed, of Bᵀ (n×k).
func (g *geometry) brow(r int) int {
	if g.rows != nil {
		return g.rows[r]
	}
	return r * g.ldb
}

// packA writes op(A)[i0:i0+mb, p0:p0+kb] as slivers of mr rows: sliver s holds, for p = 0..kb-1,
// the mr values op(A)[i0+s·mr+i, p0+p], rows past mb as zeros.
func (g *geometry) packA(ap []float32, i0, p0, mb, kb int) {
	for s := 0; s*mr < mb; s++ {
		dst := ap[s*kc*mr : s*kc*mr+kb*mr]
		rows := min(mr, mb-s*mr)
		r0 := i0 + s*mr
		if rows < mr {
			clear(dst)
		}
		if g.tA { // op(A)(i, p) = A[p][i]: mr contiguous values per p
			for p := 0; p < kb; p++ {
				src := g.a[(p0+p)*g.lda+r0:]
				copy(dst[p*mr:p*mr+rows], src[:rows])
			}
			continue
		}
		done := 0
		if rows == mr { // a full sliver: 8 values of each row at a time
			done = transpose4(kb, g.a[r0*g.lda+p0:], g.lda, dst)
		}
		for i := 0; i < rows && done < kb; i++ {
			src := g.a[(r0+i)*g.lda+p0+done : (r0+i)*g.lda+p0+kb]
			d := dst[done*mr:]
			for p, v := range src {
				d[p*mr+i] = v
			}
		}
	}
}

// packB writes op(B)[p0:p0+kb, j0:j0+nb] as slivers of nr columns: sliver s holds, for
// p = 0..kb-1, the nr values op(B)[p0+p, j0+s·nr+j], columns past nb as zeros.
func (g *geometry) packB(bp []float32, p0, j0, kb, nb int) {
	for s := 0; s*nr < nb; s++ {
		dst := bp[s*kc*nr : s*kc*nr+kb*nr]
		cols := min(nr, nb-s*nr)
		c0 := j0 + s*nr
		if cols < nr {
			clear(dst)
		}
		if !g.tB { // op(B)(p, j) = B[p][j]: nr contiguous values per p
			for p := 0; p < kb; p++ {
				src := g.b[g.brow(p0+p)+c0:]
				copy(dst[p*nr:p*nr+cols], src[:cols])
			}
			continue
		}
		// op(B)(p, j) = B[j][p]: a transpose. Each 8 of the sliver's columns go in 8×8 blocks
		// (transpose8, as many p as a multiple of 8 allows); the rest value by value.
		j8 := 0
		for ; j8+8 <= cols; j8 += 8 {
			if done := transpose8(kb, g.b[(c0+j8)*g.ldb+p0:], g.ldb, dst[j8:], nr); done < kb {
				g.transposeB(c0+j8, p0+done, 8, kb-done, dst[done*nr+j8:])
			}
		}
		g.transposeB(c0+j8, p0, cols-j8, kb, dst[j8:])
	}
}

// transposeB writes B[c0+j][p0+p] to d[p·nr+j] for j < cols, p < kb, in chunks of 16 p so that
// both the 16 values read from each of B's rows and the chunk written stay in L1.
func (g *geometry) transposeB(c0, p0, cols, kb int, d []float32) {
	for q := 0; q < kb; q += 16 {
		qn := min(16, kb-q)
		for j := 0; j < cols; j++ {
			src := g.b[(c0+j)*g.ldb+p0+q : (c0+j)*g.ldb+p0+q+qn]
			dq := d[q*nr+j:]
			for p, v := range src {
				dq[p*nr] = v
			}
		}
	}
}
