//go:build openblas

package nn

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// With the openblas build tag the convolutions multiply matrices with OpenBLAS (cgo,
// libopenblas-dev) instead of gonum's pure-Go BLAS, computing on the calling thread only.
// OPENBLAS_NUM_THREADS=1 in the environment also keeps OpenBLAS from starting idle worker threads
// when the library loads (scripts/bench-train.sh sets it).
func init() {
	C.openblas_set_num_threads(1)
	blas32.Use(netlib.Implementation{})
	blas64.Use(netlib.Implementation{})
}
