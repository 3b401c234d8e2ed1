package space

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
)

// mobileOps are the MobileNet-like ops: MBConv with kernel {3,5,7} × expansion {3,6}, then
// identity (ProxylessNAS only). FairNAS uses codes 0–5 only.
var mobileOps = []Op{
	{Name: "mb_k3_e3", Kind: Conv, Kernel: 3},
	{Name: "mb_k3_e6", Kind: Conv, Kernel: 3},
	{Name: "mb_k5_e3", Kind: Conv, Kernel: 5},
	{Name: "mb_k5_e6", Kind: Conv, Kernel: 5},
	{Name: "mb_k7_e3", Kind: Conv, Kernel: 7},
	{Name: "mb_k7_e6", Kind: Conv, Kernel: 7},
	{Name: "identity", Kind: Identity},
}

// MobileIdentity is the op code of identity in the ProxylessNAS space.
const MobileIdentity = 6

// MobileExpansion returns the expansion ratio of MBConv op code o (3 or 6).
func MobileExpansion(o int) int { return 3 * (1 + o%2) }

// Layer is one searchable layer of a MobileNet-like space.
type Layer struct {
	Out      int  // output channels
	Stride   int  // 1 or 2
	Identity bool // whether identity is a candidate (never on a layer that changes shape)
}

// Mobile is a MobileNet-like chain space: a stem conv3×3 (stride 2), a fixed first block
// (depthwise 3×3 + pointwise to FirstOut), the searchable layers, a 1×1 conv to LastOut, global
// average pooling and a classifier. A child is one op code per layer.
type Mobile struct {
	name     string
	ops      []Op
	StemOut  int
	FirstOut int
	Layers   []Layer
	LastOut  int
	// InChannels and Classes are the input image channels and the classifier's output count: 3
	// and 1000 (ImageNet) in ProxylessGPU and FairNAS; set them to the data set's to count the
	// FLOPs of a net trained on another data set.
	InChannels, Classes int
}

func stages(outs, counts, strides []int, identity bool) []Layer {
	var ls []Layer
	for i, out := range outs {
		for j := range counts[i] {
			s := 1
			if j == 0 {
				s = strides[i]
			}
			ls = append(ls, Layer{Out: out, Stride: s, Identity: identity && j > 0})
		}
	}
	return ls
}

// ProxylessGPU returns the ProxylessNAS (GPU) space: 21 layers in stages of widths 24, 40, 80,
// 96, 192, 320 with 4, 4, 4, 4, 4, 1 layers and first-layer strides 2, 2, 2, 1, 2, 1; 7 ops per
// layer (6 MBConvs + identity) except the first layer of each stage, which has no identity:
// 6⁶·7¹⁵ children. Stem 32, first block 16, last conv 1280.
func ProxylessGPU() Mobile {
	return Mobile{
		name: "proxyless-gpu", ops: mobileOps, StemOut: 32, FirstOut: 16, LastOut: 1280, InChannels: 3, Classes: 1000,
		Layers: stages([]int{24, 40, 80, 96, 192, 320}, []int{4, 4, 4, 4, 4, 1}, []int{2, 2, 2, 1, 2, 1}, true),
	}
}

// FairNAS returns the FairNAS space: 19 layers × 6 MBConv ops, no identity: 6¹⁹ children. The
// layout we use has widths 32, 40, 80, 96, 192, 320 with 2, 4, 4, 4, 4, 1 layers and first-layer
// strides 2, 2, 2, 1, 2, 1; stem 32, first block 16, last conv 1280.
func FairNAS() Mobile {
	return Mobile{
		name: "fairnas", ops: mobileOps[:6], StemOut: 32, FirstOut: 16, LastOut: 1280, InChannels: 3, Classes: 1000,
		Layers: stages([]int{32, 40, 80, 96, 192, 320}, []int{2, 4, 4, 4, 4, 1}, []int{2, 2, 2, 1, 2, 1}, false),
	}
}

func (Mobile) product() {}

// Name returns "proxyless-gpu" or "fairnas".
func (m Mobile) Name() string { return m.name }

// Ops returns the MBConv ops (and identity for ProxylessNAS) in code order.
func (m Mobile) Ops() []Op { return m.ops }

// Points returns the number of searchable layers.
func (m Mobile) Points() int { return len(m.Layers) }

// PointName returns "layer{p}".
func (Mobile) PointName(p int) string { return "layer" + strconv.Itoa(p) }

// Full allows every MBConv on every layer and identity where the layer allows it.
func (m Mobile) Full() Shrunk {
	a := make([][]int, len(m.Layers))
	for i, l := range m.Layers {
		a[i] = []int{0, 1, 2, 3, 4, 5}
		if l.Identity {
			a[i] = append(a[i], MobileIdentity)
		}
	}
	return Shrunk{Allowed: a}
}

// Size returns the product of the allowed-op counts.
func (Mobile) Size(s Shrunk) *big.Int { return productSize(s) }

// Sample picks one allowed op per layer uniformly.
func (Mobile) Sample(s Shrunk, r *rand.Rand) Child { return productSample(s, r) }

// SampleAt draws uniformly among the children of s that take op at layer p.
func (Mobile) SampleAt(s Shrunk, p, op int, r *rand.Rand) Child { return productSampleAt(s, p, op, r) }

// Enumerate visits all children, the last layer varying fastest.
func (Mobile) Enumerate(s Shrunk, fn func(Child) bool) { productEnumerate(s, fn) }

// Check returns an error unless c takes an allowed op on every layer.
func (m Mobile) Check(s Shrunk, c Child) error { return productCheck(m, s, c) }

// Format writes the op names of the layers separated by commas.
func (m Mobile) Format(c Child) string {
	names := make([]string, len(c))
	for i, o := range c {
		names[i] = m.ops[o].Name
	}
	return strings.Join(names, ",")
}

// Parse reads a comma-separated list of op names, one per layer.
func (m Mobile) Parse(text string) (Child, error) {
	names := strings.Split(text, ",")
	if len(names) != len(m.Layers) {
		return nil, fmt.Errorf("%s child %q: %d ops, want %d", m.name, text, len(names), len(m.Layers))
	}
	c := make(Child, len(names))
	for i, n := range names {
		o, err := OpCode(m, strings.TrimSpace(n))
		if err != nil {
			return nil, fmt.Errorf("%s child, layer %d: %w", m.name, i, err)
		}
		c[i] = o
	}
	return c, nil
}

// makeDivisible rounds v to the nearest multiple of 8, at least 8 and not below 90% of v, as
// MobileNetV2 does for width multipliers.
func makeDivisible(v float64) int64 {
	n := max(8, int64(v+4)/8*8)
	if float64(n) < 0.9*v {
		n += 8
	}
	return n
}

// ScaleChannels returns the channel count x scaled by the width multiplier width: x itself for
// width 1, else x·width rounded to the nearest multiple of 8, at least 8 and not below 90% of
// x·width, as MobileNetV2 does.
func ScaleChannels(x int, width float64) int {
	if width == 1 {
		return x
	}
	return int(makeDivisible(float64(x) * width))
}

// FLOPs returns the multiply-accumulates of one forward pass of child c on one image of side
// resolution, with every channel count scaled by width (as ScaleChannels), m.InChannels input
// channels and m.Classes classes, counting convolutions and the classifier (BN, ReLU, pooling,
// additions free). Convs with stride 2 halve the side, rounding up. An MBConv with expansion e,
// kernel k from c_in to c_out, side h_in to h_out costs
//
//	c_in·(e·c_in)·h_in² + (e·c_in)·k²·h_out² + (e·c_in)·c_out·h_out²;
//
// identity costs 0; stem in·stem·9·h², first block stem·9·h² + stem·first·h², last conv
// c·last·h², classifier last·classes.
func (m Mobile) FLOPs(c Child, resolution int, width float64) int64 {
	ch := func(x int) int64 { return int64(ScaleChannels(x, width)) }
	down := func(h int64) int64 { return (h + 1) / 2 }
	h := down(int64(resolution))
	stem, first := ch(m.StemOut), ch(m.FirstOut)
	total := int64(m.InChannels) * stem * 9 * h * h
	total += stem*9*h*h + stem*first*h*h
	cin := first
	for i, l := range m.Layers {
		hout := h
		if l.Stride == 2 {
			hout = down(h)
		}
		cout := ch(l.Out)
		if o := c[i]; o != MobileIdentity {
			hid := int64(MobileExpansion(o)) * cin
			k := int64(m.ops[o].Kernel)
			total += cin*hid*h*h + hid*k*k*hout*hout + hid*cout*hout*hout
		}
		cin, h = cout, hout
	}
	last := ch(m.LastOut)
	return total + cin*last*h*h + last*int64(m.Classes)
}
