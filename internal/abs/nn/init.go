package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"gorgonia.org/tensor"
)

// Init selects how convolution and linear weights are initialised. Batch-norm scales start at 1 and
// batch-norm shifts at 0 under every rule; the classifier bias at 0 unless the rule says otherwise.
// fan_in is C_in·k·k for a convolution (k·k for a depthwise one) and the input width for a linear
// layer; fan_out is C_out·k·k, or the output width.
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
	// PyTorch is PyTorch's default initialisation of Conv2d and Linear, which the ABS authors' NB201
	// code keeps: weights w ~ U(−a, a) with a = 1/√fan_in (kaiming_uniform_ with a = √5), and a
	// linear bias b ~ U(−a, a) with the same a.
	PyTorch
	// DARTS is the initialisation of the ABS authors' DARTS code: convolutions w ~ U(−a, a) with
	// a = √(6/fan_in) (kaiming_uniform_), linear weights w ~ N(0, 0.01²), linear bias 0.
	DARTS
	// Mobile is the initialisation of the MobileNet-like supernets of SPOS, ProxylessNAS and
	// FairNAS: convolutions w ~ N(0, 2/fan_out) with fan_out = k²·C_out, depthwise ones included;
	// linear layers as PyTorch.
	Mobile
)

// initNames are the names ParseInit accepts, by Init.
var initNames = [...]string{KaimingNormal: "kaiming", XavierUniform: "xavier", Orthogonal: "orthogonal", PyTorch: "pytorch", DARTS: "darts", Mobile: "mobile"}

// Inits lists every initialisation.
func Inits() []Init {
	out := make([]Init, len(initNames))
	for i := range out {
		out[i] = Init(i)
	}
	return out
}

// String returns the name ParseInit accepts for i.
func (i Init) String() string {
	if i < 0 || int(i) >= len(initNames) {
		return fmt.Sprintf("Init(%d)", int(i))
	}
	return initNames[i]
}

// ParseInit returns the Init named "kaiming", "xavier", "orthogonal", "pytorch", "darts" or "mobile".
func ParseInit(s string) (Init, error) {
	for i, name := range initNames {
		if s == name {
			return Init(i), nil
		}
	}
	return 0, fmt.Errorf("init %q, want one of %s", s, strings.Join(initNames[:], ", "))
}

// Random streams: each use of randomness draws from its own PCG stream of the seed.
const (
	streamInit uint64 = iota + 1
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// initValues returns the initial values of the parameter name with the given shape. shapes holds
// every parameter's shape, so that a linear layer's bias can find its weight's fan_in.
func initValues(init Init, name string, shape []int, shapes map[string][]int, rng *rand.Rand) []float64 {
	size := 1
	for _, s := range shape {
		size *= s
	}
	v := make([]float64, size)
	if prefix, ok := strings.CutSuffix(name, ".bias"); ok {
		w := shapes[prefix+".weight"]
		if len(w) == 2 && (init == PyTorch || init == Mobile) { // a linear layer's bias
			uniform(v, 1/math.Sqrt(float64(w[1])), rng)
		}
		return v
	}
	if strings.HasSuffix(name, ".weight") && len(shape) == 1 { // batch-norm scale
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
		normal(v, math.Sqrt(2/float64(fanIn)), rng)
	case XavierUniform:
		uniform(v, math.Sqrt(6/float64(fanIn+fanOut)), rng)
	case Orthogonal:
		orthogonal(v, rows, cols, rng)
	case PyTorch:
		uniform(v, 1/math.Sqrt(float64(fanIn)), rng)
	case DARTS:
		if len(shape) == 2 {
			normal(v, 0.01, rng)
		} else {
			uniform(v, math.Sqrt(6/float64(fanIn)), rng)
		}
	case Mobile:
		if len(shape) == 2 {
			uniform(v, 1/math.Sqrt(float64(fanIn)), rng)
		} else {
			normal(v, math.Sqrt(2/float64(fanOut)), rng)
		}
	default:
		panic(fmt.Sprintf("nn: unknown %v", init)) // ParseInit returns only the rules above
	}
	return v
}

// uniform fills v with draws from U(−a, a).
func uniform(v []float64, a float64, rng *rand.Rand) {
	for i := range v {
		v[i] = (2*rng.Float64() - 1) * a
	}
}

// normal fills v with draws from N(0, std²).
func normal(v []float64, std float64, rng *rand.Rand) {
	for i := range v {
		v[i] = rng.NormFloat64() * std
	}
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

// InitParams returns parameters of the given shapes (by name, as docs/weights.md names them, which
// tells each rule a convolution, linear layer or batch norm apart) of dtype dt (float32 or
// float64), initialised by init from seed. They are drawn in sorted name order, so the result
// depends only on the shapes, dt, init and seed.
func InitParams(shapes map[string][]int, dt tensor.Dtype, init Init, seed uint64) map[string]*tensor.Dense {
	names := make([]string, 0, len(shapes))
	for name := range shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	rng := newRand(seed, streamInit)
	params := make(map[string]*tensor.Dense, len(names))
	for _, name := range names {
		params[name] = newParam(dt, shapes[name], initValues(init, name, shapes[name], shapes, rng))
	}
	return params
}

func newParam(dt tensor.Dtype, shape []int, v []float64) *tensor.Dense {
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}
