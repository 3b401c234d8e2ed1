//go:build amd64 && !purego

#include "textflag.h"

// The 4×24 micro-kernel: Y4..Y15 hold the tile (three ymm per row), Y0..Y2 a row of b (row p at
// b + rows[p] values), Y3 a broadcast value of a.
#define KERN_ARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), SI; \
	MOVQ b+16(FP), DI; \
	MOVQ rows+24(FP), R11; \
	MOVQ c+32(FP), DX; \
	MOVQ ldc+40(FP), R8; \
	SHLQ $2, R8

#define KERN_ROW(ptr, r0, r1, r2) \
	VMOVUPS (ptr), r0; \
	VMOVUPS 32(ptr), r1; \
	VMOVUPS 64(ptr), r2

#define KERN_STORE_ROW(ptr, r0, r1, r2) \
	VMOVUPS r0, (ptr); \
	VMOVUPS r1, 32(ptr); \
	VMOVUPS r2, 64(ptr)

// The tile from c, or zeros when the argument load is 0 (c is then not read).
#define KERN_LOAD_C(zero) \
	MOVQ DX, R9; \
	MOVBQZX load+48(FP), AX; \
	TESTQ AX, AX; \
	JEQ zero; \
	KERN_ROW(R9, Y4, Y5, Y6); \
	ADDQ R8, R9; \
	KERN_ROW(R9, Y7, Y8, Y9); \
	ADDQ R8, R9; \
	KERN_ROW(R9, Y10, Y11, Y12); \
	ADDQ R8, R9; \
	KERN_ROW(R9, Y13, Y14, Y15)

#define KERN_ZERO_C \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11; \
	VXORPS Y12, Y12, Y12; \
	VXORPS Y13, Y13, Y13; \
	VXORPS Y14, Y14, Y14; \
	VXORPS Y15, Y15, Y15

#define KERN_STORE_C \
	MOVQ DX, R9; \
	KERN_STORE_ROW(R9, Y4, Y5, Y6); \
	ADDQ R8, R9; \
	KERN_STORE_ROW(R9, Y7, Y8, Y9); \
	ADDQ R8, R9; \
	KERN_STORE_ROW(R9, Y10, Y11, Y12); \
	ADDQ R8, R9; \
	KERN_STORE_ROW(R9, Y13, Y14, Y15); \
	VZEROUPPER

// One step p: the row of b is at R13.
#define KERN_STEP \
	KERN_ROW(R13, Y0, Y1, Y2); \
	VBROADCASTSS (SI), Y3; \
	VFMADD231PS Y0, Y3, Y4; \
	VFMADD231PS Y1, Y3, Y5; \
	VFMADD231PS Y2, Y3, Y6; \
	VBROADCASTSS 4(SI), Y3; \
	VFMADD231PS Y0, Y3, Y7; \
	VFMADD231PS Y1, Y3, Y8; \
	VFMADD231PS Y2, Y3, Y9; \
	VBROADCASTSS 8(SI), Y3; \
	VFMADD231PS Y0, Y3, Y10; \
	VFMADD231PS Y1, Y3, Y11; \
	VFMADD231PS Y2, Y3, Y12; \
	VBROADCASTSS 12(SI), Y3; \
	VFMADD231PS Y0, Y3, Y13; \
	VFMADD231PS Y1, Y3, Y14; \
	VFMADD231PS Y2, Y3, Y15; \
	ADDQ $16, SI; \
	ADDQ $8, R11

// func kern4x24(k int, a, b *float32, rows *int, c *float32, ldc int, load bool)
// b is a packed sliver (in cache).
TEXT ·kern4x24(SB), NOSPLIT, $0-49
	KERN_ARGS
	KERN_LOAD_C(kzero)
	JMP kstart
kzero:
	KERN_ZERO_C
kstart:
	TESTQ CX, CX
	JEQ kdone
kloop:
	MOVQ (R11), R12
	LEAQ (DI)(R12*4), R13
	KERN_STEP
	DECQ CX
	JNE kloop
kdone:
	KERN_STORE_C
	RET

// func kern4x24pf(k int, a, b *float32, rows *int, c *float32, ldc int, load bool)
// kern4x24 for a b read in place: each step also prefetches the next 24 values of its row (the
// next sliver's).
TEXT ·kern4x24pf(SB), NOSPLIT, $0-49
	KERN_ARGS
	KERN_LOAD_C(pzero)
	JMP pstart
pzero:
	KERN_ZERO_C
pstart:
	TESTQ CX, CX
	JEQ pdone
ploop:
	MOVQ (R11), R12
	LEAQ (DI)(R12*4), R13
	PREFETCHT0 192(R13)
	PREFETCHT0 256(R13)
	KERN_STEP
	DECQ CX
	JNE ploop
pdone:
	KERN_STORE_C
	RET

// func tr8(n int, src *float32, lds int, dst *float32, ldd int)
// Transposes n/8 blocks of 8×8 (n a multiple of 8): dst[(q+p)·ldd+j] = src[j·lds+q+p] for j, p < 8,
// q = 0, 8, … n-8. Rows of src are read and rows of dst written 8 values at a time.
TEXT ·tr8(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R9
	SHLQ $2, R9
	LEAQ (R8)(R8*2), R10
	LEAQ (R9)(R9*2), R11
	SHRQ $3, CX
	JEQ tr8done
tr8loop:
	MOVQ SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	VMOVUPS (AX)(R10*1), Y3
	LEAQ (AX)(R8*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R8*1), Y5
	VMOVUPS (AX)(R8*2), Y6
	VMOVUPS (AX)(R10*1), Y7
	// per 128-bit lane: pairs of rows interleaved
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	// per lane: columns of four rows (Y0 = column 0 | column 4 of rows 0-3, …)
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	// whole columns: rows 0-3 from the first four, rows 4-7 from the second
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ DI, BX
	VMOVUPS Y8, (BX)
	VMOVUPS Y9, (BX)(R9*1)
	VMOVUPS Y10, (BX)(R9*2)
	VMOVUPS Y11, (BX)(R11*1)
	LEAQ (BX)(R9*4), BX
	VMOVUPS Y12, (BX)
	VMOVUPS Y13, (BX)(R9*1)
	VMOVUPS Y14, (BX)(R9*2)
	VMOVUPS Y15, (BX)(R11*1)
	ADDQ $32, SI
	LEAQ (DI)(R9*8), DI
	DECQ CX
	JNE tr8loop
tr8done:
	VZEROUPPER
	RET

// func tr4(n int, src *float32, lds int, dst *float32)
// Transposes 4 rows of n values (n a multiple of 8) into n contiguous groups of 4:
// dst[4p+i] = src[i·lds+p] for i < 4, p < n.
TEXT ·tr4(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R10
	SHRQ $3, CX
	JEQ tr4done
tr4loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VUNPCKLPS Y1, Y0, Y4
	VUNPCKHPS Y1, Y0, Y5
	VUNPCKLPS Y3, Y2, Y6
	VUNPCKHPS Y3, Y2, Y7
	// Y0 = column p | p+4, Y1 = p+1 | p+5, Y2 = p+2 | p+6, Y3 = p+3 | p+7
	VSHUFPS $0x44, Y6, Y4, Y0
	VSHUFPS $0xEE, Y6, Y4, Y1
	VSHUFPS $0x44, Y7, Y5, Y2
	VSHUFPS $0xEE, Y7, Y5, Y3
	VPERM2F128 $0x20, Y1, Y0, Y4
	VPERM2F128 $0x20, Y3, Y2, Y5
	VPERM2F128 $0x31, Y1, Y0, Y6
	VPERM2F128 $0x31, Y3, Y2, Y7
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	VMOVUPS Y6, 64(DI)
	VMOVUPS Y7, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ CX
	JNE tr4loop
tr4done:
	VZEROUPPER
	RET

// func axpyRows(rows, n int, a float32, x *float32, ldx int, y *float32, ldy int)
// y[r·ldy+i] += a·x[r·ldx+i] for r < rows, i < n, each product rounded before the sum (VMULPS
// then VADDPS, no fused multiply-add; the last n mod 8 values of a row with VMULSS, VADDSS), as
// Go's scalar loop computes it.
TEXT ·axpyRows(SB), NOSPLIT, $0-56
	MOVQ rows+0(FP), R8
	MOVQ n+8(FP), CX
	VBROADCASTSS a+16(FP), Y0
	MOVQ x+24(FP), SI
	MOVQ ldx+32(FP), R9
	SHLQ $2, R9
	MOVQ y+40(FP), DI
	MOVQ ldy+48(FP), R10
	SHLQ $2, R10
	TESTQ R8, R8
	JEQ rowsdone
rowsloop:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ CX, DX
	SHRQ $3, DX
	JEQ rowstail
rowsvec:
	VMULPS (AX), Y0, Y1
	VADDPS (BX), Y1, Y1
	VMOVUPS Y1, (BX)
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ DX
	JNE rowsvec
rowstail:
	MOVQ CX, DX
	ANDQ $7, DX
	JEQ rowsnext
rowsscalar:
	VMULSS (AX), X0, X1
	VADDSS (BX), X1, X1
	VMOVSS X1, (BX)
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ DX
	JNE rowsscalar
rowsnext:
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ R8
	JNE rowsloop
rowsdone:
	VZEROUPPER
	RET

// func maskMul8(n int, x, gy, y *float32)
// y[i] = gy[i]·m for i < n (n a multiple of 8), m = 1 where x[i] ≥ 0 (ordered: not for NaN) and
// 0 elsewhere: the product by 1 or 0 that the scalar loop computes, so −0 and NaN come out alike.
TEXT ·maskMul8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ gy+16(FP), DX
	MOVQ y+24(FP), DI
	VXORPS Y5, Y5, Y5
	MOVL $0x3f800000, AX
	VMOVD AX, X6
	VBROADCASTSS X6, Y6
	SHRQ $3, CX
	JEQ maskdone
maskloop:
	VMOVUPS (SI), Y1
	VCMPPS $0x1d, Y5, Y1, Y2
	VANDPS Y6, Y2, Y2
	VMULPS (DX), Y2, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE maskloop
maskdone:
	VZEROUPPER
	RET

// func maskPos8(n int, x, grad *float32)
// grad[i] = grad[i] & m for i < n (n a multiple of 8), m all ones where the bits of x[i] as an int32 are
// greater than 0 (x > 0, or a NaN with the sign bit clear) and 0 elsewhere: the scalar loop's
// bits, +0 where the gradient is cut.
TEXT ·maskPos8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ grad+16(FP), DX
	VPXOR Y5, Y5, Y5
	SHRQ $3, CX
	JEQ posdone
posloop:
	VMOVDQU (SI), Y1
	VPCMPGTD Y5, Y1, Y2
	VPAND (DX), Y2, Y3
	VMOVDQU Y3, (DX)
	ADDQ $32, SI
	ADDQ $32, DX
	DECQ CX
	JNE posloop
posdone:
	VZEROUPPER
	RET

// func dotLanes8(rows, n int, x *float32, ldx, incx int, gp *float32, ldg int, acc *[8]float32)
// acc[l] += x[r·ldx+j·incx+l]·g[r·ldg+8j+l] for r < rows, j < n (both at least 1), in increasing r
// then j: one VMULPS and one VADDPS per step (no fused multiply-add), as Go's loop computes each
// lane.
TEXT ·dotLanes8(SB), NOSPLIT, $0-64
	MOVQ rows+0(FP), R8
	MOVQ n+8(FP), CX
	MOVQ x+16(FP), SI
	MOVQ ldx+24(FP), R9
	SHLQ $2, R9
	MOVQ incx+32(FP), R11
	SHLQ $2, R11
	MOVQ gp+40(FP), DI
	MOVQ ldg+48(FP), R10
	SHLQ $2, R10
	MOVQ acc+56(FP), DX
	VMOVUPS (DX), Y0
lanesrow:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ CX, R12
lanescol:
	VMOVUPS (AX), Y1
	VMULPS (BX), Y1, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R11, AX
	ADDQ $32, BX
	DECQ R12
	JNE lanescol
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ R8
	JNE lanesrow
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func add8(n int, x, y, z *float32, incr bool)
// z[i] = x[i] + y[i] for i < n (n a multiple of 8), or z[i] = z[i] + (x[i] + y[i]) when incr: the
// scalar loop's sums, in its order, 32 values a step and 8 at a time for the rest (incr is tested
// in the loop: the branch always goes the same way).
TEXT ·add8(SB), NOSPLIT, $0-33
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ z+24(FP), DI
	MOVBLZX incr+32(FP), AX
	MOVQ CX, BX
	SHRQ $5, BX
	ANDQ $31, CX
	SHRQ $3, CX
	TESTQ BX, BX
	JEQ add8tail
add32loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	VADDPS 64(DX), Y2, Y2
	VADDPS 96(DX), Y3, Y3
	TESTQ AX, AX
	JEQ add32store
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	VADDPS 64(DI), Y2, Y2
	VADDPS 96(DI), Y3, Y3
add32store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ BX
	JNE add32loop
add8tail:
	TESTQ CX, CX
	JEQ adddone
add8loop:
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	TESTQ AX, AX
	JEQ add8store
	VADDPS (DI), Y0, Y0
add8store:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE add8loop
adddone:
	VZEROUPPER
	RET

// func sum3x8(n int, a, b, c, s, z *float32)
// z[i] = (a[i] + b[i] + c[i])·s[i] for i < n (n a multiple of 8), or without the product when s is
// nil: the scalar loop's sums, left to right, then the product, 8 values at a time.
TEXT ·sum3x8(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), R8
	MOVQ s+32(FP), R9
	MOVQ z+40(FP), DI
	SHRQ $3, CX
	JEQ sum3done
sum3loop:
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	VADDPS (R8), Y0, Y0
	TESTQ R9, R9
	JEQ sum3store
	VMULPS (R9), Y0, Y0
	ADDQ $32, R9
sum3store:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, DI
	DECQ CX
	JNE sum3loop
sum3done:
	VZEROUPPER
	RET

// func mul8(n int, x, s, z *float32)
// z[i] = x[i]·s[i] for i < n (n a multiple of 8), 8 values at a time.
TEXT ·mul8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ z+24(FP), DI
	SHRQ $3, CX
	JEQ muldone
mulloop:
	VMOVUPS (SI), Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE mulloop
muldone:
	VZEROUPPER
	RET

// func relu8(n int, x, y *float32)
// y[i] = max(x[i], 0) for i < n (n a multiple of 8) with the bits of Go's max on amd64, which the
// compiler computes as −min(−x, −0) with two MINSS and an OR (+0 for ±0 and negative values, a NaN
// with its sign bit cleared): the same instructions, 8 lanes at a time.
TEXT ·relu8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVL $0x80000000, AX
	VMOVD AX, X7
	VBROADCASTSS X7, Y7
	SHRQ $3, CX
	JEQ reludone
reluloop:
	VXORPS (SI), Y7, Y0
	VMINPS Y7, Y0, Y1
	VMINPS Y0, Y1, Y2
	VORPS Y1, Y2, Y2
	VXORPS Y7, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE reluloop
reludone:
	VZEROUPPER
	RET

// func centre8(n int, x, y *float32, m, s float32)
// y[i] = (x[i] − m)·s for i < n (n a multiple of 8): VSUBPS then VMULPS, as the Go loop rounds.
TEXT ·centre8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VBROADCASTSS m+24(FP), Y6
	VBROADCASTSS s+28(FP), Y7
	SHRQ $3, CX
	JEQ centredone
centreloop:
	VMOVUPS (SI), Y0
	VSUBPS Y6, Y0, Y0
	VMULPS Y7, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE centreloop
centredone:
	VZEROUPPER
	RET

// func affine8(n int, x, y *float32, a, b float32)
// y[i] = x[i]·a + b for i < n (n a multiple of 8): the product rounded before the sum (no fused
// multiply-add), as the Go loop computes it.
TEXT ·affine8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VBROADCASTSS a+24(FP), Y6
	VBROADCASTSS b+28(FP), Y7
	SHRQ $3, CX
	JEQ affinedone
affineloop:
	VMULPS (SI), Y6, Y0
	VADDPS Y7, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE affineloop
affinedone:
	VZEROUPPER
	RET

// func affine2x8(n int, gy, x, y *float32, a, p, q float32)
// y[i] = a·gy[i] + p·x[i] + q for i < n (n a multiple of 8): both products rounded, then the sums
// left to right, as the Go loop computes it.
TEXT ·affine2x8(SB), NOSPLIT, $0-44
	MOVQ n+0(FP), CX
	MOVQ gy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ y+24(FP), DI
	VBROADCASTSS a+32(FP), Y5
	VBROADCASTSS p+36(FP), Y6
	VBROADCASTSS q+40(FP), Y7
	SHRQ $3, CX
	JEQ affine2done
affine2loop:
	VMULPS (SI), Y5, Y0
	VMULPS (DX), Y6, Y1
	VADDPS Y1, Y0, Y0
	VADDPS Y7, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE affine2loop
affine2done:
	VZEROUPPER
	RET

// func bnGrad8(n int, gy, z, d *float32, a, b, s float32)
// d[i] = s·(gy[i] − a − z[i]·b) for i < n (n a multiple of 8): gy − a, then the product z·b rounded
// and subtracted, then the product by s, as the Go loop computes it.
TEXT ·bnGrad8(SB), NOSPLIT, $0-44
	MOVQ n+0(FP), CX
	MOVQ gy+8(FP), SI
	MOVQ z+16(FP), DX
	MOVQ d+24(FP), DI
	VBROADCASTSS a+32(FP), Y5
	VBROADCASTSS b+36(FP), Y6
	VBROADCASTSS s+40(FP), Y7
	SHRQ $3, CX
	JEQ bngraddone
bngradloop:
	VMOVUPS (SI), Y0
	VSUBPS Y5, Y0, Y0
	VMULPS (DX), Y6, Y1
	VSUBPS Y1, Y0, Y0
	VMULPS Y0, Y7, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE bngradloop
bngraddone:
	VZEROUPPER
	RET

// iota8 is the int32 lanes 0, 1, …, 7.
DATA iota8<>+0(SB)/4, $0
DATA iota8<>+4(SB)/4, $1
DATA iota8<>+8(SB)/4, $2
DATA iota8<>+12(SB)/4, $3
DATA iota8<>+16(SB)/4, $4
DATA iota8<>+20(SB)/4, $5
DATA iota8<>+24(SB)/4, $6
DATA iota8<>+28(SB)/4, $7
GLOBL iota8<>(SB), RODATA|NOPTR, $32

// MAXCAND compares the 8 window values at src with the best so far (Y0, their indices in Y1) and
// takes those strictly greater (an ordered compare: a NaN never wins), with their indices idx.
#define MAXCAND(src, idx) \
	VMOVUPS src, Y2; \
	VCMPPS $0x1e, Y0, Y2, Y3; \
	VBLENDVPS Y3, Y2, Y0, Y0; \
	VBLENDVPS Y3, idx, Y1, Y1

// func argMax3x8(n int, r0, r1, r2 *float32, w, base int, idx *int32)
// For t < n (n a multiple of 8), idx[t] = the index base + d·w + t + e of the first strict maximum
// of the 3×3 window r_d[t+e] (d, e < 3), in row-major order from (0, 0): the scalar loop's
// comparisons, 8 windows side by side.
TEXT ·argMax3x8(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DX
	MOVQ r2+24(FP), R8
	MOVQ w+32(FP), AX
	MOVQ base+40(FP), BX
	MOVQ idx+48(FP), DI
	VMOVD AX, X4
	VPBROADCASTD X4, Y14
	MOVL $1, AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y12
	MOVL $2, AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y11
	MOVL $8, AX
	VMOVD AX, X4
	VPBROADCASTD X4, Y10
	// Y15 = base + [0 1 … 7]
	VMOVD BX, X4
	VPBROADCASTD X4, Y15
	VPADDD iota8<>(SB), Y15, Y15
	SHRQ $3, CX
	JEQ argdone
argloop:
	VMOVUPS (SI), Y0
	VMOVDQU Y15, Y1
	VPADDD Y12, Y15, Y4
	MAXCAND(4(SI), Y4)
	VPADDD Y11, Y15, Y4
	MAXCAND(8(SI), Y4)
	VPADDD Y14, Y15, Y9
	MAXCAND((DX), Y9)
	VPADDD Y12, Y9, Y4
	MAXCAND(4(DX), Y4)
	VPADDD Y11, Y9, Y4
	MAXCAND(8(DX), Y4)
	VPADDD Y14, Y9, Y9
	MAXCAND((R8), Y9)
	VPADDD Y12, Y9, Y4
	MAXCAND(4(R8), Y4)
	VPADDD Y11, Y9, Y4
	MAXCAND(8(R8), Y4)
	VMOVDQU Y1, (DI)
	VPADDD Y10, Y15, Y15
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, DI
	DECQ CX
	JNE argloop
argdone:
	VZEROUPPER
	RET

// func copyRows(rows, n int, src *float32, lds int, dst *float32, ldd int)
// dst[r·ldd+i] = src[r·lds+i] for r < rows, i < n: 8 values a move, the last n mod 8 one by one.
TEXT ·copyRows(SB), NOSPLIT, $0-48
	MOVQ rows+0(FP), R8
	MOVQ n+8(FP), CX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ dst+32(FP), DI
	MOVQ ldd+40(FP), R10
	SHLQ $2, R10
	TESTQ R8, R8
	JEQ copydone
copyrow:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ CX, DX
	SHRQ $3, DX
	JEQ copytail
copyvec:
	VMOVUPS (AX), Y0
	VMOVUPS Y0, (BX)
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ DX
	JNE copyvec
copytail:
	MOVQ CX, DX
	ANDQ $7, DX
	JEQ copynext
copyscalar:
	MOVL (AX), R11
	MOVL R11, (BX)
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ DX
	JNE copyscalar
copynext:
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ R8
	JNE copyrow
copydone:
	VZEROUPPER
	RET
