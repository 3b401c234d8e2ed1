package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Init selects how convolution and linear weights are initialised. Batch-norm scales start at 1;
// batch-norm shifts and the classifier bias at 0.
type Init int

const (
	// KaimingNormal draws w ~ N(0, 2/fan_in) (He et al. 2015; PyTorch's kaiming_normal_ with its
	// defaults), where fan_in = C_in·k·k for a convolution and the input width for a linear layer.
	KaimingNormal Init = iota
	// XavierUniform draws w ~ U(−a, a) with a = √(6/(fan_in+fan_out)) (Glorot & Bengio 2010).
	XavierUniform
	// Orthogonal sets the weight, flattened to C_out rows, to a random matrix with orthonormal rows
	// (or columns, when there are more rows than columns) (Saxe et al. 2014), gain 1.
	Orthogonal
)

// ParseInit returns the Init named "kaiming", "xavier" or "orthogonal".
func ParseInit(s string) (Init, error) {
	switch s {
	case "kaiming":
		return KaimingNormal, nil
	case "xavier":
		return XavierUniform, nil
	case "orthogonal":
		return Orthogonal, nil
	}
	return 0, fmt.Errorf("init %q, want kaiming, xavier or orthogonal", s)
}

// Random streams: each use of randomness draws from its own PCG stream of the seed.
const (
	streamInit uint64 = iota + 1
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// initValues returns the initial values of the parameter name with the given shape.
func initValues(init Init, name string, shape []int, rng *rand.Rand) []float64 {
	size := 1
	for _, s := range shape {
		size *= s
	}
	v := make([]float64, size)
	switch {
	case strings.HasSuffix(name, ".bias"):
		return v
	case strings.HasSuffix(name, ".weight") && len(shape) == 1: // batch-norm scale
		for i := range v {
			v[i] = 1
		}
		return v
	}
	rows := shape[0]
	cols := size / rows
	fanIn, fanOut := cols, rows
	if len(shape) == 4 {
		fanOut = rows * shape[2] * shape[3]
	}
	switch init {
	case KaimingNormal:
		std := math.Sqrt(2 / float64(fanIn))
		for i := range v {
			v[i] = rng.NormFloat64() * std
		}
	case XavierUniform:
		a := math.Sqrt(6 / float64(fanIn+fanOut))
		for i := range v {
			v[i] = (2*rng.Float64() - 1) * a
		}
	case Orthogonal:
		orthogonal(v, rows, cols, rng)
	}
	return v
}

// orthogonal fills the rows×cols matrix m (row-major) with a random matrix whose rows are
// orthonormal if rows ≤ cols, else whose columns are: Gram–Schmidt (applied twice, for accuracy)
// on a Gaussian matrix.
func orthogonal(m []float64, rows, cols int, rng *rand.Rand) {
	r, c := rows, cols
	if rows > cols {
		r, c = cols, rows
	}
	a := make([]float64, r*c)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := 0; i < r; i++ {
		row := a[i*c : (i+1)*c]
		for pass := 0; pass < 2; pass++ {
			for j := 0; j < i; j++ {
				prev := a[j*c : (j+1)*c]
				var d float64
				for k := range row {
					d += row[k] * prev[k]
				}
				for k := range row {
					row[k] -= d * prev[k]
				}
			}
		}
		var n float64
		for _, x := range row {
			n += x * x
		}
		n = math.Sqrt(n)
		for k := range row {
			row[k] /= n
		}
	}
	if rows <= cols {
		copy(m, a)
		return
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			m[i*cols+j] = a[j*c+i]
		}
	}
}
