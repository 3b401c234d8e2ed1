package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naive is the textbook triple loop in float64: C = op(A)·op(B) + beta·C, with beta 0 not reading C.
func naive(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = s
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type gemmCase struct {
	tA, tB           bool
	m, n, k          int
	padA, padB, padC int // extra stride beyond the columns
	beta             float32
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,pad=%d/%d/%d,beta=%v", g.tA, g.tB, g.m, g.n, g.k, g.padA, g.padB, g.padC, g.beta)
}

// operands makes the case's matrices: A, B and C with their strides, C's padding filled with a
// sentinel that must survive.
func (g gemmCase) operands(r *rand.Rand) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ra, ca := g.m, g.k
	if g.tA {
		ra, ca = g.k, g.m
	}
	rb, cb := g.k, g.n
	if g.tB {
		rb, cb = g.n, g.k
	}
	lda, ldb, ldc = ca+g.padA, cb+g.padB, g.n+g.padC
	a, b, c = randSlice(r, max(1, ra*lda)), randSlice(r, max(1, rb*ldb)), randSlice(r, max(1, g.m*ldc))
	for i := 0; i < g.m; i++ {
		for j := g.n; j < ldc; j++ {
			c[i*ldc+j] = 12345
		}
	}
	return
}

// cases covers every transpose pair on shapes that hit full and partial micro-tiles, several k
// blocks, several row and column blocks, and the engine's convolution shapes scaled down.
func cases() []gemmCase {
	var cs []gemmCase
	shapes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 15, 257}, {13, 33, 300}, {73, 513, 9}, {8, 700, 72}, {72, 640, 8}, {8, 72, 1100}, {150, 40, 520}}
	for _, s := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for bi, beta := range []float32{0, 1, 0.5} {
					cs = append(cs, gemmCase{tA: tA, tB: tB, m: s[0], n: s[1], k: s[2], padA: bi, padB: 2 * bi, padC: 3 - bi, beta: beta})
				}
			}
		}
	}
	return cs
}

// TestSgemm compares Sgemm with the float64 triple loop on every case, within float32 rounding of
// a k-term sum (|error| ≤ 2k·ε·Σ|a·b| per element, plus the beta term), and checks that C's
// padding is untouched.
func TestSgemm(t *testing.T) {
	t.Logf("path: %s", Kernel())
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range cases() {
		a, lda, b, ldb, c, ldc := g.operands(r)
		want := naive(g.tA, g.tB, g.m, g.n, g.k, a, lda, b, ldb, g.beta, c, ldc)
		// Bound per element from the magnitudes.
		absA, absB, absC := make([]float32, len(a)), make([]float32, len(b)), make([]float32, len(c))
		for i, v := range a {
			absA[i] = float32(math.Abs(float64(v)))
		}
		for i, v := range b {
			absB[i] = float32(math.Abs(float64(v)))
		}
		for i, v := range c {
			absC[i] = float32(math.Abs(float64(v)))
		}
		mag := naive(g.tA, g.tB, g.m, g.n, g.k, absA, lda, absB, ldb, float32(math.Abs(float64(g.beta))), absC, ldc)
		if g.beta == 0 { // beta 0 must not read C: poison it
			for i := 0; i < g.m; i++ {
				for j := 0; j < g.n; j++ {
					c[i*ldc+j] = float32(math.NaN())
				}
			}
		}
		Sgemm(g.tA, g.tB, g.m, g.n, g.k, a, lda, b, ldb, g.beta, c, ldc)
		eps := math.Pow(2, -23)
		for i := 0; i < g.m; i++ {
			for j := 0; j < ldc; j++ {
				got := float64(c[i*ldc+j])
				if j >= g.n {
					if got != 12345 {
						t.Fatalf("%v: padding C[%d][%d] = %v, want untouched", g, i, j, got)
					}
					continue
				}
				tol := 2*float64(g.k+2)*eps*mag[i*ldc+j] + 1e-30
				if d := math.Abs(got - want[i*ldc+j]); !(d <= tol) {
					t.Fatalf("%v: C[%d][%d] = %v, want %v (|diff| %g > %g)", g, i, j, got, want[i*ldc+j], d, tol)
				}
			}
		}
	}
}

// TestSgemmHandComputed checks one small product worked out by hand, in all four transpose forms.
func TestSgemmHandComputed(t *testing.T) {
	// A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12]: A·B = [58 64; 139 154].
	a, at := []float32{1, 2, 3, 4, 5, 6}, []float32{1, 4, 2, 5, 3, 6}
	b, bt := []float32{7, 8, 9, 10, 11, 12}, []float32{7, 9, 11, 8, 10, 12}
	want := []float32{58 + 0.5*1, 64 + 0.5*2, 139 + 0.5*3, 154 + 0.5*4}
	for _, tc := range []struct {
		tA, tB   bool
		a, b     []float32
		lda, ldb int
	}{{false, false, a, b, 3, 2}, {true, false, at, b, 2, 2}, {false, true, a, bt, 3, 3}, {true, true, at, bt, 2, 3}} {
		c := []float32{1, 2, 3, 4}
		Sgemm(tc.tA, tc.tB, 2, 2, 3, tc.a, tc.lda, tc.b, tc.ldb, 0.5, c, 2)
		for i := range c {
			if c[i] != want[i] {
				t.Fatalf("tA=%v tB=%v: C = %v, want %v", tc.tA, tc.tB, c, want)
			}
		}
	}
}

// TestSgemmThreadsSameBits: the result has the same bits on 1, 2, 3 and 8 goroutines.
func TestSgemmThreadsSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range []gemmCase{{m: 150, n: 1100, k: 600, beta: 1}, {tA: true, m: 72, n: 3000, k: 8}, {tB: true, m: 8, n: 72, k: 5000}, {tA: true, tB: true, m: 200, n: 600, k: 300, beta: 0.5}} {
		a, lda, b, ldb, c0, ldc := g.operands(r)
		var ref []float32
		for _, threads := range []int{1, 2, 3, 8} {
			c := append([]float32(nil), c0...)
			SgemmThreads(threads, g.tA, g.tB, g.m, g.n, g.k, a, lda, b, ldb, g.beta, c, ldc)
			if ref == nil {
				ref = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v: %d threads: C[%d] = %v, 1 thread gave %v", g, threads, i, c[i], ref[i])
				}
			}
		}
	}
}

// TestSgemmEmpty: k = 0 gives beta·C; m or n = 0 does nothing.
func TestSgemmEmpty(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, nil, 1, nil, 2, 0.5, c, 2)
	if c[0] != 0.5 || c[3] != 2 {
		t.Fatalf("k=0: C = %v, want 0.5·C", c)
	}
	Sgemm(false, false, 0, 2, 3, nil, 3, make([]float32, 6), 2, 0, nil, 2)
}

// TestSgemmBadArgs: matrices that do not fit their slices panic with the matrix named.
func TestSgemmBadArgs(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) != "sgemm: B has 5 values, a 3×2 matrix with stride 2 needs 6" {
			t.Fatalf("panic = %v", r)
		}
	}()
	Sgemm(false, false, 2, 2, 3, make([]float32, 6), 3, make([]float32, 5), 2, 0, make([]float32, 4), 2)
}

// TestPackExact checks the packed slivers value by value against their definition: op(A)'s sliver s
// holds op(A)[i0+s·mr+i, p0+p] at s·kc·mr + p·mr + i, op(B)'s holds op(B)[p0+p, j0+s·nr+j] at
// s·kc·nr + p·nr + j, zeros past the matrix. The blocked transposes (8 values at a time) must move
// exactly the values the value-by-value loops do, on block sizes with and without a remainder.
func TestPackExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, s := range [][3]int{{4, 24, 8}, {13, 50, 37}, {8, 72, 256}, {5, 23, 7}, {12, 31, 300}} {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				ra, ca, rb, cb := m, k, k, n
				if tA {
					ra, ca = k, m
				}
				if tB {
					rb, cb = n, k
				}
				lda, ldb := ca+1, cb+3
				g := geometry{tA: tA, tB: tB, m: m, n: n, k: k, a: randSlice(r, ra*lda), lda: lda, b: randSlice(r, rb*ldb), ldb: ldb}
				opA := func(i, p int) float32 {
					if tA {
						return g.a[p*lda+i]
					}
					return g.a[i*lda+p]
				}
				opB := func(p, j int) float32 {
					if tB {
						return g.b[j*ldb+p]
					}
					return g.b[p*ldb+j]
				}
				for p0 := 0; p0 < k; p0 += kc {
					kb := min(kc, k-p0)
					ap := randSlice(r, mc*kc)
					g.packA(ap, 0, p0, min(m, mc), kb)
					for i := 0; i < min(m, mc); i++ {
						for p := 0; p < kb; p++ {
							if got, want := ap[(i/mr)*kc*mr+p*mr+i%mr], opA(i, p0+p); got != want {
								t.Fatalf("%v tA=%v: packed A(%d, %d) = %v, want %v", s, tA, i, p0+p, got, want)
							}
						}
					}
					bp := randSlice(r, kc*nc)
					nb := min(n, nc)
					g.packB(bp, p0, 0, kb, nb)
					for j := 0; j < roundUp(nb, nr); j++ {
						for p := 0; p < kb; p++ {
							want := float32(0)
							if j < nb {
								want = opB(p0+p, j)
							}
							if got := bp[(j/nr)*kc*nr+p*nr+j%nr]; got != want {
								t.Fatalf("%v tB=%v: packed B(%d, %d) = %v, want %v", s, tB, p0+p, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestAxpyRowsExact checks AxpyRows against the scalar Go loop to the bit for row lengths 0 to
// 40 (the vector part and every tail), 1 to 3 rows with gaps between them in x and y, and values
// spread over many magnitudes so that a fused multiply-add would round differently; the values
// between and after the rows stay as they were.
func TestAxpyRowsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for n := 0; n <= 40; n++ {
		for rows := 1; rows <= 3; rows++ {
			ldx, ldy := n+r.IntN(3), n+2+r.IntN(3)
			x := make([]float32, rows*ldx+1)
			y := make([]float32, rows*ldy+1)
			for i := range x {
				x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-4)))
			}
			for i := range y {
				y[i] = float32(r.NormFloat64())
			}
			a := float32(r.NormFloat64())
			want := append([]float32(nil), y...)
			for row := 0; row < rows; row++ {
				for i := 0; i < n; i++ {
					want[row*ldy+i] += a * x[row*ldx+i]
				}
			}
			AxpyRows(rows, n, a, x, ldx, y, ldy)
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d rows=%d: y[%d] = %v, want %v (%s)", n, rows, i, y[i], want[i], Kernel())
				}
			}
		}
	}
}

// maskInputs returns x of n values and g of n+extra for the mask tests: normal values, about a
// third of x and a quarter of g's first n replaced by values drawn from special.
func maskInputs(r *rand.Rand, n, extra int, special []float32) (x, g []float32) {
	x, g = make([]float32, n), make([]float32, n+extra)
	for i := range x {
		x[i], g[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		if r.IntN(3) == 0 {
			x[i] = special[r.IntN(len(special))]
		}
		if r.IntN(4) == 0 {
			g[i] = special[r.IntN(len(special))]
		}
	}
	return x, g
}

// TestMaskMulExact checks MaskMul against the scalar loop to the bit on every length from 0 to
// 40, with x holding zeros of both signs, NaN, ±Inf and ordinary values, and g negative values
// (products by 0 give −0), NaN and Inf (Inf·0 is NaN).
func TestMaskMulExact(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -1, 1}
	for n := 0; n <= 40; n++ {
		x, g := maskInputs(r, n, 0, special)
		y := make([]float32, n+2)
		want := make([]float32, n+2)
		for i := range x {
			var m float32
			if x[i] >= 0 {
				m = 1
			}
			want[i] = g[i] * m
		}
		MaskMul(x, g, y)
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: y[%d] = %v for x %v, g %v; want %v (%s)", n, i, y[i], x[i], g[i], want[i], Kernel())
			}
		}
	}
}

// TestMaskPositiveExact checks MaskPositive against the definition, bit for bit, on every length to
// 40 (the assembly's blocks of 8 and the loop's tail), with x holding zeros of both signs, NaNs of
// both signs, ±Inf, the smallest subnormals and ordinary values, and g holding the same.
func TestMaskPositiveExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	special := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000),
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(1), math.Float32frombits(0x80000001), -1, 1}
	for n := 0; n <= 40; n++ {
		x, g := maskInputs(r, n, 2, special)
		g[n], g[n+1] = 5, -5
		want := slices.Clone(g)
		for i, v := range x {
			if !(v > 0 || (v != v && math.Float32bits(v)>>31 == 0)) {
				want[i] = 0
			}
		}
		MaskPositive(x, g)
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: g[%d] = %v (bits %#x) for x %v; want %v (%s)", n, i, g[i], math.Float32bits(g[i]), x[i], want[i], Kernel())
			}
		}
	}
}

// TestTranspose checks Transpose against its definition on 1 to 19 rows (whole blocks of 8 and
// the rest) and every length from 0 to 40 (the 8×8 transposes and every tail), with gaps between
// the rows of both; dst's gaps stay as they were.
func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, rows := range []int{1, 3, 8, 9, 16, 19} {
		for n := 0; n <= 40; n++ {
			lds, ldd := n+r.IntN(5), rows+r.IntN(3)
			src := make([]float32, (rows-1)*lds+n)
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			dst := make([]float32, n*ldd+3)
			for i := range dst {
				dst[i] = float32(i)
			}
			want := append([]float32(nil), dst...)
			for p := 0; p < n; p++ {
				for l := 0; l < rows; l++ {
					want[p*ldd+l] = src[l*lds+p]
				}
			}
			Transpose(rows, n, src, lds, dst, ldd)
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
					t.Fatalf("rows=%d n=%d lds=%d ldd=%d: dst[%d] = %v, want %v (%s)", rows, n, lds, ldd, i, dst[i], want[i], Kernel())
				}
			}
		}
	}
}

// TestDotLanes8Exact checks DotLanes8 against the scalar Go loop, lane by lane, to the bit: 1 to
// 3 rows of 1 to 20 steps, column steps of one and two groups (a stride-2 convolution), row
// strides with gaps, a starting acc that is not zero, and values spread over many magnitudes (with
// some ±0, ±Inf and NaN in x) so that a fused multiply-add or another order of the sum would round
// differently. A NaN matches any NaN.
func TestDotLanes8Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for rows := 1; rows <= 3; rows++ {
		for n := 1; n <= 20; n++ {
			for _, inc := range []int{8, 16} {
				ldx, ldg := (n-1)*inc+8+8*r.IntN(3), 8*n+8*r.IntN(3)
				x := make([]float32, (rows-1)*ldx+(n-1)*inc+8)
				g := make([]float32, (rows-1)*ldg+8*n)
				for i := range x {
					x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-4)))
					if r.IntN(50) == 0 {
						x[i] = special[r.IntN(len(special))]
					}
				}
				for i := range g {
					g[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(9)-4)))
				}
				var acc, want [8]float32
				for l := range acc {
					acc[l] = float32(r.NormFloat64())
				}
				want = acc
				for l := range want {
					for row := 0; row < rows; row++ {
						for j := 0; j < n; j++ {
							want[l] += x[row*ldx+j*inc+l] * g[row*ldg+8*j+l]
						}
					}
				}
				DotLanes8(rows, n, x, ldx, inc, g, ldg, &acc)
				for l := range acc {
					// Any NaN for a NaN: which operand's payload a NaN sum carries depends on the
					// order the compiler puts them in, and training stops at the first NaN.
					bothNaN := acc[l] != acc[l] && want[l] != want[l]
					if math.Float32bits(acc[l]) != math.Float32bits(want[l]) && !bothNaN {
						t.Fatalf("rows=%d n=%d inc=%d: lane %d = %v, want %v (%s)", rows, n, inc, l, acc[l], want[l], Kernel())
					}
				}
			}
		}
	}
}

// TestSgemmRows: a B gathered through row offsets (out of order, repeated, overlapping, as a
// convolution's shifted rows are) gives the bits of Sgemm on the same B copied out, on every
// non-transposed case, and C's padding survives. Without the micro-kernel SgemmRows reports false.
func TestSgemmRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, g := range cases() {
		if g.tB {
			continue
		}
		a, lda, _, _, c0, ldc := g.operands(r)
		src := randSlice(r, g.n+3*g.k+40)
		rows := make([]int, g.k)
		for p := range rows {
			rows[p] = r.IntN(len(src) - g.n + 1)
		}
		if g.k > 2 {
			rows[1] = rows[0] // a repeated row
		}
		b := make([]float32, max(1, g.k*g.n))
		for p, o := range rows {
			copy(b[p*g.n:(p+1)*g.n], src[o:])
		}
		want := append([]float32(nil), c0...)
		SgemmThreads(1, g.tA, false, g.m, g.n, g.k, a, lda, b, g.n, g.beta, want, ldc)
		got := append([]float32(nil), c0...)
		if !SgemmRows(g.tA, g.m, g.n, g.k, a, lda, src, rows, g.beta, got, ldc) {
			if useAsm {
				t.Fatal("SgemmRows reported no kernel on a build with one")
			}
			t.Skip("no micro-kernel on this build: SgemmRows reports false (checked)")
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: C[%d] = %v, Sgemm on the gathered B gives %v", g, i, got[i], want[i])
			}
		}
	}
}

// TestSgemmRowsBadRows: a row past the end of b panics with the row named.
func TestSgemmRowsBadRows(t *testing.T) {
	if !useAsm {
		t.Skip("no micro-kernel on this build")
	}
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) != "sgemm: B's row 1 at 4: 3 values from there, b has 6" {
			t.Fatalf("panic = %v", r)
		}
	}()
	SgemmRows(false, 2, 3, 2, make([]float32, 4), 2, make([]float32, 6), []int{0, 4}, 0, make([]float32, 6), 3)
}

// TestAdd checks Add against the scalar sums, bit for bit, on every length from 0 to 80 (the
// 32-value steps, the 8-value steps and every tail), both modes, with z apart from x and y and z
// the same slice as x; the values past len(x) stay as they were.
func TestAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1e38, -1e38, 1e-45}
	val := func() float32 {
		if r.IntN(8) == 0 {
			return special[r.IntN(len(special))]
		}
		return float32(r.NormFloat64())
	}
	for n := 0; n <= 80; n++ {
		for _, incr := range []bool{false, true} {
			for _, alias := range []bool{false, true} {
				x, y, z := make([]float32, n+3), make([]float32, n+3), make([]float32, n+3)
				for i := range x {
					x[i], y[i], z[i] = val(), val(), val()
				}
				if alias {
					z = x
				}
				want := slices.Clone(z)
				for i := 0; i < n; i++ {
					if incr {
						want[i] = z[i] + (x[i] + y[i])
					} else {
						want[i] = x[i] + y[i]
					}
				}
				Add(x[:n], y, z, incr)
				for i := range z {
					if math.Float32bits(z[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d incr=%v alias=%v: z[%d] = %v; want %v (%s)", n, incr, alias, i, z[i], want[i], Kernel())
					}
				}
			}
		}
	}
}

// TestSum3Mul checks Sum3 (with and without the scale) and Mul against the scalar loops, bit for
// bit, on every length from 0 to 40, with the inputs at overlapping offsets of one slice as
// boxPool reads them; the values past len(z) stay as they were.
func TestSum3Mul(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	for n := 0; n <= 40; n++ {
		x, s, z := make([]float32, n+5), make([]float32, n+3), make([]float32, n+3)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 100)
		}
		for i := range s {
			s[i], z[i] = float32(r.Float64()), float32(i)
		}
		for _, scale := range [][]float32{nil, s} {
			want := slices.Clone(z)
			for i := 0; i < n; i++ {
				want[i] = x[i] + x[i+1] + x[i+2]
				if scale != nil {
					want[i] *= s[i]
				}
			}
			got := slices.Clone(z)
			Sum3(x, x[1:], x[2:], scale, got[:n])
			if !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Fatalf("n=%d scale=%v: Sum3 = %v; want %v (%s)", n, scale != nil, got, want, Kernel())
			}
		}
		want := slices.Clone(z)
		for i := 0; i < n; i++ {
			want[i] = x[i] * s[i]
		}
		got := slices.Clone(z)
		Mul(x, s, got[:n])
		if !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Fatalf("n=%d: Mul = %v; want %v (%s)", n, got, want, Kernel())
		}
	}
}

// TestRelu checks Relu against Go's max(x, 0), bit for bit, on every length from 0 to 40 with
// signed zeros, NaNs of both signs, infinities and denormals among the values.
func TestRelu(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	special := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00002),
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(1), math.Float32frombits(0x80000001)}
	for n := 0; n <= 40; n++ {
		x, _ := maskInputs(r, n, 2, special)
		y := make([]float32, n+2)
		y[n], y[n+1] = 5, -5
		want := slices.Clone(y)
		for i := 0; i < n; i++ {
			want[i] = max(x[i], 0)
		}
		Relu(x, y[:n])
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: y[%d] = %v (bits %#x) for x %v; want bits %#x (%s)", n, i, y[i], math.Float32bits(y[i]), x[i], math.Float32bits(want[i]), Kernel())
			}
		}
	}
}

// TestBatchNormPasses checks Centre, Affine, Affine2 and BNGrad against their Go loops written
// out here, bit for bit, on every length from 0 to 40 (the 8-value steps and every tail), with
// the output apart from the inputs and the output the same slice as the first input; the values
// past the length stay as they were.
func TestBatchNormPasses(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	c := func() float32 { return float32(r.NormFloat64()) * 3 }
	a, b, s := c(), c(), c()
	passes := []struct {
		name string
		run  func(u, v, y []float32)
		want func(u, v float32) float32
	}{
		{"Centre", func(u, _, y []float32) { Centre(u, y, a, s) }, func(u, _ float32) float32 { return (u - a) * s }},
		{"Affine", func(u, _, y []float32) { Affine(u, y, a, b) }, func(u, _ float32) float32 { return u*a + b }},
		{"Affine2", func(u, v, y []float32) { Affine2(u, v, y, a, b, s) }, func(u, v float32) float32 { return a*u + b*v + s }},
		{"BNGrad", func(u, v, y []float32) { BNGrad(u, v, y, a, b, s) }, func(u, v float32) float32 { return s * (u - a - v*b) }},
	}
	for _, p := range passes {
		for n := 0; n <= 40; n++ {
			for _, alias := range []bool{false, true} {
				u, v, y := make([]float32, n+2), make([]float32, n+2), make([]float32, n+2)
				for i := range u {
					u[i], v[i], y[i] = c(), c(), float32(i)
				}
				if alias {
					y = u
				}
				want := slices.Clone(y)
				for i := 0; i < n; i++ {
					want[i] = p.want(u[i], v[i])
				}
				p.run(u, v, y[:n])
				for i := range y {
					if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s n=%d alias=%v: [%d] = %v; want %v (%s)", p.name, n, alias, i, y[i], want[i], Kernel())
					}
				}
			}
		}
	}
}

// TestArgMax3 checks ArgMax3 against the window loop written out here on every length from 0 to
// 40, on a plane of few distinct values (so that many windows tie and the first maximum in
// row-major order must win), with NaNs and infinities among them.
func TestArgMax3(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	vals := []float32{-1, 0, 1, 2, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), float32(math.Copysign(0, -1))}
	for n := 0; n <= 40; n++ {
		w := n + 2 + r.IntN(3)
		plane := make([]float32, 3*w)
		for i := range plane {
			plane[i] = vals[r.IntN(len(vals))]
			if r.IntN(2) == 0 {
				plane[i] = float32(r.IntN(3))
			}
		}
		base := 7
		want := make([]int32, n+1)
		for i := 0; i < n; i++ {
			best := i // window (0, 0)
			for d := 0; d < 3; d++ {
				for e := 0; e < 3; e++ {
					if k := d*w + i + e; plane[k] > plane[best] {
						best = k
					}
				}
			}
			want[i] = int32(base + best)
		}
		got := make([]int32, n+1)
		want[n], got[n] = -3, -3
		ArgMax3(plane, plane[w:], plane[2*w:], w, base, got[:n])
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d w=%d: ArgMax3 = %v; want %v (%s)", n, w, got, want, Kernel())
		}
	}
}

// TestCopyRows checks CopyRows on 1 to 5 rows of every length from 0 to 40 with gaps between the
// rows of both sides: the gaps of dst keep their values.
func TestCopyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 15))
	for rows := 1; rows <= 5; rows++ {
		for n := 0; n <= 40; n++ {
			lds, ldd := n+r.IntN(4), n+r.IntN(4)
			src := make([]float32, (rows-1)*lds+n)
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			dst := make([]float32, (rows-1)*ldd+n+2)
			for i := range dst {
				dst[i] = float32(-i)
			}
			want := slices.Clone(dst)
			for k := 0; k < rows; k++ {
				copy(want[k*ldd:k*ldd+n], src[k*lds:k*lds+n])
			}
			CopyRows(rows, n, src, lds, dst, ldd)
			if !slices.Equal(dst, want) {
				t.Fatalf("rows=%d n=%d lds=%d ldd=%d: %v; want %v (%s)", rows, n, lds, ldd, dst, want, Kernel())
			}
		}
	}
}
