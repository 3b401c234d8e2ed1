//go:build openblas

package nn

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// With the openblas build tag the convolutions multiply matrices with OpenBLAS (cgo,
// libopenblas-dev) instead of package sgemm, computing on the calling thread only.
// OPENBLAS_NUM_THREADS=1 in the environment also keeps OpenBLAS from starting idle worker threads
// when the library loads (scripts/bench-train.sh sets it).
func init() {
	C.openblas_set_num_threads(1)
	blas32.Use(netlib.Implementation{})
	blas64.Use(netlib.Implementation{})
	sgemm32 = func(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		ta, tb := blas.NoTrans, blas.NoTrans
		if tA {
			ta = blas.Trans
		}
		if tB {
			tb = blas.Trans
		}
		blas32.Implementation().Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
	}
	sgemm32On1 = sgemm32
	sgemmRows32 = nil
}
