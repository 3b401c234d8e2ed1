package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/space"
)

// MobileConfig is the shape of a MobileNet-like supernet over a space.Mobile layout
// (ProxylessNAS-GPU or FairNAS).
type MobileConfig struct {
	// Space is the layout: space.ProxylessGPU() or space.FairNAS(). Its InChannels and Classes
	// fields are ignored; the net uses InC and Classes below.
	Space space.Mobile
	// Width is the width multiplier: every channel count x becomes space.ScaleChannels(x, Width);
	// 1 keeps the published layout.
	Width float64
	// InC, H and W describe the input images. The ImageNet strides are kept: the stem and five
	// stages halve the side (rounding up), so a 28×28 image is 1×1 after the last stride-2 stage.
	InC, H, W int
	// Classes is the number of output classes.
	Classes int
}

// Validate returns an error naming the first field that is out of range.
func (c MobileConfig) Validate() error {
	switch {
	case len(c.Space.Layers) == 0:
		return fmt.Errorf("mobile net config: Space has no layers, want space.ProxylessGPU() or space.FairNAS()")
	case c.Width <= 0:
		return fmt.Errorf("mobile net config: Width = %g, want > 0", c.Width)
	case c.InC < 1:
		return fmt.Errorf("mobile net config: InC = %d, want ≥ 1", c.InC)
	case c.H < 1 || c.W < 1:
		return fmt.Errorf("mobile net config: H×W = %d×%d, want positive", c.H, c.W)
	case c.Classes < 2:
		return fmt.Errorf("mobile net config: Classes = %d, want ≥ 2", c.Classes)
	}
	return nil
}

// Build returns NewMobile(c, dt, init, seed).
func (c MobileConfig) Build(dt tensor.Dtype, init Init, seed uint64) (Supernet, error) {
	return NewMobile(c, dt, init, seed)
}

// MobileNet holds the weights of a MobileNet-like supernet: a stem conv3×3/2 with batch norm and
// ReLU6; a fixed first block (depthwise 3×3, BN, ReLU6, pointwise, BN); per searchable layer, for
// every MBConv candidate, a 1×1 expansion, a k×k depthwise convolution with the layer's stride
// and a 1×1 projection, each followed by batch norm (ReLU6 after the first two), plus a residual
// connection on the layers that are not the first of their stage (stride 1, same width); identity
// where the layout allows it; a last 1×1 conv with BN and ReLU6; global average pooling and a
// linear classifier. A child is one op code per layer. Parameters are named as docs/weights.md
// says: layer{l}.mb_k{k}_e{e}.expand, .dw, .project for the searchable weights (their batch norms
// have no affine parameters); stem.*, first.*, last.* and classifier.* for the fixed ones.
type MobileNet struct {
	Config MobileConfig
	body
}

// channels returns the scaled stem, first-block and per-layer output and last-conv widths.
func (c MobileConfig) channels() (stem, first int, outs []int, last int) {
	ch := func(x int) int { return space.ScaleChannels(x, c.Width) }
	for _, l := range c.Space.Layers {
		outs = append(outs, ch(l.Out))
	}
	return ch(c.Space.StemOut), ch(c.Space.FirstOut), outs, ch(c.Space.LastOut)
}

// residual reports whether layer l adds its input to its output: it is not the first layer of
// its stage (stride 1 and the same unscaled width as the layer before).
func (c MobileConfig) residual(l int) bool {
	ls := c.Space.Layers
	return l > 0 && ls[l].Stride == 1 && ls[l].Out == ls[l-1].Out
}

// NewMobile returns a MobileNet-like supernet with weights initialised by init from seed.
func NewMobile(cfg MobileConfig, dt tensor.Dtype, init Init, seed uint64) (*MobileNet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("net dtype %v, want float32 or float64", dt)
	}
	n := &MobileNet{Config: cfg, body: newBody(dt, Shape{InC: cfg.InC, H: cfg.H, W: cfg.W, Classes: cfg.Classes})}
	n.arch = n
	shapes := map[string][]int{}
	affineBN := func(name string, c int) {
		n.Stats[name] = NewStats(c)
		shapes[name+".weight"], shapes[name+".bias"] = []int{c}, []int{c}
	}
	stem, first, outs, last := cfg.channels()
	shapes["stem.conv"] = []int{stem, cfg.InC, 3, 3}
	affineBN("stem.bn", stem)
	shapes["first.dw"] = []int{stem, 1, 3, 3}
	affineBN("first.bn1", stem)
	shapes["first.pw"] = []int{first, stem, 1, 1}
	affineBN("first.bn2", first)
	cin := first
	ops := cfg.Space.Ops()
	for l, cout := range outs {
		for o, op := range ops {
			if op.Kind != space.Conv {
				continue
			}
			p := fmt.Sprintf("layer%d.%s", l, op.Name)
			hid := space.MobileExpansion(o) * cin
			shapes[p+".expand"] = []int{hid, cin, 1, 1}
			shapes[p+".dw"] = []int{hid, 1, op.Kernel, op.Kernel}
			shapes[p+".project"] = []int{cout, hid, 1, 1}
			n.Stats[p+".bn_expand"], n.Stats[p+".bn_dw"], n.Stats[p+".bn_project"] = NewStats(hid), NewStats(hid), NewStats(cout)
		}
		cin = cout
	}
	shapes["last.conv"] = []int{last, cin, 1, 1}
	affineBN("last.bn", last)
	shapes["classifier.weight"] = []int{cfg.Classes, last}
	shapes["classifier.bias"] = []int{cfg.Classes}
	n.Params = initParams(shapes, dt, init, seed)
	return n, nil
}

// Check returns an error unless child has one op code per layer, identity only where the layout
// allows it.
func (n *MobileNet) Check(child []int) error {
	m := n.Config.Space
	return m.Check(m.Full(), child)
}

// Graph builds a fresh graph of child over the shared weights for the batch x, with the loss if
// labels is not nil.
func (n *MobileNet) Graph(child []int, x *tensor.Dense, labels []int, mode BNMode, stats map[string]*Stats) (*Graph, error) {
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
	h := b.relu6(b.bn(b.conv(in, "stem.conv", 2, 1), "stem.bn", true))
	h = b.relu6(b.bn(b.depthwise(h, "first.dw", 1, 1, 1), "first.bn1", true))
	h = b.bn(b.pointwise(h, "first.pw"), "first.bn2", true)
	ops := cfg.Space.Ops()
	for l, o := range child {
		if o == space.MobileIdentity {
			continue
		}
		op := ops[o]
		p := fmt.Sprintf("layer%d.%s", l, op.Name)
		y := b.relu6(b.bn(b.pointwise(h, p+".expand"), p+".bn_expand", false))
		y = b.relu6(b.bn(b.depthwise(y, p+".dw", cfg.Space.Layers[l].Stride, op.Kernel/2, 1), p+".bn_dw", false))
		y = b.bn(b.pointwise(y, p+".project"), p+".bn_project", false)
		if cfg.residual(l) && b.err == nil {
			y = b.must(gorgonia.Add(h, y))
		}
		h = y
	}
	h = b.relu6(b.bn(b.pointwise(h, "last.conv"), "last.bn", true))
	logits := b.classifier(h)
	return b.graph(logits, labels, child)
}

func (b *builder) relu6(x *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.must(ReLU6(x))
}
