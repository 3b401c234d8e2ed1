package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/space"
)

// graphMACs counts the multiply-accumulates of one forward pass of the graph gr per image, from
// the shapes of its nodes alone: every matrix product (gorgonia's Conv2d lowers to im2col and a
// product, the classifier is one) costs M·K·N, every dense convolution of ours (Conv2d, ConvBN)
// C_in·k² per output value, every pointwise convolution C_out·C_in·H·W and every
// depthwise convolution C·k²·H_out·W_out per image. It knows nothing of the space's FLOPs formulas.
func graphMACs(t *testing.T, gr *Graph, batch int) int64 {
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

func dartsChildNoNone(r *rand.Rand) []int {
	s := space.DARTS{}.Full()
	for p := range s.Allowed {
		s.Allowed[p] = []int{1, 2, 3, 4, 5, 6, 7}
	}
	return space.DARTS{}.Sample(s, r)
}

// TestDARTSFLOPs checks that space.DARTSNet.FLOPs equals the multiply-accumulates of the built
// network for children without none, and bounds them from above when none cuts preprocessing.
func TestDARTSFLOPs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	for _, cfg := range []DARTSConfig{
		{C: 4, Cells: 5, InC: 1, H: 16, W: 16, Classes: 10},
		{C: 2, Cells: 8, InC: 3, H: 8, W: 8, Classes: 7},
		{C: 2, Cells: 2, InC: 1, H: 8, W: 8, Classes: 3}, // two reduce cells in a row
	} {
		net, err := NewDARTS(cfg, tensor.Float32, KaimingNormal, 1)
		if err != nil {
			t.Fatal(err)
		}
		fl := space.DARTSNet{C: cfg.C, Layers: cfg.Cells, Resolution: cfg.H, InChannels: cfg.InC, Classes: cfg.Classes}
		x, _ := newDense[float32](2, cfg.InC, cfg.H, cfg.W)
		for range 6 {
			c := dartsChildNoNone(r)
			gr, err := net.Graph(c, x, nil, BNTrain, CloneStats(net.Stats))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := graphMACs(t, gr, 2), fl.FLOPs(c); got != want {
				t.Errorf("%+v child %v: graph has %d MACs, space counts %d", cfg, c, got, want)
			}
		}
		for range 4 {
			c := space.DARTS{}.Sample(space.DARTS{}.Full(), r)
			if net.Check(c) != nil {
				continue
			}
			gr, err := net.Graph(c, x, nil, BNTrain, CloneStats(net.Stats))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := graphMACs(t, gr, 2), fl.FLOPs(c); got > want {
				t.Errorf("%+v child %v: graph has %d MACs, more than the %d the space counts", cfg, c, got, want)
			}
		}
	}
}

// dartsKinds is a child whose normal cell uses every op and whose reduce cell puts skip (a
// FactorizedReduce), both pools and both conv kinds on stride-2 edges.
var dartsKinds = []int{
	// normal: node2 (0,1), node3 (0,2), node4 (1,3), node5 (2,4)
	4, 6, 5, space.Absent, 3, space.Absent, 1, space.Absent, 7, space.Absent, space.Absent, 2, space.Absent, 3,
	// reduce: node2 (0,1), node3 (1,2), node4 (0,3), node5 (1,4)
	3, 1, space.Absent, 2, 5, 6, space.Absent, space.Absent, 4, space.Absent, 7, space.Absent, space.Absent, 3,
}

// TestGradDARTS checks the gradient of the loss of a small DARTS net with respect to its
// parameters against central differences, for a child using every op kind, one with none edges
// (a zero node and an unread input node) and one whose node 3 is node 2 itself, and that the gradients cover exactly the
// parameters the child uses.
func TestGradDARTS(t *testing.T) {
	cfg := DARTSConfig{C: 2, Cells: 3, InC: 1, H: 8, W: 8, Classes: 3}
	withNone := append([]int(nil), dartsKinds...)
	withNone[0], withNone[1] = space.DARTSNone, space.DARTSNone // normal node 2: a constant zero
	withNone[2] = space.DARTSNone                               // normal node 3 no longer reads node 0 …
	withNone[6] = space.DARTSNone                               // … nor node 4 node 1: normal cells read no input
	dup := append([]int(nil), dartsKinds...)
	dup[2] = space.DARTSNone // normal node 3 = skip(node 2): the cell output holds node 2 twice
	for _, child := range [][]int{dartsKinds, withNone, dup} {
		net, err := NewDARTS(cfg, tensor.Float64, KaimingNormal, 7)
		if err != nil {
			t.Fatal(err)
		}
		if err := net.Check(child); err != nil {
			t.Fatal(err)
		}
		x := randDense(rand.New(rand.NewPCG(2, 3)), 3, 1, 8, 8)
		labels := []int{0, 2, 1}
		_, grads, err := net.Backward(child, x, labels, CloneStats(net.Stats))
		if err != nil {
			t.Fatal(err)
		}
		if want := dartsUsed(net, child); !slices.Equal(sortedKeys(grads), want) {
			t.Errorf("child %v: gradients for %v, want %v", child, sortedKeys(grads), want)
		}
		checkGradients(t, net, child, x, labels, grads, sortedKeys(grads), func(n int) []int { return []int{0, n - 1} })
	}
}

// dartsUsed lists the parameters child uses in a net of 3 cells (cell 0 normal, cells 1 and 2
// reduce) by the rule of DARTSNet.Graph, written out independently: the fixed stem and classifier;
// the preprocessing of input node k of a cell when a kept edge from k carries an op other than
// none; the weights of every kept op.
func dartsUsed(n *DARTSNet, child []int) []string {
	var want []string
	for name := range n.Params {
		switch {
		case strings.HasPrefix(name, "stem.") || strings.HasPrefix(name, "classifier."):
			want = append(want, name)
		case strings.HasPrefix(name, "prep"):
			l, k := int(name[4]-'0'), int(name[7]-'0')
			off := 0
			if l > 0 {
				off = space.DARTSEdges
			}
			for j := 2; j <= 5; j++ {
				if o := child[off+space.DARTSEdge(k, j)]; o > space.DARTSNone {
					want = append(want, name)
					break
				}
			}
		default: // cell{l}.edge{e}.{op}.{part}
			parts := strings.Split(name, ".")
			l := int(parts[0][4] - '0')
			var e int
			for _, ch := range parts[1][4:] {
				e = 10*e + int(ch-'0')
			}
			off := 0
			if l > 0 {
				off = space.DARTSEdges
			}
			if o := child[off+e]; o > space.DARTSNone && dartsOpName(o) == parts[2] {
				want = append(want, name)
			}
		}
	}
	sort.Strings(want)
	return want
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for name := range m {
		k = append(k, name)
	}
	sort.Strings(k)
	return k
}

func TestDARTSCheck(t *testing.T) {
	net, err := NewDARTS(DARTSConfig{C: 2, Cells: 3, InC: 1, H: 8, W: 8, Classes: 3}, tensor.Float32, KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Check(dartsKinds); err != nil {
		t.Errorf("valid child: %v", err)
	}
	allNone := append([]int(nil), dartsKinds...)
	for p := space.DARTSEdges; p < 2*space.DARTSEdges; p++ {
		if allNone[p] != space.Absent {
			allNone[p] = space.DARTSNone
		}
	}
	if err := net.Check(allNone); !errors.Is(err, ErrDisconnected) {
		t.Errorf("reduce cells all none: error %v, want ErrDisconnected", err)
	}
	short := dartsKinds[:20]
	if err := net.Check(short); err == nil {
		t.Error("20 op codes: no error")
	}
	three := append([]int(nil), dartsKinds...)
	three[3] = 4 // node 3 keeps 3 inputs
	if err := net.Check(three); err == nil {
		t.Error("node with 3 inputs: no error")
	}
}

// TestDARTSAngleNames checks that the weights of a DARTS net are what angle.DARTS expects: Compute
// accepts them and its fast angle equals the naive concatenation of Algorithm 1.
func TestDARTSAngleNames(t *testing.T) {
	cfg := DARTSConfig{C: 4, Cells: 5, InC: 1, H: 8, W: 8, Classes: 10}
	base, err := NewDARTS(cfg, tensor.Float32, KaimingNormal, 1)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := NewDARTS(cfg, tensor.Float32, KaimingNormal, 2)
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
