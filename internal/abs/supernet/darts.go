package supernet

import (
	"fmt"

	"gorgonia.org/gorgonia"

	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

// DARTS is the shape of a DARTS search supernet (Liu et al., "DARTS: Differentiable
// Architecture Search", ICLR 2019, model_search.py, as the ABS authors train it with single-path
// sampling): a stem conv3×3 InC→3C with affine batch norm, Cells cells of which those at Cells/3
// and 2·Cells/3 are reduce cells (doubling the width, halving the side), global average pooling and
// a linear classifier on the last cell's 4·width outputs. The authors' CIFAR-10 supernet has
// C = 16, Cells = 8.
//
// A child is the 14 op codes of space.DARTS, one cell that every cell runs, normal and reduce
// alike (as the ABS authors' DARTS code does); a reduce cell runs it with stride 2 on the edges
// from its input nodes. Each cell keeps its own weights. Parameters are named as docs/weights.md
// says:
//
//	stem.conv, stem.bn.weight, stem.bn.bias            stem (fixed)
//	prep{l}.s0.conv | prep{l}.s0.conv_1, .conv_2       preprocessing of the cell's inputs (fixed)
//	prep{l}.s1.conv
//	cell{l}.edge{e}.sep_conv_{k}x{k}.dw1, pw1, dw2, pw2
//	cell{l}.edge{e}.dil_conv_{k}x{k}.dw, pw
//	cell{l}.edge{e}.skip_connect.conv_1, conv_2        FactorizedReduce on stride-2 edges
//	classifier.weight, classifier.bias                 (fixed)
//
// Batch norms inside cells have no affine parameters (affine=False, as in the search supernet).
type DARTS struct {
	// C is the width of the first cells; it must be even (FactorizedReduce splits it in two).
	C int
	// Cells is the total number of cells (normal and reduce).
	Cells int
	// InC, H and W describe the input images; H and W must be multiples of 4.
	InC, H, W int
	// Classes is the number of output classes.
	Classes int
}

// Validate returns an error naming the first field that is out of range.
func (c DARTS) Validate() error {
	switch {
	case c.C < 2 || c.C%2 != 0:
		return fmt.Errorf("darts net config: C = %d, want an even number ≥ 2", c.C)
	case c.Cells < 1:
		return fmt.Errorf("darts net config: Cells = %d, want ≥ 1", c.Cells)
	case c.InC < 1:
		return fmt.Errorf("darts net config: InC = %d, want ≥ 1", c.InC)
	case c.H < 4 || c.H%4 != 0 || c.W < 4 || c.W%4 != 0:
		return fmt.Errorf("darts net config: H×W = %d×%d, want positive multiples of 4", c.H, c.W)
	case c.Classes < 2:
		return fmt.Errorf("darts net config: Classes = %d, want ≥ 2", c.Classes)
	}
	return nil
}

// reduce reports whether cell l is a reduce cell.
func (c DARTS) reduce(l int) bool { return space.DARTSCell(l, c.Cells) }

// Shape returns the input shape and classes.
func (c DARTS) Shape() Shape { return Shape{InC: c.InC, H: c.H, W: c.W, Classes: c.Classes} }

// dartsOpName returns the space's name of DARTS op code o.
func dartsOpName(o int) string { return space.DARTS{}.Ops()[o].Name }

// Layout returns the weights of every op of every edge of every cell and of the fixed stem,
// preprocessing and classifier.
func (c DARTS) Layout() (map[string][]int, map[string]int) {
	bns := map[string]int{}
	shapes := map[string][]int{}
	bn := func(name string, ch int) { bns[name] = ch }
	cs := 3 * c.C
	shapes["stem.conv"] = []int{cs, c.InC, 3, 3}
	shapes["stem.bn.weight"], shapes["stem.bn.bias"] = []int{cs}, []int{cs}
	bn("stem.bn", cs)
	cpp, cp, w := cs, cs, c.C
	for l := 0; l < c.Cells; l++ {
		red := c.reduce(l)
		if red {
			w *= 2
		}
		pre := fmt.Sprintf("prep%d", l)
		if l > 0 && c.reduce(l-1) {
			shapes[pre+".s0.conv_1"] = []int{w / 2, cpp, 1, 1}
			shapes[pre+".s0.conv_2"] = []int{w / 2, cpp, 1, 1}
		} else {
			shapes[pre+".s0.conv"] = []int{w, cpp, 1, 1}
		}
		bn(pre+".s0.bn", w)
		shapes[pre+".s1.conv"] = []int{w, cp, 1, 1}
		bn(pre+".s1.bn", w)
		for j := 2; j <= 5; j++ {
			for i := 0; i < j; i++ {
				e := space.DARTSEdge(i, j)
				for o := space.DARTSMaxPool; o <= space.DARTSDilConv5; o++ {
					p := fmt.Sprintf("cell%d.edge%d.%s", l, e, dartsOpName(o))
					k := space.DARTS{}.Ops()[o].Kernel
					switch o {
					case space.DARTSMaxPool, space.DARTSAvgPool:
						bn(p+".bn", w)
					case space.DARTSSkip:
						if red && i < 2 {
							shapes[p+".conv_1"] = []int{w / 2, w, 1, 1}
							shapes[p+".conv_2"] = []int{w / 2, w, 1, 1}
							bn(p+".bn", w)
						}
					case space.DARTSSepConv3, space.DARTSSepConv5:
						shapes[p+".dw1"], shapes[p+".dw2"] = []int{w, 1, k, k}, []int{w, 1, k, k}
						shapes[p+".pw1"], shapes[p+".pw2"] = []int{w, w, 1, 1}, []int{w, w, 1, 1}
						bn(p+".bn1", w)
						bn(p+".bn2", w)
					case space.DARTSDilConv3, space.DARTSDilConv5:
						shapes[p+".dw"], shapes[p+".pw"] = []int{w, 1, k, k}, []int{w, w, 1, 1}
						bn(p+".bn", w)
					}
				}
			}
		}
		cpp, cp = cp, 4*w
	}
	shapes["classifier.weight"] = []int{c.Classes, cp}
	shapes["classifier.bias"] = []int{c.Classes}
	return shapes, bns
}

// Check returns an error unless child is 14 op codes in 0..7 with exactly two non-none inputs per
// node. Such a child always reads both input nodes of every cell (node 2's two inputs are nodes 0
// and 1), so every cell and its preprocessing is built and the output depends on the input.
func (c DARTS) Check(child []int) error {
	sp := space.DARTS{}
	return sp.Check(sp.Full(), child)
}

// Layers builds child: a node sums the outputs of its two non-none input edges; its none edges
// contribute nothing.
func (c DARTS) Layers(b *nn.Builder, child []int, in *gorgonia.Node) *gorgonia.Node {
	stem := b.BN(b.Conv(in, "stem.conv", 1, 1), "stem.bn", true)
	outs := make([]*gorgonia.Node, c.Cells)
	for l := 0; l < c.Cells && b.Err() == nil; l++ {
		red := c.reduce(l)
		s0, s1 := stem, stem
		if l >= 2 {
			s0 = outs[l-2]
		}
		if l >= 1 {
			s1 = outs[l-1]
		}
		var nodes [6]*gorgonia.Node
		pre := fmt.Sprintf("prep%d", l)
		if l > 0 && c.reduce(l-1) {
			nodes[0] = factorizedReduce(b, s0, pre+".s0")
		} else {
			nodes[0] = b.BN(b.Pointwise(b.ReLU(s0), pre+".s0.conv"), pre+".s0.bn", false)
		}
		nodes[1] = b.BN(b.Pointwise(b.ReLU(s1), pre+".s1.conv"), pre+".s1.bn", false)
		for j := 2; j <= 5; j++ {
			for i := 0; i < j; i++ {
				e := space.DARTSEdge(i, j)
				o := child[e]
				if o == space.DARTSNone {
					continue
				}
				stride := 1
				if red && i < 2 {
					stride = 2
				}
				y := dartsOp(b, nodes[i], o, stride, fmt.Sprintf("cell%d.edge%d.%s", l, e, dartsOpName(o)))
				if nodes[j] == nil {
					nodes[j] = y
				} else {
					nodes[j] = b.Add(nodes[j], y)
				}
			}
		}
		outs[l] = b.Concat(nodes[2], nodes[3], nodes[4], nodes[5])
	}
	return b.Classifier(outs[c.Cells-1])
}

// dartsOp applies DARTS op o with the given stride to x; p is the op's parameter prefix.
func dartsOp(b *nn.Builder, x *gorgonia.Node, o, stride int, p string) *gorgonia.Node {
	if b.Err() != nil {
		return nil
	}
	k := space.DARTS{}.Ops()[o].Kernel
	switch o {
	case space.DARTSMaxPool:
		return b.BN(b.MaxPool(x, 3, stride, 1), p+".bn", false)
	case space.DARTSAvgPool:
		return b.BN(b.AvgPool(x, 3, stride, 1), p+".bn", false)
	case space.DARTSSkip:
		if stride == 1 {
			return x
		}
		return factorizedReduce(b, x, p)
	case space.DARTSSepConv3, space.DARTSSepConv5:
		// DARTS' SepConv: (ReLU, depthwise k×k, pointwise, BN) twice, the first with the stride.
		y := b.BN(b.Pointwise(b.Depthwise(b.ReLU(x), p+".dw1", stride, k/2, 1), p+".pw1"), p+".bn1", false)
		return b.BN(b.Pointwise(b.Depthwise(b.ReLU(y), p+".dw2", 1, k/2, 1), p+".pw2"), p+".bn2", false)
	case space.DARTSDilConv3, space.DARTSDilConv5:
		// DARTS' DilConv: ReLU, depthwise k×k with dilation 2 and padding k−1, pointwise, BN.
		return b.BN(b.Pointwise(b.Depthwise(b.ReLU(x), p+".dw", stride, k-1, 2), p+".pw"), p+".bn", false)
	}
	b.Fail(fmt.Errorf("darts op code %d has no layer", o))
	return nil
}

// factorizedReduce is DARTS' FactorizedReduce without affine parameters: ReLU, then two 1×1
// convolutions with stride 2 (p.conv_1 on x, p.conv_2 on x shifted by one pixel), concatenated
// along channels, then batch norm p.bn.
func factorizedReduce(b *nn.Builder, x *gorgonia.Node, p string) *gorgonia.Node {
	r := b.ReLU(x)
	a := b.Pointwise(b.Subsample2(r, 0), p+".conv_1")
	c := b.Pointwise(b.Subsample2(r, 1), p+".conv_2")
	return b.BN(b.Concat(a, c), p+".bn", false)
}
