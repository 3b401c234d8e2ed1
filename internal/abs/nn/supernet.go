package nn

import (
	"sort"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/param"
)

// Supernet is a weight-sharing network whose children are given as one op code per choice point
// of its search space (for DARTS, the 14 edges of the one cell every cell runs). Its weights live
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

// An architecture builds the graph of a child of its supernet and checks a child; body supplies
// the rest of Supernet from it.
type architecture interface {
	Check(child []int) error
	// Graph builds the graph of child on the batch x (labels nil for logits only) with batch
	// norms in mode.
	Graph(child []int, x *tensor.Dense, labels []int, mode BNMode, stats map[string]*Stats) (*Graph, error)
}

// body holds what every supernet shares: its shared weights and batch-norm statistics, its input
// shape, and Backward, Logits, Input, Shape, Weights, RunningStats, Set and Load over the graphs
// its architecture builds. Each net (*Net, *DARTSNet, *MobileNet) embeds one and sets arch to
// itself.
type body struct {
	// Dtype is tensor.Float32 for training or tensor.Float64 for gradient checks.
	Dtype tensor.Dtype
	// Params maps the parameter names of docs/weights.md to their tensors.
	Params map[string]*tensor.Dense
	// Stats maps batch-normalisation layer names to their running statistics.
	Stats map[string]*Stats

	shape Shape
	arch  architecture
}

func newBody(dt tensor.Dtype, shape Shape) body {
	return body{Dtype: dt, Params: map[string]*tensor.Dense{}, Stats: map[string]*Stats{}, shape: shape}
}

// Backward runs child on the batch (x, labels) in BNTrain mode, updating the running statistics
// in stats, and returns the mean cross-entropy and the gradient of every parameter the child
// uses. The graph and its gradient nodes are fresh, so nothing accumulates across calls.
func (b *body) Backward(child []int, x *tensor.Dense, labels []int, stats map[string]*Stats) (float64, map[string]*tensor.Dense, error) {
	gr, err := b.arch.Graph(child, x, labels, BNTrain, stats)
	if err != nil {
		return 0, nil, err
	}
	return gradients(gr, child)
}

// Logits runs child on the batch x with batch norms in mode (BNEval for inference, BNRecompute to
// accumulate Re-BN statistics) and returns the B×Classes logits row by row.
func (b *body) Logits(child []int, x *tensor.Dense, mode BNMode, stats map[string]*Stats) ([]float64, error) {
	gr, err := b.arch.Graph(child, x, nil, mode, stats)
	if err != nil {
		return nil, err
	}
	return logits(gr, child)
}

// Input converts a batch of images (NCHW float32 values) to a tensor of the net's dtype.
func (b *body) Input(images []float32, batch int) (*tensor.Dense, error) {
	return input(b.Dtype, images, batch, b.shape.InC, b.shape.H, b.shape.W)
}

// Shape returns the input shape and classes of the net.
func (b *body) Shape() Shape { return b.shape }

// Weights returns the parameters.
func (b *body) Weights() map[string]*tensor.Dense { return b.Params }

// RunningStats returns the batch-normalisation statistics.
func (b *body) RunningStats() map[string]*Stats { return b.Stats }

// Set returns float32 copies of the parameters.
func (b *body) Set() param.Set { return paramSet(b.Params) }

// Load copies s into the parameters of the same name; names and shapes must match exactly.
func (b *body) Load(s param.Set) error { return loadParams(b.Params, s) }

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
