package angle

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

// dartsParts gives the tensors of a DARTS search op at width c: sep_conv_k applies
// (depthwise k×k, pointwise 1×1) twice, dil_conv_k once.
func dartsParts(op space.Op, c int) map[string][]int {
	k := op.Kernel
	switch op.Name {
	case "sep_conv_3x3", "sep_conv_5x5":
		return map[string][]int{"dw1": {c, 1, k, k}, "pw1": {c, c, 1, 1}, "dw2": {c, 1, k, k}, "pw2": {c, c, 1, 1}}
	case "dil_conv_3x3", "dil_conv_5x5":
		return map[string][]int{"dw": {c, 1, k, k}, "pw": {c, c, 1, 1}}
	}
	return nil
}

func TestDARTSFastMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	net := DARTS(2, 5) // cells 1 and 3 reduce
	base, cur := randomPair(net, dartsParts, 0.8, r)
	// FactorizedReduce weights of skip_connect on the stride-2 edges of the reduce cells.
	for _, cell := range []string{"cell1", "cell3"} {
		for _, e := range []int{0, 1, 2, 3, 5, 6, 9, 10} {
			for _, part := range []string{"conv_1", "conv_2"} {
				n := fmt.Sprintf("%s.edge%d.skip_connect.%s", cell, e, part)
				x, y := make([]float32, 4), make([]float32, 4)
				for i := range x {
					x[i] = float32(r.NormFloat64())
					y[i] = x[i] + float32(r.NormFloat64())
				}
				base[n], cur[n] = param.Tensor{Shape: []int{2, 2, 1, 1}, Data: x}, param.Tensor{Shape: []int{2, 2, 1, 1}, Data: y}
			}
		}
	}
	st, err := Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	sp := space.DARTS{}
	full := sp.Full()
	for range 200 {
		checkAgree(t, net, st, base, cur, sp.Sample(full, r))
	}
	// Every kept edge none: all 16 paths cut in both cell types.
	c := sp.Sample(full, r)
	for i := range c {
		if c[i] != space.Absent {
			c[i] = space.DARTSNone
		}
	}
	checkAgree(t, net, st, base, cur, c)
	// A child whose normal cell keeps only paths through skip connections and pools.
	noConv := full.Clone()
	for p := range noConv.Allowed {
		noConv.Allowed[p] = []int{space.DARTSMaxPool, space.DARTSAvgPool, space.DARTSSkip}
	}
	for range 20 {
		checkAgree(t, net, st, base, cur, sp.Sample(noConv, r))
	}
}
