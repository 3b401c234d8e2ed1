package supernet

import (
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"

	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

// nb201Ops are the NB201 operator names by code, as space.NB201 lists them.
var nb201Ops = func() (names [5]string) {
	for i, op := range (space.NB201{}).Ops() {
		names[i] = op.Name
	}
	return names
}()

// nb201Edges is the number of edges of an NB201 cell.
const nb201Edges = len(space.NB201Edges)

// edgeFrom and edgeTo give the source and target node of each cell edge in space.NB201Edges
// order: (1←0),(2←0),(2←1),(3←0),(3←1),(3←2).
var edgeFrom, edgeTo = func() (from, to [nb201Edges]int) {
	for e, ft := range space.NB201Edges {
		to[e], from[e] = ft[0], ft[1]
	}
	return from, to
}()

// liveEdges reports which edges of the cell arch contribute to its output: the op is not none, its
// source node is reachable from the input node 0 and its target node reaches the output node 3. It
// returns an error if arch is not 6 codes in [0,5) or if the output is disconnected from the input.
func liveEdges(arch []int) ([nb201Edges]bool, error) {
	var live [nb201Edges]bool
	if len(arch) != nb201Edges {
		return live, fmt.Errorf("arch has %d ops, want %d", len(arch), nb201Edges)
	}
	for e, op := range arch {
		if op < 0 || op >= len(nb201Ops) {
			return live, fmt.Errorf("arch edge %d has op code %d, want 0..%d", e, op, len(nb201Ops)-1)
		}
	}
	var fwd, bwd [4]bool
	fwd[0], bwd[3] = true, true
	for e := 0; e < nb201Edges; e++ { // edges are sorted by target node
		if arch[e] != space.NB201None && fwd[edgeFrom[e]] {
			fwd[edgeTo[e]] = true
		}
	}
	for e := nb201Edges - 1; e >= 0; e-- { // and, reversed, by source node
		if arch[e] != space.NB201None && bwd[edgeTo[e]] {
			bwd[edgeFrom[e]] = true
		}
	}
	if !fwd[3] {
		return live, fmt.Errorf("arch %v: %w", arch, ErrDisconnected)
	}
	for e := 0; e < nb201Edges; e++ {
		live[e] = arch[e] != space.NB201None && fwd[edgeFrom[e]] && bwd[edgeTo[e]]
	}
	return live, nil
}

// NB201 is the shape of an NB201 network (NAS-Bench-201's TinyNetwork: Dong & Yang, "NAS-Bench-201:
// Extending the Scope of Reproducible Neural Architecture Search", ICLR 2020): a 3×3 stem
// convolution to C channels with batch norm, N cells, a ResNet reduction block, N cells at 2C, a
// reduction block, N cells at 4C, batch norm and ReLU, global average pooling and a linear
// classifier. Cell batch norms have no affine parameters, as in the supernet of the ABS authors (Hu
// et al., "Angle-based Search Space Shrinking for Neural Architecture Search", ECCV 2020). A child
// is 6 op codes of space.NB201 used by every cell, or 6 per cell, cell by cell (per-cell sampling,
// space.PerCell). Batch-norm layers are named by a parameter prefix plus ".bn" (e.g. "stem.bn",
// "cell0.edge3.nor_conv_3x3.bn").
type NB201 struct {
	// C is the channel count of the first stage (NB201: 16); N the cells per stage (NB201: 5).
	C, N int
	// InC, H and W describe the input images; H and W must be multiples of 4.
	InC, H, W int
	// Classes is the number of output classes.
	Classes int
}

// Validate returns an error naming the first field that is out of range.
func (c NB201) Validate() error {
	switch {
	case c.C < 1:
		return fmt.Errorf("net config: C = %d, want ≥ 1", c.C)
	case c.N < 1:
		return fmt.Errorf("net config: N = %d, want ≥ 1", c.N)
	case c.InC < 1:
		return fmt.Errorf("net config: InC = %d, want ≥ 1", c.InC)
	case c.H < 4 || c.H%4 != 0 || c.W < 4 || c.W%4 != 0:
		return fmt.Errorf("net config: H×W = %d×%d, want positive multiples of 4", c.H, c.W)
	case c.Classes < 2:
		return fmt.Errorf("net config: Classes = %d, want ≥ 2", c.Classes)
	}
	return nil
}

// Shape returns the input shape and classes.
func (c NB201) Shape() Shape { return Shape{InC: c.InC, H: c.H, W: c.W, Classes: c.Classes} }

// cellChannels returns the channel count of searchable cell c.
func (c NB201) cellChannels(cell int) int { return c.C << (cell / c.N) }

// cells returns the number of searchable cells, 3N.
func (c NB201) cells() int { return 3 * c.N }

// Layout returns the weights of every candidate op of every cell and the fixed stem, reduction
// blocks, last batch norm and classifier.
func (c NB201) Layout() (map[string][]int, map[string]int) {
	shapes, bns := map[string][]int{}, map[string]int{}
	bn := func(name string, ch int, affine bool) {
		bns[name] = ch
		if affine {
			shapes[name+".weight"] = []int{ch}
			shapes[name+".bias"] = []int{ch}
		}
	}
	C := c.C
	shapes["stem.conv"] = []int{C, c.InC, 3, 3}
	bn("stem.bn", C, true)
	for cell := 0; cell < c.cells(); cell++ {
		ch := c.cellChannels(cell)
		for e := 0; e < nb201Edges; e++ {
			for _, op := range []int{space.NB201Conv1x1, space.NB201Conv3x3} {
				k := 1
				if op == space.NB201Conv3x3 {
					k = 3
				}
				p := fmt.Sprintf("cell%d.edge%d.%s", cell, e, nb201Ops[op])
				shapes[p+".conv"] = []int{ch, ch, k, k}
				bn(p+".bn", ch, false)
			}
		}
	}
	for r := 1; r <= 2; r++ {
		in, out := C<<(r-1), C<<r
		p := fmt.Sprintf("reduce%d", r)
		shapes[p+".conv_a"] = []int{out, in, 3, 3}
		bn(p+".bn_a", out, true)
		shapes[p+".conv_b"] = []int{out, out, 3, 3}
		bn(p+".bn_b", out, true)
		shapes[p+".shortcut"] = []int{out, in, 1, 1}
	}
	bn("lastact.bn", 4*C, true)
	shapes["classifier.weight"] = []int{c.Classes, 4 * C}
	shapes["classifier.bias"] = []int{c.Classes}
	return shapes, bns
}

// Check returns an error unless arch is 6 op codes for every cell or 6 per cell, with every cell
// connected (see cellArchs).
func (c NB201) Check(arch []int) error {
	_, _, err := c.cellArchs(arch)
	return err
}

// cellArchs splits child arch into one architecture per searchable cell, with its live edges: arch
// is either 6 op codes used by every cell, or 6 codes per cell, cell by cell (per-cell sampling,
// space.PerCell). A cell whose output is disconnected from its input is an error wrapping
// ErrDisconnected.
func (c NB201) cellArchs(arch []int) ([][]int, [][nb201Edges]bool, error) {
	cells := c.cells()
	if len(arch) != nb201Edges && len(arch) != nb201Edges*cells {
		return nil, nil, fmt.Errorf("arch has %d ops, want %d (one cell for all) or %d (%d cells)", len(arch), nb201Edges, nb201Edges*cells, cells)
	}
	archs := make([][]int, cells)
	lives := make([][nb201Edges]bool, cells)
	for cell := range archs {
		a := arch
		if len(arch) > nb201Edges {
			a = arch[nb201Edges*cell : nb201Edges*(cell+1)]
		}
		if cell > 0 && len(arch) == nb201Edges {
			archs[cell], lives[cell] = archs[0], lives[0]
			continue
		}
		live, err := liveEdges(a)
		if err != nil {
			if len(arch) > nb201Edges {
				err = fmt.Errorf("cell %d: %w", cell, err)
			}
			return nil, nil, err
		}
		archs[cell], lives[cell] = a, live
	}
	return archs, lives, nil
}

// ChildParams returns the names of the parameters that child arch uses, in sorted order: the fixed
// parameters and the convolutions on its live edges.
func (c NB201) ChildParams(arch []int) ([]string, error) {
	archs, lives, err := c.cellArchs(arch)
	if err != nil {
		return nil, err
	}
	shapes, _ := c.Layout()
	var names []string
	for name := range shapes {
		var cell, e int
		var op string
		if k, _ := fmt.Sscanf(name, "cell%d.edge%d.%s", &cell, &e, &op); k == 3 {
			if !lives[cell][e] || op != nb201Ops[archs[cell][e]]+".conv" {
				continue
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// Layers builds child arch (6 op codes used by every cell, or 6 per cell; see cellArchs). Edges
// that do not contribute to the output are left out, so every parameter node reaches the logits.
func (c NB201) Layers(b *nn.Builder, arch []int, in *gorgonia.Node) *gorgonia.Node {
	archs, lives, err := c.cellArchs(arch)
	if err != nil {
		b.Fail(err)
		return nil
	}
	h := b.BN(b.Conv(in, "stem.conv", 1, 1), "stem.bn", true)
	cell := 0
	for stage := 0; stage < 3; stage++ {
		if stage > 0 {
			h = resBlock(b, h, fmt.Sprintf("reduce%d", stage))
		}
		for i := 0; i < c.N; i++ {
			h = nb201Cell(b, h, cell, archs[cell], lives[cell])
			cell++
		}
	}
	h = b.ReLU(b.BN(h, "lastact.bn", true))
	return b.Classifier(h)
}

// resBlock is NB201's ResNetBasicblock with stride 2 and parameter prefix p: ReLU-conv3×3/2-BN,
// ReLU-conv3×3-BN, plus a shortcut of 2×2 average pooling and a 1×1 convolution.
func resBlock(b *nn.Builder, x *gorgonia.Node, p string) *gorgonia.Node {
	a := b.BN(b.ReLUConv(x, p+".conv_a", 2, 1), p+".bn_a", true)
	a = b.BN(b.ReLUConv(a, p+".conv_b", 1, 1), p+".bn_b", true)
	sc := b.Conv(b.AvgPool(x, 2, 2, 0), p+".shortcut", 1, 0)
	return b.Add(a, sc)
}

// nb201Cell builds searchable cell c: node j is the sum of op_e(node i) over its live incoming
// edges.
func nb201Cell(b *nn.Builder, x *gorgonia.Node, c int, arch []int, live [nb201Edges]bool) *gorgonia.Node {
	var nodes [4]*gorgonia.Node
	nodes[0] = x
	for e := 0; e < nb201Edges && b.Err() == nil; e++ {
		if !live[e] {
			continue
		}
		src := nodes[edgeFrom[e]]
		var y *gorgonia.Node
		p := fmt.Sprintf("cell%d.edge%d.%s", c, e, nb201Ops[arch[e]])
		switch arch[e] {
		case space.NB201Skip:
			y = src
		case space.NB201Conv1x1:
			y = b.ReLUConvBN(src, p+".conv", p+".bn", 0)
		case space.NB201Conv3x3:
			y = b.ReLUConvBN(src, p+".conv", p+".bn", 1)
		case space.NB201AvgPool:
			y = b.AvgPool(src, 3, 1, 1)
		}
		if b.Err() != nil {
			return nil
		}
		t := edgeTo[e]
		if nodes[t] == nil {
			nodes[t] = y
		} else {
			nodes[t] = b.Add(nodes[t], y)
		}
	}
	return nodes[3]
}
