//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

// useAsm: the AVX2+FMA micro-kernel runs where the CPU (and the OS, for the ymm state) supports it.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern4x24 adds to the 4×24 tile at c (row stride ldc values) the product of the packed sliver a
// (k×4, row p at a[4p:]) and the k×24 block b (row p at b[p·ldb:]):
// c[i][j] += Σ_p a[4p+i]·b[p·ldb+j], with one fused multiply-add per term in increasing p,
// starting from c's value.
//
//go:noescape
func kern4x24(k int, a, b *float32, ldb int, c *float32, ldc int)

// kernel is kern4x24 on slices, checking that the slivers and the tile lie inside them.
func kernel(k int, a, b []float32, ldb int, c []float32, ldc int) {
	_ = a[k*mr-1]
	_ = b[(k-1)*ldb+nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kern4x24(k, &a[0], &b[0], ldb, &c[0], ldc)
}
