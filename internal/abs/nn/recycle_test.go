package nn

import (
	"math"
	"math/rand/v2"
	"testing"

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
