package supernet

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn"
)

// TestLiveEdges checks which edges of an NB201 cell reach the output, by hand on small cells.
func TestLiveEdges(t *testing.T) {
	tests := []struct {
		arch []int
		want [nb201Edges]bool
		err  error
	}{
		{[]int{3, 3, 3, 3, 3, 3}, [nb201Edges]bool{true, true, true, true, true, true}, nil},
		{[]int{0, 0, 0, 2, 0, 0}, [nb201Edges]bool{false, false, false, true, false, false}, nil},
		// Node 1 has no input: edges 2 and 4 leave it and are dead.
		{[]int{0, 3, 4, 0, 2, 1}, [nb201Edges]bool{false, true, false, false, false, true}, nil},
		// Node 2 feeds nothing (edge 5 is none): edges 1 and 2 are dead.
		{[]int{1, 1, 1, 0, 2, 0}, [nb201Edges]bool{true, false, false, false, true, false}, nil},
		{[]int{1, 1, 1, 0, 0, 0}, [nb201Edges]bool{}, ErrDisconnected},
		{[]int{0, 0, 0, 0, 0, 0}, [nb201Edges]bool{}, ErrDisconnected},
	}
	for _, tc := range tests {
		got, err := liveEdges(tc.arch)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("liveEdges(%v) = %v, %v; want %v, %v", tc.arch, got, err, tc.want, tc.err)
		}
	}
	for _, bad := range [][]int{{1, 1, 1}, {1, 1, 1, 1, 1, 5}, {-1, 1, 1, 1, 1, 1}} {
		if _, err := liveEdges(bad); err == nil || errors.Is(err, ErrDisconnected) {
			t.Errorf("liveEdges(%v): error %v, want an invalid-arch error", bad, err)
		}
	}
}

func TestChildParamsAndNames(t *testing.T) {
	net, err := New(NB201{C: 2, N: 2, InC: 3, H: 8, W: 8, Classes: 4}, tensor.Float32, nn.KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 6 cells × 6 edges × 2 convs + stem conv and BN affine (3) + 2 reductions × 7 + lastact (2)
	// + classifier (2).
	if got, want := len(net.Params), 72+3+14+2+2; got != want {
		t.Errorf("%d parameters, want %d", got, want)
	}
	if s := net.Params["cell5.edge4.nor_conv_3x3.conv"].Shape(); !s.Eq(tensor.Shape{8, 8, 3, 3}) {
		t.Errorf("cell5.edge4.nor_conv_3x3.conv shape %v, want [8 8 3 3]", s)
	}
	names, err := net.Spec.(NB201).ChildParams([]int{0, 0, 0, 2, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	var cells []string
	for _, n := range names {
		if n[:4] == "cell" {
			cells = append(cells, n)
		}
	}
	want := []string{"cell0.edge3.nor_conv_1x1.conv", "cell1.edge3.nor_conv_1x1.conv", "cell2.edge3.nor_conv_1x1.conv",
		"cell3.edge3.nor_conv_1x1.conv", "cell4.edge3.nor_conv_1x1.conv", "cell5.edge3.nor_conv_1x1.conv"}
	if !slices.Equal(cells, want) {
		t.Errorf("cell params %v, want %v", cells, want)
	}
	if _, err := New(NB201{C: 2, N: 1, InC: 1, H: 6, W: 8, Classes: 4}, tensor.Float32, nn.KaimingNormal, 1); err == nil {
		t.Errorf("New accepted H = 6")
	}
	// A per-cell child: 6 codes for each of the 6 cells; cell 4 takes nor_conv_3x3 on edge 0 and
	// its node 1 feeds node 3, the other cells are skip-only.
	per := slices.Repeat([]int{1, 1, 1, 1, 1, 1}, 6)
	copy(per[24:30], []int{3, 0, 0, 0, 1, 0})
	names, err = net.Spec.(NB201).ChildParams(per)
	if err != nil {
		t.Fatal(err)
	}
	cells = cells[:0]
	for _, n := range names {
		if n[:4] == "cell" {
			cells = append(cells, n)
		}
	}
	if want := []string{"cell4.edge0.nor_conv_3x3.conv"}; !slices.Equal(cells, want) {
		t.Errorf("per-cell child: cell params %v, want %v", cells, want)
	}
	per[30] = 0 // cell 5, edge 1←0: none
	copy(per[30:36], []int{0, 0, 1, 0, 1, 0})
	if err := net.Check(per); !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "cell 5") {
		t.Errorf("Check of a child with cell 5 disconnected: %v, want ErrDisconnected naming cell 5", err)
	}
	if err := net.Check(per[:12]); err == nil {
		t.Errorf("Check accepted 12 codes for 6 cells")
	}
}

// TestPerCellChildOfEqualCells checks that a per-cell child whose cells are all alike computes what
// the same 6 codes for every cell compute, bit for bit.
func TestPerCellChildOfEqualCells(t *testing.T) {
	net, err := New(NB201{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}, tensor.Float32, nn.PyTorch, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randDense(rng, 2, 1, 8, 8)
	xf := tensor.New(tensor.WithShape(2, 1, 8, 8), tensor.WithBacking(func() []float32 {
		f := make([]float32, 128)
		for i, v := range x.Data().([]float64) {
			f[i] = float32(v)
		}
		return f
	}()))
	arch := []int{3, 2, 4, 1, 3, 2}
	a, err := net.Logits(arch, xf, nn.BNTrain, nn.CloneStats(net.Stats))
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.Logits(slices.Repeat(arch, 3), xf, nn.BNTrain, nn.CloneStats(net.Stats))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Errorf("logits %v (one arch for all cells), %v (per cell, all equal)", a, b)
	}
}

// TestGradNB201 checks the gradient of the cross-entropy of whole small networks with respect to
// every parameter, for children that use every op type, one with pruned edges, the skip-only
// child, and a per-cell child whose three cells differ.
func TestGradNB201(t *testing.T) {
	cfg := NB201{C: 2, N: 1, InC: 1, H: 8, W: 8, Classes: 3}
	archs := [][]int{
		{3, 2, 4, 1, 3, 2}, // every op type
		{0, 3, 4, 0, 2, 1}, // node 1 unused: edges 2 and 4 are dead
		{1, 1, 1, 1, 1, 1},
		{2, 0, 3, 4, 0, 1 /* cell 1 */, 3, 3, 0, 0, 2, 4 /* cell 2 */, 1, 2, 2, 0, 0, 3}, // per cell
	}
	for _, arch := range archs {
		net, err := New(cfg, tensor.Float64, nn.KaimingNormal, 7)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(2, 2))
		x := randDense(rng, 3, 1, 8, 8)
		labels := []int{0, 2, 1}
		_, grads, err := net.Backward(arch, x, labels, nn.CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		want, err := net.Spec.(NB201).ChildParams(arch)
		if err != nil {
			t.Fatal(err)
		}
		if len(grads) != len(want) {
			t.Errorf("arch %v: %d gradients, want %d (%v)", arch, len(grads), len(want), want)
		}
		// Up to 4 coordinates per parameter keep the test fast.
		checkGradients(t, net, arch, x, labels, grads, want, func(n int) []int { return []int{0, n / 3, n / 2, n - 1} })
	}
}
