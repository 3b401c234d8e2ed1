package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestBackwardRecycled runs Backward on the same batch three times, the last two after filling
// every recycled buffer with NaN: the loss and gradients must not change, so no kernel reads a
// recycled result it did not write.
func TestBackwardRecycled(t *testing.T) {
	cfg := Config{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}
	net, err := New(cfg, tensor.Float64, KaimingNormal, 7)
	if err != nil {
		t.Fatal(err)
	}
	x := randDense(rand.New(rand.NewPCG(2, 3)), 3, 1, 8, 8)
	labels := []int{0, 2, 1}
	for _, arch := range [][]int{{3, 2, 4, 1, 3, 2}, {4, 3, 2, 1, 0, 3}} {
		loss0, grads0, err := net.Backward(arch, x, labels, CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		for run := 0; run < 2; run++ {
			poison()
			loss, grads, err := net.Backward(arch, x, labels, CloneStats(net.Stats))
			if err != nil {
				t.Fatal(err)
			}
			if loss != loss0 {
				t.Fatalf("arch %v run %d: loss %v, first run %v", arch, run, loss, loss0)
			}
			for name, g := range grads {
				for i, v := range g.Data().([]float64) {
					if want := grads0[name].Data().([]float64)[i]; v != want {
						t.Fatalf("arch %v run %d: %s[%d] = %v, first run %v", arch, run, name, i, v, want)
					}
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
