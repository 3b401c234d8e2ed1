//go:build !amd64 || purego

package sgemm

// useAsm is false: Sgemm calls gonum's pure-Go Sgemm.
const useAsm = false

// kernel is never called without the assembly micro-kernel.
func kernel(k int, a, b []float32, ldb int, c []float32, ldc int) {
	panic("sgemm: no micro-kernel on this build")
}
