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

// TestDARTSFastMatchesNaive compares Stats with Naive on the 14-op encoding: 1000 children drawn
// by the authors' draw-and-repair rule from the full space, 200 from a space of pools and skips
// only, and 200 from a space whose edges into nodes 3–5 allow none and one op each (so most paths
// are cut), in a 5-cell net whose cells 1 and 3 reduce and all run the same cell.
//
// Tolerance (checkAgree's 1e-9, relative): both sides sum float64 products of float32 values, Naive
// entry by entry over the concatenated vectors (here at most ~10⁴ entries), Stats per op times
// path counts, so they differ only by rounding, bounded by about n·2⁻⁵³ ≈ 10⁻¹² relative. A
// wrong path count or a missing or duplicated op changes Dot, Base or Cur by at least the smallest
// op's share, over 10⁻³ of the total with these shapes, and the angles lie well inside (0, π/2),
// where arccos does not amplify the error much.
func TestDARTSFastMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	net := DARTS(2, 5) // cells 1 and 3 reduce
	for _, u := range net.Units {
		if u.Graph != net.Units[0].Graph {
			t.Fatalf("unit %s has a graph of its own: every cell runs the child's one cell", u.Prefix)
		}
	}
	for e, edge := range net.Units[0].Graph.Edges {
		if edge.Slot != e {
			t.Fatalf("edge %d reads choice point %d, want %d", e, edge.Slot, e)
		}
	}
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
	noConv := full.Clone()
	for p := range noConv.Allowed {
		noConv.Allowed[p] = []int{space.DARTSNone, space.DARTSMaxPool, space.DARTSAvgPool, space.DARTSSkip}
	}
	sparse := full.Clone()
	for p := space.DARTSEdge(0, 3); p < space.DARTSEdges; p++ {
		sparse.Allowed[p] = []int{space.DARTSNone, 1 + r.IntN(7)}
	}
	for _, tc := range []struct {
		s space.Shrunk
		n int
	}{{full, 1000}, {noConv, 200}, {sparse, 200}} {
		if err := space.Validate(sp, tc.s); err != nil {
			t.Fatal(err)
		}
		for range tc.n {
			c := sp.Sample(tc.s, r)
			if len(c) != space.DARTSEdges {
				t.Fatalf("child %v: %d ops, want 14", c, len(c))
			}
			checkAgree(t, net, st, base, cur, c)
		}
	}
}
