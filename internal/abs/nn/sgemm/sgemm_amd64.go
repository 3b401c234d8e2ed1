//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

// useAsm: the AVX2+FMA micro-kernel runs where the CPU (and the OS, for the ymm state) supports it.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern4x24 adds to the 4×24 tile at c (row stride ldc values) the product of the packed sliver a
// (k×4, row p at a[4p:]) and the k×24 block of b whose row p starts rows[p] values after b:
// c[i][j] += Σ_p a[4p+i]·b[rows[p]+j], with one fused multiply-add per term in increasing p,
// starting from c's value, or from +0 without reading c when load is false.
//
//go:noescape
func kern4x24(k int, a, b *float32, rows *int, c *float32, ldc int, load bool)

// kern4x24pf is kern4x24 prefetching, for each row of b, the 24 values after the next 24: the
// next sliver's, when b is read in place. The same sums.
//
//go:noescape
func kern4x24pf(k int, a, b *float32, rows *int, c *float32, ldc int, load bool)

// kernel is kern4x24 on slices (kern4x24pf when inPlace), checking that the slivers and the tile
// lie inside them: top is the largest of rows[:k].
func kernel(k int, a, b []float32, rows []int, top int, inPlace, load bool, c []float32, ldc int) {
	_ = a[k*mr-1]
	_ = rows[k-1]
	_ = b[top+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if inPlace {
		kern4x24pf(k, &a[0], &b[0], &rows[0], &c[0], ldc, load)
		return
	}
	kern4x24(k, &a[0], &b[0], &rows[0], &c[0], ldc, load)
}

// tr8 transposes 8×8 blocks: dst[(q+p)·ldd+j] = src[j·lds+q+p] for j, p < 8 and q = 0, 8, … n-8
// (n a multiple of 8).
//
//go:noescape
func tr8(n int, src *float32, lds int, dst *float32, ldd int)

// tr4 transposes 4 rows into groups of 4: dst[4p+i] = src[i·lds+p] for i < 4, p < n (n a multiple
// of 8).
//
//go:noescape
func tr4(n int, src *float32, lds int, dst *float32)

// transpose8 is tr8 on slices: the first n8 = n&^7 values of 8 rows of src (row stride lds) into
// n8 rows of 8 values of dst (row stride ldd). It returns n8; the caller does the rest.
func transpose8(n int, src []float32, lds int, dst []float32, ldd int) int {
	n8 := n &^ 7
	if n8 == 0 {
		return 0
	}
	_ = src[7*lds+n8-1]
	_ = dst[(n8-1)*ldd+7]
	tr8(n8, &src[0], lds, &dst[0], ldd)
	return n8
}

// transpose4 is tr4 on slices: the first n8 = n&^7 values of 4 rows of src (row stride lds) into
// dst[4p+i]. It returns n8; the caller does the rest.
func transpose4(n int, src []float32, lds int, dst []float32) int {
	n8 := n &^ 7
	if n8 == 0 {
		return 0
	}
	_ = src[3*lds+n8-1]
	_ = dst[4*n8-1]
	tr4(n8, &src[0], lds, &dst[0])
	return n8
}

// axpyRows adds a·x[r·ldx+i] to y[r·ldy+i] for r < rows, i < n, the product rounded before the sum.
//
//go:noescape
func axpyRows(rows, n int, a float32, x *float32, ldx int, y *float32, ldy int)

// axpyRowsVec is AxpyRows through the assembly; it reports false where there is none.
func axpyRowsVec(rows, n int, a float32, x []float32, ldx int, y []float32, ldy int) bool {
	if !useAsm {
		return false
	}
	_ = x[(rows-1)*ldx+n-1]
	_ = y[(rows-1)*ldy+n-1]
	axpyRows(rows, n, a, &x[0], ldx, &y[0], ldy)
	return true
}

// maskMul8 sets y[i] = gy[i]·[x[i] ≥ 0] for i < n (n a multiple of 8).
//
//go:noescape
func maskMul8(n int, x, gy, y *float32)

// maskPos8 sets grad[i] to +0 where the bits of x[i], read as an int32, are not positive, for i < n
// (n a multiple of 8): an integer compare and a bitwise and.
//
//go:noescape
func maskPos8(n int, x, grad *float32)

// maskPositiveVec does the first len(x)&^7 values of MaskPositive with the assembly and returns how
// many.
func maskPositiveVec(x, g []float32) int {
	n8 := len(x) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_ = g[n8-1]
	maskPos8(n8, &x[0], &g[0])
	return n8
}

// maskMulVec does the first len(x)&^7 values of MaskMul with the assembly and returns how many.
func maskMulVec(x, g, y []float32) int {
	n8 := len(x) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_, _ = g[n8-1], y[n8-1]
	maskMul8(n8, &x[0], &g[0], &y[0])
	return n8
}

// dotLanes8 is DotLanes8's loop: acc[l] += x[r·ldx+j·incx+l]·g[r·ldg+8j+l] for r < rows, j < n
// (both at least 1), a VMULPS then a VADDPS per step.
//
//go:noescape
func dotLanes8(rows, n int, x *float32, ldx, incx int, gp *float32, ldg int, acc *[8]float32)

// dotLanes8Vec is DotLanes8 through the assembly; it reports false where there is none.
func dotLanes8Vec(rows, n int, x []float32, ldx, incx int, g []float32, ldg int, acc *[8]float32) bool {
	if !useAsm {
		return false
	}
	dotLanes8(rows, n, &x[0], ldx, incx, &g[0], ldg, acc)
	return true
}

// add8 sets z[i] = x[i] + y[i], or z[i] += x[i] + y[i] when incr, for i < n (n a multiple of 8).
//
//go:noescape
func add8(n int, x, y, z *float32, incr bool)

// addVec does the first len(x)&^7 values of Add with the assembly and returns how many.
func addVec(x, y, z []float32, incr bool) int {
	n8 := len(x) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_, _ = y[n8-1], z[n8-1]
	add8(n8, &x[0], &y[0], &z[0], incr)
	return n8
}

// sum3x8 sets z[i] = (a[i] + b[i] + c[i])·s[i], without the product when s is nil, for i < n (n a
// multiple of 8).
//
//go:noescape
func sum3x8(n int, a, b, c, s, z *float32)

// sum3Vec does the first len(z)&^7 values of Sum3 with the assembly and returns how many.
func sum3Vec(a, b, c, s, z []float32) int {
	n8 := len(z) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_, _, _ = a[n8-1], b[n8-1], c[n8-1]
	var sp *float32
	if s != nil {
		_ = s[n8-1]
		sp = &s[0]
	}
	sum3x8(n8, &a[0], &b[0], &c[0], sp, &z[0])
	return n8
}

// mul8 sets z[i] = x[i]·s[i] for i < n (n a multiple of 8).
//
//go:noescape
func mul8(n int, x, s, z *float32)

// mulVec does the first len(z)&^7 values of Mul with the assembly and returns how many.
func mulVec(x, s, z []float32) int {
	n8 := len(z) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_, _ = x[n8-1], s[n8-1]
	mul8(n8, &x[0], &s[0], &z[0])
	return n8
}

// relu8 sets y[i] = max(x[i], 0) for i < n (n a multiple of 8).
//
//go:noescape
func relu8(n int, x, y *float32)

// reluVec does the first len(y)&^7 values of Relu with the assembly and returns how many.
func reluVec(x, y []float32) int {
	n8 := len(y) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_ = x[n8-1]
	relu8(n8, &x[0], &y[0])
	return n8
}

// centre8 sets y[i] = (x[i] − m)·s for i < n (n a multiple of 8).
//
//go:noescape
func centre8(n int, x, y *float32, m, s float32)

// affine8 sets y[i] = x[i]·a + b for i < n (n a multiple of 8).
//
//go:noescape
func affine8(n int, x, y *float32, a, b float32)

// affine2x8 sets y[i] = a·gy[i] + p·x[i] + q for i < n (n a multiple of 8).
//
//go:noescape
func affine2x8(n int, gy, x, y *float32, a, p, q float32)

// bnGrad8 sets d[i] = s·(gy[i] − a − z[i]·b) for i < n (n a multiple of 8).
//
//go:noescape
func bnGrad8(n int, gy, z, d *float32, a, b, s float32)

// The …Vec functions do the first len(y)&^7 values of their exported function with the assembly
// and return how many.

func centreVec(x, y []float32, m, s float32) int {
	n8 := len(y) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_ = x[n8-1]
	centre8(n8, &x[0], &y[0], m, s)
	return n8
}

func affineVec(x, y []float32, a, b float32) int {
	n8 := len(y) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_ = x[n8-1]
	affine8(n8, &x[0], &y[0], a, b)
	return n8
}

func affine2Vec(g, x, y []float32, a, p, q float32) int {
	n8 := len(y) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_, _ = g[n8-1], x[n8-1]
	affine2x8(n8, &g[0], &x[0], &y[0], a, p, q)
	return n8
}

func bnGradVec(g, z, d []float32, a, b, s float32) int {
	n8 := len(d) &^ 7
	if n8 == 0 || !useAsm {
		return 0
	}
	_, _ = g[n8-1], z[n8-1]
	bnGrad8(n8, &g[0], &z[0], &d[0], a, b, s)
	return n8
}

// argMax3x8 sets idx[t], for t < n (n a multiple of 8), to base + d·w + t + e for the first strict
// maximum of r_d[t+e] over d, e < 3 in row-major order.
//
//go:noescape
func argMax3x8(n int, r0, r1, r2 *float32, w, base int, idx *int32)

// argMax3Vec does the windows of ArgMax3 with the assembly, when there are at least 8, and returns
// how many: all, the last 8 done again from len(idx)−8 where 8 does not divide len(idx) (the same
// results).
func argMax3Vec(r0, r1, r2 []float32, w, base int, idx []int32) int {
	n := len(idx)
	if n < 8 || !useAsm {
		return 0
	}
	_, _, _ = r0[n+1], r1[n+1], r2[n+1]
	argMax3x8(n&^7, &r0[0], &r1[0], &r2[0], w, base, &idx[0])
	if t := n - 8; n%8 != 0 {
		argMax3x8(8, &r0[t], &r1[t], &r2[t], w, base+t, &idx[t])
	}
	return n
}

// copyRows copies n values from each of rows rows of src (row stride lds) to dst (row stride ldd).
//
//go:noescape
func copyRows(rows, n int, src *float32, lds int, dst *float32, ldd int)

// copyRowsVec is CopyRows through the assembly; it reports false where there is none.
func copyRowsVec(rows, n int, src []float32, lds int, dst []float32, ldd int) bool {
	if !useAsm {
		return false
	}
	_, _ = src[(rows-1)*lds+n-1], dst[(rows-1)*ldd+n-1]
	copyRows(rows, n, &src[0], lds, &dst[0], ldd)
	return true
}
