package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/space"
)

// DARTSConfig is the shape of a DARTS search supernet (Liu et al., "DARTS: Differentiable
// Architecture Search", ICLR 2019, model_search.py, as the ABS authors train it with single-path
// sampling): a stem conv3×3 InC→3C with affine batch norm, Cells cells of which those at Cells/3
// and 2·Cells/3 are reduce cells (doubling the width, halving the side), global average pooling and
// a linear classifier on the last cell's 4·width outputs. The authors' CIFAR-10 supernet has
// C = 16, Cells = 8.
type DARTSConfig struct {
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
func (c DARTSConfig) Validate() error {
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
func (c DARTSConfig) reduce(l int) bool { return space.DARTSCell(l, c.Cells) }

// Build returns NewDARTS(c, dt, init, seed).
func (c DARTSConfig) Build(dt tensor.Dtype, init Init, seed uint64) (Supernet, error) {
	return NewDARTS(c, dt, init, seed)
}

// DARTSNet holds the weights of a DARTS search supernet: every op of every edge of every cell.
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
type DARTSNet struct {
	Config DARTSConfig
	body
}

// dartsOpName returns the space's name of DARTS op code o.
func dartsOpName(o int) string { return space.DARTS{}.Ops()[o].Name }

// NewDARTS returns a DARTS supernet with weights initialised by init from seed.
func NewDARTS(cfg DARTSConfig, dt tensor.Dtype, init Init, seed uint64) (*DARTSNet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("net dtype %v, want float32 or float64", dt)
	}
	n := &DARTSNet{Config: cfg, body: newBody(dt, Shape{InC: cfg.InC, H: cfg.H, W: cfg.W, Classes: cfg.Classes})}
	n.arch = n
	shapes := map[string][]int{}
	bn := func(name string, c int) { n.Stats[name] = NewStats(c) }
	cs := 3 * cfg.C
	shapes["stem.conv"] = []int{cs, cfg.InC, 3, 3}
	shapes["stem.bn.weight"], shapes["stem.bn.bias"] = []int{cs}, []int{cs}
	bn("stem.bn", cs)
	cpp, cp, w := cs, cs, cfg.C
	for l := 0; l < cfg.Cells; l++ {
		red := cfg.reduce(l)
		if red {
			w *= 2
		}
		pre := fmt.Sprintf("prep%d", l)
		if l > 0 && cfg.reduce(l-1) {
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
	shapes["classifier.weight"] = []int{cfg.Classes, cp}
	shapes["classifier.bias"] = []int{cfg.Classes}
	n.Params = initParams(shapes, dt, init, seed)
	return n, nil
}

// Check returns an error unless child is 14 op codes in 0..7 with exactly two non-none inputs per
// node. Such a child always reads both input nodes of every cell (node 2's two inputs are nodes 0
// and 1), so every cell and its preprocessing is built and the output depends on the input.
func (n *DARTSNet) Check(child []int) error {
	sp := space.DARTS{}
	return sp.Check(sp.Full(), child)
}

// Graph builds a fresh graph of child over the shared weights for the batch x (B×InC×H×W), with
// the loss if labels is not nil. A node sums the outputs of its two non-none input edges; its
// none edges contribute nothing.
func (n *DARTSNet) Graph(child []int, x *tensor.Dense, labels []int, mode BNMode, stats map[string]*Stats) (*Graph, error) {
	if err := n.Check(child); err != nil {
		return nil, err
	}
	cfg := n.Config
	if s := x.Shape(); s.Dims() != 4 || s[1] != cfg.InC || s[2] != cfg.H || s[3] != cfg.W {
		return nil, fmt.Errorf("input shape %v, want [B %d %d %d]", s, cfg.InC, cfg.H, cfg.W)
	}
	graphMu.Lock()
	defer graphMu.Unlock()
	b := newBuilder(n.Dtype, n.Params, stats, mode)
	in := gorgonia.NewTensor(b.g, n.Dtype, 4, gorgonia.WithShape(x.Shape()...), gorgonia.WithName("input"), gorgonia.WithValue(x))
	stem := b.bn(b.conv(in, "stem.conv", 1, 1), "stem.bn", true)
	outs := make([]*gorgonia.Node, cfg.Cells)
	for l := 0; l < cfg.Cells && b.err == nil; l++ {
		red := cfg.reduce(l)
		s0, s1 := stem, stem
		if l >= 2 {
			s0 = outs[l-2]
		}
		if l >= 1 {
			s1 = outs[l-1]
		}
		var nodes [6]*gorgonia.Node
		pre := fmt.Sprintf("prep%d", l)
		if l > 0 && cfg.reduce(l-1) {
			nodes[0] = b.factorizedReduce(s0, pre+".s0")
		} else {
			nodes[0] = b.bn(b.pointwise(b.relu(s0), pre+".s0.conv"), pre+".s0.bn", false)
		}
		nodes[1] = b.bn(b.pointwise(b.relu(s1), pre+".s1.conv"), pre+".s1.bn", false)
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
				y := b.dartsOp(nodes[i], o, stride, fmt.Sprintf("cell%d.edge%d.%s", l, e, dartsOpName(o)))
				if nodes[j] == nil {
					nodes[j] = y
				} else {
					nodes[j] = b.must(gorgonia.Add(nodes[j], y))
				}
			}
		}
		if b.err != nil {
			break
		}
		outs[l] = b.must(gorgonia.Concat(1, nodes[2], nodes[3], nodes[4], nodes[5]))
	}
	logits := b.classifier(outs[cfg.Cells-1])
	return b.graph(logits, labels, child)
}

// dartsOp applies DARTS op o with the given stride to x; p is the op's parameter prefix.
func (b *builder) dartsOp(x *gorgonia.Node, o, stride int, p string) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	k := space.DARTS{}.Ops()[o].Kernel
	switch o {
	case space.DARTSMaxPool:
		return b.bn(b.must(MaxPool(x, 3, stride, 1)), p+".bn", false)
	case space.DARTSAvgPool:
		return b.bn(b.must(AvgPool(x, 3, stride, 1)), p+".bn", false)
	case space.DARTSSkip:
		if stride == 1 {
			return x
		}
		return b.factorizedReduce(x, p)
	case space.DARTSSepConv3, space.DARTSSepConv5:
		// DARTS' SepConv: (ReLU, depthwise k×k, pointwise, BN) twice, the first with the stride.
		y := b.bn(b.pointwise(b.depthwise(b.relu(x), p+".dw1", stride, k/2, 1), p+".pw1"), p+".bn1", false)
		return b.bn(b.pointwise(b.depthwise(b.relu(y), p+".dw2", 1, k/2, 1), p+".pw2"), p+".bn2", false)
	case space.DARTSDilConv3, space.DARTSDilConv5:
		// DARTS' DilConv: ReLU, depthwise k×k with dilation 2 and padding k−1, pointwise, BN.
		return b.bn(b.pointwise(b.depthwise(b.relu(x), p+".dw", stride, k-1, 2), p+".pw"), p+".bn", false)
	}
	b.err = fmt.Errorf("darts op code %d has no layer", o)
	return nil
}

// factorizedReduce is DARTS' FactorizedReduce without affine parameters: ReLU, then two 1×1
// convolutions with stride 2 (p.conv_1 on x, p.conv_2 on x shifted by one pixel), concatenated
// along channels, then batch norm p.bn.
func (b *builder) factorizedReduce(x *gorgonia.Node, p string) *gorgonia.Node {
	r := b.relu(x)
	if b.err != nil {
		return nil
	}
	a := b.pointwise(b.must(Subsample2(r, 0)), p+".conv_1")
	c := b.pointwise(b.must(Subsample2(r, 1)), p+".conv_2")
	if b.err != nil {
		return nil
	}
	return b.bn(b.must(gorgonia.Concat(1, a, c)), p+".bn", false)
}

// pointwise applies Pointwise with the 1×1 kernel parameter name.
func (b *builder) pointwise(x *gorgonia.Node, name string) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.must(Pointwise(x, b.param(name)))
}

// depthwise applies DepthwiseConv with the kernel parameter name.
func (b *builder) depthwise(x *gorgonia.Node, name string, stride, pad, dil int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.must(DepthwiseConv(x, b.param(name), stride, pad, dil))
}

// classifier applies global average pooling and the linear layer classifier.weight/bias.
func (b *builder) classifier(x *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	h := b.must(GlobalAvgPool(x))
	if b.err != nil {
		return nil
	}
	h = b.must(gorgonia.Mul(h, b.must(gorgonia.Transpose(b.param("classifier.weight")))))
	if b.err != nil {
		return nil
	}
	return b.must(gorgonia.BroadcastAdd(h, b.param("classifier.bias"), nil, []byte{0}))
}
