package train

import (
	"fmt"

	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

// NetConfig sizes a supernet independently of its space; Spec reads the fields that apply.
type NetConfig struct {
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

// Spec returns the configuration of the supernet of the space named spaceName ("nb201", "darts",
// "proxyless-gpu" or "fairnas", as space.Space.Name spells them) sized by c, with the image shape
// and class count of set. Pass it to NewTrainer, Resume or Standalone.
func Spec(spaceName string, c NetConfig, set *data.Set) (nn.Spec, error) {
	var spec interface {
		nn.Spec
		Validate() error
	}
	switch spaceName {
	case space.NB201{}.Name():
		spec = nn.Config{C: c.Width, N: c.Cells, InC: set.C, H: set.H, W: set.W, Classes: set.Classes}
	case space.DARTS{}.Name():
		spec = nn.DARTSConfig{C: c.Width, Cells: c.Cells, InC: set.C, H: set.H, W: set.W, Classes: set.Classes}
	case space.ProxylessGPU().Name():
		spec = nn.MobileConfig{Space: space.ProxylessGPU(), Width: c.WidthMult, InC: set.C, H: set.H, W: set.W, Classes: set.Classes}
	case space.FairNAS().Name():
		spec = nn.MobileConfig{Space: space.FairNAS(), Width: c.WidthMult, InC: set.C, H: set.H, W: set.W, Classes: set.Classes}
	default:
		return nil, fmt.Errorf("supernet for space %q: want nb201, darts, proxyless-gpu or fairnas", spaceName)
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("supernet for space %s: %w", spaceName, err)
	}
	return spec, nil
}
