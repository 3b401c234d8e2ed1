package nn

import (
	"sort"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/param"
)

// Supernet is a weight-sharing network whose children are given as one op code per choice point
// of its search space (space.Absent = −1 for an edge a DARTS child does not keep). Its weights live
// outside any graph; Backward and Logits build a fresh graph per call. *Net (NB201), *DARTSNet and
// *MobileNet implement it.
type Supernet interface {
	// Check returns an error unless child is a valid child of the net; a child whose output does
	// not depend on the input image gives an error wrapping ErrDisconnected.
	Check(child []int) error
	// Input converts a batch of NCHW float32 images to a tensor of the net's dtype.
	Input(images []float32, batch int) (*tensor.Dense, error)
	// Backward runs child on (x, labels) with batch norms in BNTrain mode, updating stats, and
	// returns the mean cross-entropy and the gradient of every parameter the child uses.
	Backward(child []int, x *tensor.Dense, labels []int, stats map[string]*Stats) (float64, map[string]*tensor.Dense, error)
	// Logits runs child on x with batch norms in mode and returns the B×Classes logits row by row.
	Logits(child []int, x *tensor.Dense, mode BNMode, stats map[string]*Stats) ([]float64, error)
	// Weights returns the trainable parameters by name (docs/weights.md); callers may update the
	// tensors in place.
	Weights() map[string]*tensor.Dense
	// RunningStats returns the batch-normalisation running statistics by layer name.
	RunningStats() map[string]*Stats
	// Set returns float32 copies of the trainable parameters.
	Set() param.Set
	// Load copies s into the parameters; s must hold exactly the net's names and shapes.
	Load(s param.Set) error
	// Shape returns the input image shape and the number of classes.
	Shape() Shape
}

// Shape is the input image shape and class count of a net.
type Shape struct{ InC, H, W, Classes int }

// Spec is the configuration of a supernet: Config (NB201), DARTSConfig or MobileConfig.
type Spec interface {
	// Build returns a net with weights initialised by init from seed.
	Build(dt tensor.Dtype, init Init, seed uint64) (Supernet, error)
}

// Build returns New(c, dt, init, seed).
func (c Config) Build(dt tensor.Dtype, init Init, seed uint64) (Supernet, error) {
	return New(c, dt, init, seed)
}

// Check returns an error unless arch is 6 op codes for every cell or 6 per cell, with every cell
// connected (see cellArchs).
func (n *Net) Check(arch []int) error {
	_, _, err := n.cellArchs(arch)
	return err
}

// Weights returns n.Params.
func (n *Net) Weights() map[string]*tensor.Dense { return n.Params }

// RunningStats returns n.Stats.
func (n *Net) RunningStats() map[string]*Stats { return n.Stats }

// Shape returns the input shape and classes of n.Config.
func (n *Net) Shape() Shape {
	return Shape{InC: n.Config.InC, H: n.Config.H, W: n.Config.W, Classes: n.Config.Classes}
}

// weightSet holds the shared weights and batch-norm statistics of a supernet.
type weightSet struct {
	// Dtype is tensor.Float32 for training or tensor.Float64 for gradient checks.
	Dtype tensor.Dtype
	// Params maps the parameter names of docs/weights.md to their tensors.
	Params map[string]*tensor.Dense
	// Stats maps batch-normalisation layer names to their running statistics.
	Stats map[string]*Stats
}

// Weights returns the parameters.
func (w *weightSet) Weights() map[string]*tensor.Dense { return w.Params }

// RunningStats returns the batch-normalisation statistics.
func (w *weightSet) RunningStats() map[string]*Stats { return w.Stats }

// Set returns float32 copies of the parameters.
func (w *weightSet) Set() param.Set { return paramSet(w.Params) }

// Load copies s into the parameters of the same name; names and shapes must match exactly.
func (w *weightSet) Load(s param.Set) error { return loadParams(w.Params, s) }

// initParams returns parameters of the given shapes initialised by init from seed, drawn in sorted
// name order so that the result depends only on the shapes, dt, init and seed.
func initParams(shapes map[string][]int, dt tensor.Dtype, init Init, seed uint64) map[string]*tensor.Dense {
	names := make([]string, 0, len(shapes))
	for name := range shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	rng := newRand(seed, streamInit)
	params := make(map[string]*tensor.Dense, len(names))
	for _, name := range names {
		params[name] = newParam(dt, shapes[name], initValues(init, name, shapes[name], shapes, rng))
	}
	return params
}
