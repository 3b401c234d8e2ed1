package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// TestEngineAdd: engine's Add gives the standard engine's bits in every mode (a new result,
// unsafe into a, into a reuse tensor, incrementing a tensor), on a size that parallel spreads
// over the cores and on a small one, and leaves a view to the standard engine.
func TestEngineAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	mk := func(e tensor.Engine, v []float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(len(v)/6, 2, 3), tensor.WithBacking(append([]float32(nil), v...)), tensor.WithEngine(e))
	}
	for _, n := range []int{6 * 7, 6 * 20000} {
		x, y, z := vals(n), vals(n), vals(n)
		for _, mode := range []string{"safe", "unsafe", "reuse", "incr"} {
			var res [2][]float32
			for i, e := range []tensor.Engine{tensor.StdEng{}, engine{}} {
				a, b, c := mk(e, x), mk(e, y), mk(e, z)
				var opts []tensor.FuncOpt
				switch mode {
				case "unsafe":
					opts = append(opts, tensor.UseUnsafe())
				case "reuse":
					opts = append(opts, tensor.WithReuse(c))
				case "incr":
					opts = append(opts, tensor.WithIncr(c))
				}
				out, err := tensor.Add(a, b, opts...)
				if err != nil {
					t.Fatalf("n=%d %s: %v", n, mode, err)
				}
				switch want := map[string]*tensor.Dense{"unsafe": a, "reuse": c, "incr": c}[mode]; {
				case want != nil && out != tensor.Tensor(want):
					t.Fatalf("n=%d %s: the result is not the tensor the mode names", n, mode)
				case mode == "safe" && (out == tensor.Tensor(a) || out == tensor.Tensor(b)):
					t.Fatalf("n=%d safe: the result is an operand", n)
				}
				if mode != "unsafe" && a.Data().([]float32)[1] != x[1] {
					t.Fatalf("n=%d %s: a changed", n, mode)
				}
				res[i] = out.Data().([]float32)
			}
			for j := range res[0] {
				if math.Float32bits(res[0][j]) != math.Float32bits(res[1][j]) {
					t.Fatalf("n=%d %s: [%d] = %v, the standard engine gives %v", n, mode, j, res[1][j], res[0][j])
				}
			}
		}
	}
	if _, ok := addDense(mk(engine{}, vals(60)), mk(engine{}, vals(60)), tensor.ParseFuncOpts()); !ok {
		t.Fatal("two contiguous tensors of one shape did not take engine's own path")
	}
	// A view (a column) goes to the standard engine: the same result as the standard engine's
	// (whatever that makes of a view).
	var got [2][]float32
	for i, e := range []tensor.Engine{tensor.StdEng{}, engine{}} {
		a := tensor.New(tensor.WithShape(4, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), tensor.WithEngine(e))
		v, err := a.Slice(nil, tensor.S(1))
		if err != nil {
			t.Fatal(err)
		}
		b := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{1, 1, 1, 1}), tensor.WithEngine(e))
		out, err := tensor.Add(v, b)
		if err != nil {
			t.Fatal(err)
		}
		got[i] = out.Data().([]float32)
	}
	if !slices.Equal(got[0], got[1]) {
		t.Fatalf("column + ones = %v, the standard engine gives %v", got[1], got[0])
	}
}
