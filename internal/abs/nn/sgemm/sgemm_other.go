//go:build !amd64 || purego

package sgemm

// useAsm is false: Sgemm calls gonum's pure-Go Sgemm.
const useAsm = false

// kernel is never called without the assembly micro-kernel.
func kernel(k int, a, b []float32, rows []int, top int, inPlace, load bool, c []float32, ldc int) {
	panic("sgemm: no micro-kernel on this build")
}

// transpose8 and transpose4 do nothing without the assembly: the packing loops do all the values.
func transpose8(n int, src []float32, lds int, dst []float32, ldd int) int { return 0 }

func transpose4(n int, src []float32, lds int, dst []float32) int { return 0 }

// axpyRowsVec does nothing without the assembly: AxpyRows' loop does all the values.
func axpyRowsVec(rows, n int, a float32, x []float32, ldx int, y []float32, ldy int) bool {
	return false
}

// maskMulVec does nothing without the assembly: MaskMul's loop does all the values.
func maskMulVec(x, g, y []float32) int { return 0 }

// maskPositiveVec does nothing without the assembly: MaskPositive's loop does all the values.
func maskPositiveVec(x, g []float32) int { return 0 }

// dotLanes8Vec does nothing without the assembly: DotLanes8's loop does all the values.
func dotLanes8Vec(rows, n int, x []float32, ldx, incx int, g []float32, ldg int, acc *[8]float32) bool {
	return false
}

// addVec does nothing without the assembly: Add's loop does all the values.
func addVec(x, y, z []float32, incr bool) int { return 0 }

// sum3Vec does nothing without the assembly: Sum3's loop does all the values.
func sum3Vec(a, b, c, s, z []float32) int { return 0 }

// mulVec does nothing without the assembly: Mul's loop does all the values.
func mulVec(x, s, z []float32) int { return 0 }

// reluVec does nothing without the assembly: Relu's loop does all the values.
func reluVec(x, y []float32) int { return 0 }

// Without the assembly the …Vec functions do nothing: the exported functions' loops do all the
// values.

func centreVec(x, y []float32, m, s float32) int { return 0 }

func affineVec(x, y []float32, a, b float32) int { return 0 }

func affine2Vec(g, x, y []float32, a, p, q float32) int { return 0 }

func bnGradVec(g, z, d []float32, a, b, s float32) int { return 0 }

// argMax3Vec does nothing without the assembly: ArgMax3's loop does all the windows.
func argMax3Vec(r0, r1, r2 []float32, w, base int, idx []int32) int { return 0 }

// copyRowsVec does nothing without the assembly: CopyRows copies row by row.
func copyRowsVec(rows, n int, src []float32, lds int, dst []float32, ldd int) bool { return false }
