package train

import "sort"

// Preset is a scaled-down supernet that trains one epoch on a 2000-image Fashion-MNIST subset in a
// few minutes on two CPU cores; docs/benchmarks.md (## Presets) lists the measured time per epoch.
type Preset struct {
	// Space names the search space as Spec expects it.
	Space string
	// Net sizes the supernet.
	Net NetConfig
}

// Presets are the scaled-down supernets by name:
//
//	nb201-small      NB201, C = 8, one cell per stage (3 cells)
//	darts-small      DARTS, C = 8, 5 cells (reduce cells 1 and 3)
//	proxyless-small  ProxylessNAS-GPU layout at width multiplier 0.25
//	fairnas-small    FairNAS layout at width multiplier 0.25
//
// The MobileNet-like presets keep the ImageNet strides (stem and five stages of stride 2), so a
// 28×28 image is 14×14 after the stem and 1×1 in the last stage.
var Presets = map[string]Preset{
	"nb201-small":     {Space: "nb201", Net: NetConfig{Width: 8, Cells: 1}},
	"darts-small":     {Space: "darts", Net: NetConfig{Width: 8, Cells: 5}},
	"proxyless-small": {Space: "proxyless-gpu", Net: NetConfig{WidthMult: 0.25}},
	"fairnas-small":   {Space: "fairnas", Net: NetConfig{WidthMult: 0.25}},
}

// PresetNames returns the names of Presets in sorted order.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
