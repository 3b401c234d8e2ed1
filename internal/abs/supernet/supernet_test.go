package supernet

import (
	"fmt"
	"github.com/abs-nas/abs/internal/abs/nn/gradcheck"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn"
)

func randDense(rng *rand.Rand, shape ...int) *tensor.Dense {
	d := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	v := d.Data().([]float64)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return d
}

func TestSetLoadRoundTrip(t *testing.T) {
	cfg := NB201{C: 2, N: 1, InC: 1, H: 4, W: 4, Classes: 2}
	a, _ := New(cfg, tensor.Float32, nn.XavierUniform, 1)
	b, _ := New(cfg, tensor.Float32, nn.XavierUniform, 2)
	if err := b.Load(a.Set()); err != nil {
		t.Fatal(err)
	}
	for name, t1 := range a.Params {
		if !slices.Equal(t1.Data().([]float32), b.Params[name].Data().([]float32)) {
			t.Fatalf("%s differs after Load", name)
		}
	}
	s := a.Set()
	delete(s, "stem.conv")
	if err := b.Load(s); err == nil {
		t.Errorf("Load accepted a set without stem.conv")
	}
}

// TestNetErrors checks that New, Input and Graph refuse what does not fit the net, naming what
// was expected.
func TestNetErrors(t *testing.T) {
	cfg := NB201{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}
	if _, err := New(cfg, tensor.Int, nn.KaimingNormal, 1); err == nil || !strings.Contains(err.Error(), "float32 or float64") {
		t.Errorf("New with dtype int: error %v, want one asking for float32 or float64", err)
	}
	bad := cfg
	bad.Classes = 1
	if _, err := New(bad, tensor.Float32, nn.KaimingNormal, 1); err == nil || !strings.Contains(err.Error(), "Classes") {
		t.Errorf("New with 1 class: error %v, want one naming Classes", err)
	}
	net, err := New(cfg, tensor.Float64, nn.KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Input(make([]float32, 63), 1); err == nil {
		t.Error("Input of 63 values for one 1×8×8 image: no error")
	}
	x := randDense(rand.New(rand.NewPCG(1, 1)), 2, 1, 8, 4)
	if _, err := net.Logits([]int{1, 1, 1, 1, 1, 1}, x, nn.BNEval, net.Stats); err == nil || !strings.Contains(err.Error(), "[B 1 8 8]") {
		t.Errorf("Logits of a 2×1×8×4 batch: error %v, want one naming [B 1 8 8]", err)
	}
	if _, err := net.Logits([]int{1, 1, 1}, x, nn.BNEval, net.Stats); err == nil {
		t.Error("Logits of a child of 3 ops: no error")
	}
}

// TestGraphLeavesWeightsUntouched checks that running graphs never writes to the shared weight
// tensors (gorgonia may run some ops in place on their inputs) and that a net built twice from one
// seed gives identical gradients.
func TestGraphLeavesWeightsUntouched(t *testing.T) {
	cfg := NB201{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}
	net, err := New(cfg, tensor.Float32, nn.KaimingNormal, 3)
	if err != nil {
		t.Fatal(err)
	}
	before := net.Set()
	x, _ := net.Input(make([]float32, 2*64), 2)
	for i, v := range x.Data().([]float32) {
		x.Data().([]float32)[i] = v + float32(i%7)/7
	}
	var first map[string]*tensor.Dense
	for i := 0; i < 2; i++ {
		_, grads, err := net.Backward([]int{3, 2, 4, 1, 3, 2}, x, []int{0, 2}, nn.CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := net.Logits([]int{1, 1, 1, 1, 1, 1}, x, nn.BNEval, net.Stats); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = grads
			continue
		}
		for name, g := range grads {
			if !slices.Equal(g.Data().([]float32), first[name].Data().([]float32)) {
				t.Errorf("gradient of %s differs between two identical runs", name)
			}
		}
	}
	after := net.Set()
	for name, p := range before {
		q := after[name]
		if !slices.Equal(p.Shape, q.Shape) || !slices.Equal(p.Data, q.Data) {
			t.Errorf("parameter %s changed by running graphs", name)
		}
	}
}

// checkGradients compares the analytic gradient grads[name] of each named parameter with the
// central finite difference (h = 1e-6, float64) of the loss of child's BNTrain graph on (x, labels)
// at the coordinates at(len) of the parameter, to 1e-5 relative (absolute below 1). Each loss is
// computed on a copy of the running statistics, so the probes do not disturb each other.
func checkGradients(t *testing.T, net *Net, child []int, x *tensor.Dense, labels []int, grads map[string]*tensor.Dense, names []string, at func(n int) []int) {
	t.Helper()
	loss := func() float64 {
		gr, err := net.Graph(child, x, labels, nn.BNTrain, nn.CloneStats(net.RunningStats()))
		if err != nil {
			t.Fatal(err)
		}
		m := gorgonia.NewTapeMachine(gr.G)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return float64(*gr.Loss.Value().(*gorgonia.F64))
	}
	for _, name := range names {
		w := net.Weights()[name].Data().([]float64)
		gradcheck.Central(t, fmt.Sprintf("child %v %s", child, name), w, grads[name].Data().([]float64), at(len(w)), 1e-5, loss)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for name := range m {
		k = append(k, name)
	}
	sort.Strings(k)
	return k
}
