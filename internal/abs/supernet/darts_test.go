package supernet

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

// graphMACs counts the multiply-accumulates of one forward pass of the graph gr per image, from
// the shapes of its nodes alone: every matrix product (gorgonia's Conv2d lowers to im2col and a
// product, the classifier is one) costs M·K·N, every dense convolution of ours (Conv2d, ConvBN)
// C_in·k² per output value, every pointwise convolution C_out·C_in·H·W and every
// depthwise convolution C·k²·H_out·W_out per image. It knows nothing of the space's FLOPs formulas.
func graphMACs(t *testing.T, gr *nn.Graph, batch int) int64 {
	t.Helper()
	var total int64
	for _, n := range gr.G.AllNodes() {
		if n.Op() == nil {
			continue
		}
		s := n.Op().String()
		var kids []*gorgonia.Node
		for it := gr.G.From(n.ID()); it.Next(); {
			kids = append(kids, it.Node().(*gorgonia.Node))
		}
		switch {
		case strings.HasPrefix(s, "A × B"):
			// A product of an M×K and a K×N matrix (either transposed): the sizes of the two
			// operands multiply to M·K²·N.
			out := n.Shape()
			mn := out[0] * out[1]
			k := int(math.Round(math.Sqrt(float64(kids[0].Shape().TotalSize()) * float64(kids[1].Shape().TotalSize()) / float64(mn))))
			total += int64(mn) * int64(k)
		case s == "Pointwise":
			ker := kids[0].Shape() // the kernel is a parameter, an input node
			if kids[0].Op() != nil {
				ker = kids[1].Shape()
			}
			total += int64(n.Shape().TotalSize()) * int64(ker[1])
		case strings.HasPrefix(s, "Conv2d") && !strings.HasPrefix(s, "Conv2dGrad"),
			strings.HasPrefix(s, "ConvBN") && !strings.HasPrefix(s, "ConvBNGrad"):
			// Our dense convolutions (alone or fused with batch norm): C_in·k² per output value.
			ker := kids[1].Shape()
			if kids[1].Op() != nil {
				ker = kids[0].Shape()
			}
			total += int64(n.Shape().TotalSize()) * int64(ker[1]*ker[2]*ker[3])
		case strings.HasPrefix(s, "Depthwise("):
			ker := kids[0].Shape() // the kernel is a parameter, an input node
			if kids[0].Op() != nil {
				ker = kids[1].Shape()
			}
			total += int64(n.Shape().TotalSize()) * int64(ker[2]*ker[3])
		}
	}
	return total / int64(batch)
}

// TestDARTSFLOPs checks that space.DARTSNet.FLOPs equals the multiply-accumulates of the built
// network for children drawn by the authors' rule from the full space (none on every edge that is
// not an input): every child reads both input nodes of every cell, so nothing is left unbuilt.
func TestDARTSFLOPs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	for _, cfg := range []DARTS{
		{C: 4, Cells: 5, InC: 1, H: 16, W: 16, Classes: 10},
		{C: 2, Cells: 8, InC: 3, H: 8, W: 8, Classes: 7},
		{C: 2, Cells: 2, InC: 1, H: 8, W: 8, Classes: 3}, // two reduce cells in a row
	} {
		net, err := New(cfg, tensor.Float32, nn.KaimingNormal, 1)
		if err != nil {
			t.Fatal(err)
		}
		fl := space.DARTSNet{C: cfg.C, Layers: cfg.Cells, Resolution: cfg.H, InChannels: cfg.InC, Classes: cfg.Classes}
		x := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(2, cfg.InC, cfg.H, cfg.W))
		for _, c := range append([][]int{dartsKinds}, sampleDARTS(r, 8)...) {
			gr, err := net.Graph(c, x, nil, nn.BNTrain, nn.CloneStats(net.Stats))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := graphMACs(t, gr, 2), fl.FLOPs(c); got != want {
				t.Errorf("%+v child %v: graph has %d MACs, space counts %d", cfg, c, got, want)
			}
		}
	}
}

// sampleDARTS draws n children of the full DARTS space.
func sampleDARTS(r *rand.Rand, n int) [][]int {
	var out [][]int
	for range n {
		out = append(out, space.DARTS{}.Sample(space.DARTS{}.Full(), space.NewRand(r.Uint64())))
	}
	return out
}

// dartsKinds is a child using every op, whose edges from the input nodes (stride 2 in a reduce
// cell) carry sep_conv_3x3, skip (a FactorizedReduce in a reduce cell), both pools and
// dil_conv_3x3. Edges: node 2 (0,1) | node 3 (0,1,2) | node 4 (0..3) | node 5 (0..4).
var dartsKinds = []int{4, 3, 1, 0, 7, 0, 2, 0, 5, 6, 0, 0, 0, 3}

// TestGradDARTS checks the gradient of the loss of a small DARTS net with respect to its
// parameters against central differences, for a child using every op kind, one whose node 3 is
// skip(node 2) plus a conv and node 4 reads only intermediate nodes, and one of skips alone
// (gradients only through preprocessing and FactorizedReduce), and that the gradients cover
// exactly the parameters the child uses.
func TestGradDARTS(t *testing.T) {
	cfg := DARTS{C: 2, Cells: 3, InC: 1, H: 8, W: 8, Classes: 3}
	dup := []int{6, 5, 4, 0, 3, 0, 0, 1, 2, 0, 7, 0, 3, 0}
	skips := []int{3, 3, 3, 3, 0, 3, 3, 0, 0, 3, 3, 0, 0, 0}
	for _, child := range [][]int{dartsKinds, dup, skips} {
		net, err := New(cfg, tensor.Float64, nn.KaimingNormal, 7)
		if err != nil {
			t.Fatal(err)
		}
		if err := net.Check(child); err != nil {
			t.Fatal(err)
		}
		x := randDense(rand.New(rand.NewPCG(2, 3)), 3, 1, 8, 8)
		labels := []int{0, 2, 1}
		_, grads, err := net.Backward(child, x, labels, nn.CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		if want := dartsUsed(net, child); !slices.Equal(sortedKeys(grads), want) {
			t.Errorf("child %v: gradients for %v, want %v", child, sortedKeys(grads), want)
		}
		checkGradients(t, net, child, x, labels, grads, sortedKeys(grads), func(n int) []int { return []int{0, n - 1} })
	}
}

// dartsUsed lists the parameters child uses by the rule of DARTS.Layers, written out
// independently: the fixed stem, classifier and preprocessing of every cell, and in every cell
// the weights of the op the child puts on each edge (none has none).
func dartsUsed(n *Net, child []int) []string {
	var want []string
	for name := range n.Params {
		switch {
		case strings.HasPrefix(name, "stem.") || strings.HasPrefix(name, "classifier.") || strings.HasPrefix(name, "prep"):
			want = append(want, name)
		default: // cell{l}.edge{e}.{op}.{part}
			parts := strings.Split(name, ".")
			var e int
			for _, ch := range parts[1][4:] {
				e = 10*e + int(ch-'0')
			}
			if o := child[e]; o > space.DARTSNone && dartsOpName(o) == parts[2] {
				want = append(want, name)
			}
		}
	}
	sort.Strings(want)
	return want
}

func TestDARTSCheck(t *testing.T) {
	net, err := New(DARTS{C: 2, Cells: 3, InC: 1, H: 8, W: 8, Classes: 3}, tensor.Float32, nn.KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Check(dartsKinds); err != nil {
		t.Errorf("valid child: %v", err)
	}
	old := append(append([]int(nil), dartsKinds...), dartsKinds...)
	if err := net.Check(old); err == nil || !strings.Contains(err.Error(), "want 14") {
		t.Errorf("28 op codes (normal and reduce apart, the old encoding): error %v", err)
	}
	three := append([]int(nil), dartsKinds...)
	three[3] = 4 // node 3 has 3 non-none inputs
	if err := net.Check(three); err == nil {
		t.Error("node with 3 inputs: no error")
	}
	one := append([]int(nil), dartsKinds...)
	one[0] = space.DARTSNone // node 2 has 1 non-none input
	if err := net.Check(one); err == nil {
		t.Error("node with 1 input: no error")
	}
	if _, err := net.Graph(one, nil, nil, nn.BNTrain, nil); err == nil {
		t.Error("Graph of a child with a node of 1 input: no error")
	}
}

// TestDARTSAngleNames checks that the weights of a DARTS net are what angle.DARTS expects: Compute
// accepts them and its fast angle equals the naive concatenation of Algorithm 1.
func TestDARTSAngleNames(t *testing.T) {
	cfg := DARTS{C: 4, Cells: 5, InC: 1, H: 8, W: 8, Classes: 10}
	base, err := New(cfg, tensor.Float32, nn.KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := New(cfg, tensor.Float32, nn.KaimingNormal, 2)
	if err != nil {
		t.Fatal(err)
	}
	net := angle.DARTS(cfg.C, cfg.Cells)
	b0, b1 := base.Set(), cur.Set()
	st, err := angle.Compute(net, b0, b1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 2))
	for range 20 {
		c := space.DARTS{}.Sample(space.DARTS{}.Full(), r)
		fast, err := st.Product(c)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := angle.Naive(net, b0, b1, c)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(fast.Dot-slow.Dot) > 1e-9*math.Abs(slow.Base) || math.Abs(fast.Base-slow.Base) > 1e-9*slow.Base {
			t.Errorf("child %v: fast %+v, naive %+v", c, fast, slow)
		}
		if fast.Base == 0 {
			t.Errorf("child %v: empty weight vector", c)
		}
	}
}
