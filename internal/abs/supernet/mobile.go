package supernet

import (
	"fmt"

	"gorgonia.org/gorgonia"

	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Mobile is the shape of a MobileNet-like supernet over a space.Mobile layout (ProxylessNAS-GPU or
// FairNAS): a stem conv3×3/2 with batch norm and ReLU6; a fixed first block (depthwise 3×3, BN,
// ReLU6, pointwise, BN); per searchable layer, for every MBConv candidate, a 1×1 expansion, a k×k
// depthwise convolution with the layer's stride and a 1×1 projection, each followed by batch norm
// (ReLU6 after the first two), plus a residual connection on the layers that are not the first of
// their stage (stride 1, same width); identity where the layout allows it; a last 1×1 conv with BN
// and ReLU6; global average pooling and a linear classifier. A child is one op code per layer.
// Parameters are named as docs/weights.md says: layer{l}.mb_k{k}_e{e}.expand, .dw, .project for
// the searchable weights (their batch norms have no affine parameters); stem.*, first.*, last.*
// and classifier.* for the fixed ones.
type Mobile struct {
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
func (c Mobile) Validate() error {
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

// Shape returns the input shape and classes.
func (c Mobile) Shape() Shape { return Shape{InC: c.InC, H: c.H, W: c.W, Classes: c.Classes} }

// channels returns the scaled stem, first-block and per-layer output and last-conv widths.
func (c Mobile) channels() (stem, first int, outs []int, last int) {
	ch := func(x int) int { return space.ScaleChannels(x, c.Width) }
	for _, l := range c.Space.Layers {
		outs = append(outs, ch(l.Out))
	}
	return ch(c.Space.StemOut), ch(c.Space.FirstOut), outs, ch(c.Space.LastOut)
}

// residual reports whether layer l adds its input to its output: it is not the first layer of
// its stage (stride 1 and the same unscaled width as the layer before).
func (c Mobile) residual(l int) bool {
	ls := c.Space.Layers
	return l > 0 && ls[l].Stride == 1 && ls[l].Out == ls[l-1].Out
}

// Layout returns the weights of every candidate of every layer and of the fixed stem, first
// block, last conv and classifier.
func (c Mobile) Layout() (map[string][]int, map[string]int) {
	bns := map[string]int{}
	shapes := map[string][]int{}
	affineBN := func(name string, ch int) {
		bns[name] = ch
		shapes[name+".weight"], shapes[name+".bias"] = []int{ch}, []int{ch}
	}
	stem, first, outs, last := c.channels()
	shapes["stem.conv"] = []int{stem, c.InC, 3, 3}
	affineBN("stem.bn", stem)
	shapes["first.dw"] = []int{stem, 1, 3, 3}
	affineBN("first.bn1", stem)
	shapes["first.pw"] = []int{first, stem, 1, 1}
	affineBN("first.bn2", first)
	cin := first
	ops := c.Space.Ops()
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
			bns[p+".bn_expand"], bns[p+".bn_dw"], bns[p+".bn_project"] = hid, hid, cout
		}
		cin = cout
	}
	shapes["last.conv"] = []int{last, cin, 1, 1}
	affineBN("last.bn", last)
	shapes["classifier.weight"] = []int{c.Classes, last}
	shapes["classifier.bias"] = []int{c.Classes}
	return shapes, bns
}

// Check returns an error unless child has one op code per layer, identity only where the layout
// allows it.
func (c Mobile) Check(child []int) error {
	m := c.Space
	return m.Check(m.Full(), child)
}

// Layers builds child.
func (c Mobile) Layers(b *nn.Builder, child []int, in *gorgonia.Node) *gorgonia.Node {
	h := b.ReLU6(b.BN(b.Conv(in, "stem.conv", 2, 1), "stem.bn", true))
	h = b.ReLU6(b.BN(b.Depthwise(h, "first.dw", 1, 1, 1), "first.bn1", true))
	h = b.BN(b.Pointwise(h, "first.pw"), "first.bn2", true)
	ops := c.Space.Ops()
	for l, o := range child {
		if o == space.MobileIdentity {
			continue
		}
		op := ops[o]
		p := fmt.Sprintf("layer%d.%s", l, op.Name)
		y := b.ReLU6(b.BN(b.Pointwise(h, p+".expand"), p+".bn_expand", false))
		y = b.ReLU6(b.BN(b.Depthwise(y, p+".dw", c.Space.Layers[l].Stride, op.Kernel/2, 1), p+".bn_dw", false))
		y = b.BN(b.Pointwise(y, p+".project"), p+".bn_project", false)
		if c.residual(l) {
			y = b.Add(h, y)
		}
		h = y
	}
	h = b.ReLU6(b.BN(b.Pointwise(h, "last.conv"), "last.bn", true))
	return b.Classifier(h)
}
