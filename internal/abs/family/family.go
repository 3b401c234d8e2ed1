// Package family gathers what one search space means for a run in one value: its choice points
// and op lists (a space.Space), how to build its supernet and a fixed child's network (a
// supernet.Spec), its description to the angle metric (angle.Net), a child's FLOPs, the
// initialisation, sampling and idle-update rule of its authors' code, and its scaled-down
// presets. Code elsewhere looks a Family up once by Name and asks it; nothing else switches on a
// space's name.
//
// Adding a search space means one Name constant (listed in Names) and one entry in families below,
// with a case in this package's tests; steps, training, scoring and the pipelines need no change.
// The entry names the space.Space, the supernet.Spec, the angle.Net and the FLOPs function: a
// space of a kind that exists (another MobileNet-like layout, as mobile builds) reuses them; a new
// kind also brings its own space.Space (package space), angle description (package angle) and
// network: a supernet.Spec in package supernet, which declares the network's weights, checks a
// child and builds a child's layers with nn.Builder's layers (a layer nn lacks goes into nn with
// its gradient check).
package family

import (
	"fmt"
	"slices"
	"strings"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/shrink"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

// Name names a search space: nb201, darts, proxyless-gpu or fairnas. It parses itself from JSON
// and flags; an unknown name is an error listing the valid ones.
type Name string

// The search spaces.
const (
	NB201        Name = "nb201"
	DARTS        Name = "darts"
	ProxylessGPU Name = "proxyless-gpu"
	FairNAS      Name = "fairnas"
)

// Names lists every search space.
func Names() []Name { return []Name{NB201, DARTS, ProxylessGPU, FairNAS} }

// UnmarshalText sets n to the space named text.
func (n *Name) UnmarshalText(text []byte) error { return ParseChoice(n, "space", text, Names()) }

// Set implements flag.Value.
func (n *Name) Set(s string) error { return n.UnmarshalText([]byte(s)) }

// String returns the name.
func (n Name) String() string { return string(n) }

// ParseChoice sets *v to the one of valid spelt text, or returns an error naming field and
// listing the valid values: the parser of every typed config enumeration.
func ParseChoice[T ~string](v *T, field string, text []byte, valid []T) error {
	for _, x := range valid {
		if string(x) == string(text) {
			*v = x
			return nil
		}
	}
	names := make([]string, len(valid))
	for i, x := range valid {
		names[i] = string(x)
	}
	return fmt.Errorf("%s %q: want one of %s", field, text, strings.Join(names, ", "))
}

// Net sizes a supernet independently of its space; each family reads the fields that apply.
type Net struct {
	// Width is the channel count C of the first cells: NB201 (official 16) and DARTS (the ABS
	// authors' CIFAR-10 supernet: 16; must be even).
	Width int
	// Cells is, for NB201, the number N of cells per stage (official 5; the net has 3N cells) and,
	// for DARTS, the total number of cells (authors: 8; those at Cells/3 and 2·Cells/3 reduce).
	Cells int
	// WidthMult is the width multiplier of the MobileNet-like nets (1 = the published layout;
	// every channel count is scaled and rounded as space.ScaleChannels).
	WidthMult float64
}

// Image is the shape of a data set's images and its class count.
type Image struct {
	C, H, W, Classes int
}

// Sampling names a single-path sampling rule of the supernet's training.
type Sampling string

// The sampling rules.
const (
	// SamplingAuthors is the rule of the authors' code for the space (Family.Sampling).
	SamplingAuthors Sampling = "authors"
	// PerCell: every cell draws its own ops each step (NB201's forward_urs; NB201 only).
	PerCell Sampling = "per-cell"
	// WholeNet: one child for every cell; Uniform is the same.
	WholeNet Sampling = "whole-net"
	Uniform  Sampling = "uniform"
	// Fair: FairNAS' strict fairness (every op of a layer once per round).
	Fair Sampling = "fair"
)

// Samplings lists every sampling rule.
func Samplings() []Sampling { return []Sampling{SamplingAuthors, PerCell, WholeNet, Uniform, Fair} }

// UnmarshalText sets s to the rule named text.
func (s *Sampling) UnmarshalText(text []byte) error {
	return ParseChoice(s, "sampling", text, Samplings())
}

// Init names a weight initialisation: authors (the rule of the authors' code for the space,
// Family.Init) or one of nn.Init's names.
type Init string

// InitAuthors is the rule of the authors' code for the space.
const InitAuthors Init = "authors"

// Inits lists every initialisation.
func Inits() []Init {
	out := []Init{InitAuthors}
	for _, i := range nn.Inits() {
		out = append(out, Init(i.String()))
	}
	return out
}

// UnmarshalText sets i to the initialisation named text.
func (i *Init) UnmarshalText(text []byte) error { return ParseChoice(i, "init", text, Inits()) }

// IdleUpdates says whether parameters a step's child does not use still receive weight decay and
// momentum: authors (Family.IdleUpdates), on or off.
type IdleUpdates string

// The idle-update settings.
const (
	IdleAuthors IdleUpdates = "authors"
	IdleOn      IdleUpdates = "on"
	IdleOff     IdleUpdates = "off"
)

// UnmarshalText sets u to the setting named text.
func (u *IdleUpdates) UnmarshalText(text []byte) error {
	return ParseChoice(u, "idle_updates", text, []IdleUpdates{IdleAuthors, IdleOn, IdleOff})
}

// Family is one search space with everything that depends on it.
type Family struct {
	// Name is the space's name, as space.Space.Name spells it.
	Name Name
	// Space is the space: its choice points, op lists and encoding.
	Space space.Space
	// Init is the initialisation of the authors' code for the space.
	Init nn.Init
	// Sampling is the sampling of the authors' code for the space: PerCell or WholeNet.
	Sampling Sampling
	// IdleUpdates says whether the authors' code updates idle parameters (PyTorch 1.x's
	// zero_grad in the NB201 runs did; their DARTS code does not).
	IdleUpdates bool
	// DropPolicy is the prune step's drop policy when it names none: one-per-edge for DARTS, the
	// authors' rule there; fixed-count for the others, the step's default before the families
	// had one (the pipelines name the authors' policy of the MobileNet-like spaces).
	DropPolicy shrink.Policy
	// Tabular says whether the NB201 benchmark table (config ground_truth) covers the space.
	Tabular bool
	// Presets are scaled-down supernets by name, each training one epoch on 2000 Fashion-MNIST
	// images in a few minutes on two CPU cores (docs/benchmarks.md, ## Presets).
	Presets map[string]Net

	check  func(Net) error
	spec   func(Net, Image) supernet.Spec
	angle  func(Net) angle.Net
	flops  func(Net, Image) func(space.Child) int64
	layers func(Net) int // cells that draw their own ops under PerCell; nil where PerCell does not apply
}

// families are the search spaces by name.
var families = map[Name]*Family{
	NB201: {
		Name: NB201, Space: space.NB201{}, Init: nn.PyTorch, Sampling: PerCell, IdleUpdates: true, Tabular: true, DropPolicy: shrink.FixedCount,
		Presets: map[string]Net{"nb201-small": {Width: 8, Cells: 1}},
		check:   func(n Net) error { return positive(n.Width, n.Cells) },
		spec: func(n Net, im Image) supernet.Spec {
			return supernet.NB201{C: n.Width, N: n.Cells, InC: im.C, H: im.H, W: im.W, Classes: im.Classes}
		},
		angle: func(n Net) angle.Net { return angle.NB201(n.Width, n.Cells) },
		flops: func(n Net, im Image) func(space.Child) int64 {
			return space.NB201Net{C: n.Width, N: n.Cells, Resolution: im.H, InChannels: im.C, Classes: im.Classes}.FLOPs
		},
		layers: func(n Net) int { return 3 * n.Cells },
	},
	DARTS: {
		Name: DARTS, Space: space.DARTS{}, Init: nn.DARTS, Sampling: WholeNet, DropPolicy: shrink.OnePerEdge,
		Presets: map[string]Net{"darts-small": {Width: 8, Cells: 5}},
		check: func(n Net) error {
			if err := positive(n.Width, n.Cells); err != nil {
				return err
			}
			if n.Width%2 != 0 {
				return fmt.Errorf("width = %d: want even for darts", n.Width)
			}
			if n.Cells < 3 {
				return fmt.Errorf("cells = %d: want at least 3 for darts (two of them reduce)", n.Cells)
			}
			return nil
		},
		spec: func(n Net, im Image) supernet.Spec {
			return supernet.DARTS{C: n.Width, Cells: n.Cells, InC: im.C, H: im.H, W: im.W, Classes: im.Classes}
		},
		angle: func(n Net) angle.Net { return angle.DARTS(n.Width, n.Cells) },
		flops: func(n Net, im Image) func(space.Child) int64 {
			return space.DARTSNet{C: n.Width, Layers: n.Cells, Resolution: im.H, InChannels: im.C, Classes: im.Classes}.FLOPs
		},
	},
	ProxylessGPU: mobile(space.ProxylessGPU(), "proxyless-small"),
	FairNAS:      mobile(space.FairNAS(), "fairnas-small"),
}

// mobile returns the family of a MobileNet-like space, with its preset at width multiplier 0.25.
// The presets keep the ImageNet strides (stem and five stages of stride 2), so a 28×28 image is
// 14×14 after the stem and 1×1 in the last stage.
func mobile(m space.Mobile, preset string) *Family {
	return &Family{
		Name: Name(m.Name()), Space: m, Init: nn.Mobile, Sampling: WholeNet, DropPolicy: shrink.FixedCount,
		Presets: map[string]Net{preset: {WidthMult: 0.25}},
		check: func(n Net) error {
			if n.WidthMult <= 0 {
				return fmt.Errorf("width_mult = %v: want > 0", n.WidthMult)
			}
			return nil
		},
		spec: func(n Net, im Image) supernet.Spec {
			return supernet.Mobile{Space: m, Width: n.WidthMult, InC: im.C, H: im.H, W: im.W, Classes: im.Classes}
		},
		angle: func(Net) angle.Net { return angle.Mobile(m) },
		flops: func(n Net, im Image) func(space.Child) int64 {
			mm := m
			mm.InChannels, mm.Classes = im.C, im.Classes
			return func(c space.Child) int64 { return mm.FLOPs(c, im.H, n.WidthMult) }
		},
	}
}

func positive(width, cells int) error {
	if width <= 0 {
		return fmt.Errorf("width = %d: want > 0", width)
	}
	if cells <= 0 {
		return fmt.Errorf("cells = %d: want > 0", cells)
	}
	return nil
}

// Lookup returns the family of the space named n.
func Lookup(n Name) (*Family, error) {
	f, ok := families[n]
	if !ok {
		var v Name
		return nil, v.UnmarshalText([]byte(n))
	}
	return f, nil
}

// All returns every family in the order of Names.
func All() []*Family {
	out := make([]*Family, 0, len(families))
	for _, n := range Names() {
		out = append(out, families[n])
	}
	return out
}

// Check returns an error naming the first field of n out of range for the family's network.
func (f *Family) Check(n Net) error { return f.check(n) }

// Spec returns the configuration of the family's supernet sized by n for images im. Pass it to
// supernet.New, train.NewTrainer, train.Resume or train.Standalone.
func (f *Family) Spec(n Net, im Image) (supernet.Spec, error) {
	if err := f.check(n); err != nil {
		return nil, fmt.Errorf("supernet for space %s: %w", f.Name, err)
	}
	spec := f.spec(n, im)
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("supernet for space %s: %w", f.Name, err)
	}
	return spec, nil
}

// Angle describes the family's supernet sized by n to the angle metric.
func (f *Family) Angle(n Net) angle.Net { return f.angle(n) }

// FLOPs returns the multiply-adds of one forward pass of a child of the supernet sized by n on
// one image of shape im.
func (f *Family) FLOPs(n Net, im Image) func(space.Child) int64 { return f.flops(n, im) }

// InitOf resolves i: InitAuthors to the family's Init, any other to the nn.Init of that name.
func (f *Family) InitOf(i Init) (nn.Init, error) {
	if i == InitAuthors {
		return f.Init, nil
	}
	return nn.ParseInit(string(i))
}

// IdleOf resolves u: IdleAuthors to the family's IdleUpdates.
func (f *Family) IdleOf(u IdleUpdates) bool {
	return u == IdleOn || (u == IdleAuthors && f.IdleUpdates)
}

// SamplingOf resolves s to PerCell, WholeNet or Fair: SamplingAuthors to the family's rule,
// Uniform to WholeNet. PerCell on a family without cells of their own is an error.
func (f *Family) SamplingOf(s Sampling) (Sampling, error) {
	switch s {
	case SamplingAuthors:
		return f.Sampling, nil
	case Uniform:
		return WholeNet, nil
	case PerCell:
		if f.layers == nil {
			return "", fmt.Errorf("sampling %s: not for space %s (its cells share one child)", s, f.Name)
		}
	}
	if !slices.Contains(Samplings(), s) {
		var v Sampling
		return "", v.UnmarshalText([]byte(s))
	}
	return s, nil
}

// Sampler returns the single-path sampler of rule s (resolved by SamplingOf) over the shrunk
// space sh of the supernet sized by n, seeded by seed.
func (f *Family) Sampler(s Sampling, n Net, sh space.Shrunk, seed uint64) (space.Sampler, error) {
	r, err := f.SamplingOf(s)
	if err != nil {
		return nil, err
	}
	switch r {
	case Fair:
		return space.NewFair(f.Space, sh, seed)
	case PerCell:
		return space.NewPerCell(sh, f.layers(n), seed)
	}
	return space.NewUniform(f.Space, sh, seed)
}

// Preset returns the family and network of the preset named name.
func Preset(name string) (*Family, Net, error) {
	for _, f := range All() {
		if n, ok := f.Presets[name]; ok {
			return f, n, nil
		}
	}
	return nil, Net{}, fmt.Errorf("preset %q: want one of %s", name, strings.Join(PresetNames(), ", "))
}

// PresetNames returns the names of every family's presets in sorted order.
func PresetNames() []string {
	var names []string
	for _, f := range All() {
		for n := range f.Presets {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
