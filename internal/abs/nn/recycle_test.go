package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBackwardRecycled runs Backward on graphs of one batch three times, the last two after
// filling every recycled buffer with NaN: the loss and gradients must not change, so no kernel
// reads a recycled result it did not write.
func TestBackwardRecycled(t *testing.T) {
	params := InitParams(tinyShapes, tensor.Float64, KaimingNormal, 7)
	x := randDense(rand.New(rand.NewPCG(2, 3)), 3, 1, 8, 8)
	labels := []int{0, 2, 1}
	backward := func() (float64, map[string]*tensor.Dense) {
		t.Helper()
		gr, err := Build(tensor.Float64, params, tinyStats(), BNTrain, x, labels, tinyLayers)
		if err != nil {
			t.Fatal(err)
		}
		loss, grads, err := gr.Backward()
		if err != nil {
			t.Fatal(err)
		}
		return loss, grads
	}
	loss0, grads0 := backward()
	if len(grads0) != len(tinyShapes) {
		t.Errorf("%d gradients, want one per parameter (%d)", len(grads0), len(tinyShapes))
	}
	for run := 0; run < 2; run++ {
		poison()
		loss, grads := backward()
		if loss != loss0 {
			t.Fatalf("run %d: loss %v, first run %v", run, loss, loss0)
		}
		for name, g := range grads {
			for i, v := range g.Data().([]float64) {
				if want := grads0[name].Data().([]float64)[i]; v != want {
					t.Fatalf("run %d: %s[%d] = %v, first run %v", run, name, i, v, want)
				}
			}
		}
	}
}

// poison fills the recycled buffers with NaN.
func poison() {
	outMu.Lock()
	defer outMu.Unlock()
	for _, l := range out64 {
		for _, s := range l {
			for i := range s {
				s[i] = math.NaN()
			}
		}
	}
	for _, l := range out32 {
		for _, s := range l {
			for i := range s {
				s[i] = float32(math.NaN())
			}
		}
	}
}

// TestKernelOpRefusesOtherShapes checks that a kernel op refuses, with an error naming the op and
// both shapes, an input whose shape differs from the one its graph was built with, instead of
// indexing past it (a batch of 3 where the graph has 2).
func TestKernelOpRefusesOtherShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 3, 4, 4), gorgonia.WithName("x"))
	w := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(5, 3, 1, 1), gorgonia.WithName("w"))
	y, err := Pointwise(x, w)
	if err != nil {
		t.Fatal(err)
	}
	wv := tensor.New(tensor.WithShape(5, 3, 1, 1), tensor.WithBacking(make([]float32, 15)))
	ok := tensor.New(tensor.WithShape(2, 3, 4, 4), tensor.WithBacking(make([]float32, 96)))
	if _, err := y.Op().Do(ok, wv); err != nil {
		t.Fatalf("the built shapes: %v", err)
	}
	bad := tensor.New(tensor.WithShape(3, 3, 4, 4), tensor.WithBacking(make([]float32, 144)))
	_, err = y.Op().Do(bad, wv)
	if err == nil || !strings.Contains(err.Error(), "Pointwise: input 0 has shape (3, 3, 4, 4), the graph was built for (2, 3, 4, 4)") {
		t.Fatalf("got %v, want the refusal of input 0", err)
	}
}
