// Package supernet holds the weight-sharing networks of the search spaces, built from the ops of
// package nn: the NAS-Bench-201 network (nb201.go), the DARTS search supernet (darts.go) and the
// MobileNet-like supernets of ProxylessNAS and FairNAS (mobile.go).
//
// A Spec (NB201, DARTS, Mobile) describes one architecture: the weights it holds, how a child's
// graph is built over them and which children are valid. Net is the one network type: it holds the
// weights outside any graph, builds a fresh graph per sampled child over them (nn.Build) and
// supplies what every architecture shares, backward and forward passes, input conversion and the
// weights' import and export.
package supernet

import (
	"errors"
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/param"
)

// Spec is the configuration of a supernet of one architecture: NB201, DARTS or Mobile. Children
// are given as one op code per choice point of the architecture's search space (for DARTS, the 14
// edges of the one cell every cell runs).
type Spec interface {
	// Validate returns an error naming the first field that is out of range.
	Validate() error
	// Shape returns the input image shape and the number of classes.
	Shape() Shape
	// Layout returns the shapes of the trainable parameters and the channel counts of the
	// batch-normalisation layers, by the names of docs/weights.md.
	Layout() (params map[string][]int, bns map[string]int)
	// Check returns an error unless child is a valid child of the net; a child whose output does
	// not depend on the input image gives an error wrapping ErrDisconnected.
	Check(child []int) error
	// Layers adds the layers of child, which Check accepted, from the input node in to the
	// B×Classes logits.
	Layers(b *nn.Builder, child []int, in *gorgonia.Node) *gorgonia.Node
}

// Shape is the input image shape and class count of a net.
type Shape struct{ InC, H, W, Classes int }

// ErrDisconnected is returned for a child whose output is unreachable from its input.
var ErrDisconnected = errors.New("output node is disconnected from the input")

// Net is a supernet: the shared weights and batch-normalisation statistics of every op of Spec's
// architecture, with graphs built per child over them.
type Net struct {
	// Spec is the architecture and its size.
	Spec Spec
	// Dtype is tensor.Float32 for training or tensor.Float64 for gradient checks.
	Dtype tensor.Dtype
	// Params maps the parameter names of docs/weights.md to their tensors.
	Params map[string]*tensor.Dense
	// Stats maps batch-normalisation layer names to their running statistics.
	Stats map[string]*nn.Stats
}

// New returns a supernet of spec with weights of dtype dt (float32 or float64) initialised by init
// from seed. Parameters are drawn in sorted name order, so the result depends only on spec, dt,
// init and seed.
func New(spec Spec, dt tensor.Dtype, init nn.Init, seed uint64) (*Net, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("net dtype %v, want float32 or float64", dt)
	}
	shapes, bns := spec.Layout()
	n := &Net{Spec: spec, Dtype: dt, Stats: make(map[string]*nn.Stats, len(bns))}
	for name, c := range bns {
		n.Stats[name] = nn.NewStats(c)
	}
	n.Params = nn.InitParams(shapes, dt, init, seed)
	return n, nil
}

// Check returns an error unless child is a valid child of the net (Spec.Check).
func (n *Net) Check(child []int) error { return n.Spec.Check(child) }

// Shape returns the input shape and classes of the net.
func (n *Net) Shape() Shape { return n.Spec.Shape() }

// Graph builds a fresh graph of child over the shared weights for the batch x (B×InC×H×W, of the
// net's dtype), with the loss if labels is not nil. Batch norms run in mode and read and update
// the running statistics in stats (usually n.Stats; a copy for Re-BN). An invalid child is an
// error.
func (n *Net) Graph(child []int, x *tensor.Dense, labels []int, mode nn.BNMode, stats map[string]*nn.Stats) (*nn.Graph, error) {
	if err := n.Spec.Check(child); err != nil {
		return nil, err
	}
	sh := n.Spec.Shape()
	if x == nil {
		return nil, fmt.Errorf("no input batch, want [B %d %d %d]", sh.InC, sh.H, sh.W)
	}
	if s := x.Shape(); s.Dims() != 4 || s[1] != sh.InC || s[2] != sh.H || s[3] != sh.W {
		return nil, fmt.Errorf("input shape %v, want [B %d %d %d]", s, sh.InC, sh.H, sh.W)
	}
	gr, err := nn.Build(n.Dtype, n.Params, stats, mode, x, labels, func(b *nn.Builder, in *gorgonia.Node) *gorgonia.Node {
		return n.Spec.Layers(b, child, in)
	})
	if err != nil {
		return nil, fmt.Errorf("build graph of %v: %w", child, err)
	}
	return gr, nil
}

// Backward runs child on the batch (x, labels) in BNTrain mode, updating the running statistics
// in stats, and returns the mean cross-entropy and the gradient of every parameter the child
// uses. The graph and its gradient nodes are fresh, so nothing accumulates across calls.
func (n *Net) Backward(child []int, x *tensor.Dense, labels []int, stats map[string]*nn.Stats) (float64, map[string]*tensor.Dense, error) {
	gr, err := n.Graph(child, x, labels, nn.BNTrain, stats)
	if err != nil {
		return 0, nil, err
	}
	loss, grads, err := gr.Backward()
	if err != nil {
		return 0, nil, fmt.Errorf("child %v: %w", child, err)
	}
	return loss, grads, nil
}

// Logits runs child on the batch x with batch norms in mode (BNEval for inference, BNRecompute to
// accumulate Re-BN statistics) and returns the B×Classes logits row by row.
func (n *Net) Logits(child []int, x *tensor.Dense, mode nn.BNMode, stats map[string]*nn.Stats) ([]float64, error) {
	gr, err := n.Graph(child, x, nil, mode, stats)
	if err != nil {
		return nil, err
	}
	out, err := gr.Forward()
	if err != nil {
		return nil, fmt.Errorf("child %v: %w", child, err)
	}
	return out, nil
}

// Input converts a batch of images (NCHW float32 values) to a tensor of the net's dtype.
func (n *Net) Input(images []float32, batch int) (*tensor.Dense, error) {
	s := n.Spec.Shape()
	if len(images) != batch*s.InC*s.H*s.W {
		return nil, fmt.Errorf("batch of %d values, want %d×%d×%d×%d", len(images), batch, s.InC, s.H, s.W)
	}
	if n.Dtype == tensor.Float32 {
		return tensor.New(tensor.WithShape(batch, s.InC, s.H, s.W), tensor.WithBacking(append([]float32(nil), images...))), nil
	}
	v := make([]float64, len(images))
	for i, x := range images {
		v[i] = float64(x)
	}
	return tensor.New(tensor.WithShape(batch, s.InC, s.H, s.W), tensor.WithBacking(v)), nil
}

// Weights returns the trainable parameters by name (docs/weights.md); callers may update the
// tensors in place.
func (n *Net) Weights() map[string]*tensor.Dense { return n.Params }

// RunningStats returns the batch-normalisation running statistics by layer name.
func (n *Net) RunningStats() map[string]*nn.Stats { return n.Stats }

// Set returns float32 copies of the parameters.
func (n *Net) Set() param.Set {
	s := make(param.Set, len(n.Params))
	for name, t := range n.Params {
		s[name] = param.Tensor{Shape: append([]int(nil), t.Shape()...), Data: toFloat32(t)}
	}
	return s
}

// Load copies s into the parameters of the same name; s must hold exactly the net's names and
// shapes.
func (n *Net) Load(s param.Set) error {
	for name, t := range n.Params {
		v, ok := s[name]
		if !ok {
			return fmt.Errorf("load weights: parameter %s missing", name)
		}
		if !slices.Equal(v.Shape, []int(t.Shape())) || len(v.Data) != t.Shape().TotalSize() {
			return fmt.Errorf("load weights: parameter %s has shape %v (%d values), want %v", name, v.Shape, len(v.Data), t.Shape())
		}
	}
	for name := range s {
		if _, ok := n.Params[name]; !ok {
			return fmt.Errorf("load weights: unknown parameter %s", name)
		}
	}
	for name, t := range n.Params {
		fromFloat32(t, s[name].Data)
	}
	return nil
}

func toFloat32(t *tensor.Dense) []float32 {
	switch d := t.Data().(type) {
	case []float32:
		return append([]float32(nil), d...)
	case []float64:
		f := make([]float32, len(d))
		for i, v := range d {
			f[i] = float32(v)
		}
		return f
	}
	panic(fmt.Sprintf("supernet: parameter dtype %v", t.Dtype())) // New only makes float32 and float64
}

func fromFloat32(t *tensor.Dense, v []float32) {
	switch d := t.Data().(type) {
	case []float32:
		copy(d, v)
	case []float64:
		for i, x := range v {
			d[i] = float64(x)
		}
	}
}
