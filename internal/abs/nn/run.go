package nn

import (
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Backward runs gr, which must have a loss, and returns the loss and the gradient of every
// parameter node in gr.Params. The gradient nodes are fresh, so nothing accumulates across calls.
// The buffers of gr's results are recycled before it returns: nothing may read gr's node values
// afterwards, and gr runs once.
func (gr *Graph) Backward() (float64, map[string]*tensor.Dense, error) {
	names := make([]string, 0, len(gr.Params))
	for name := range gr.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	wrt := make(gorgonia.Nodes, len(names))
	for i, name := range names {
		wrt[i] = gr.Params[name]
	}
	graphMu.Lock()
	gnodes, err := gorgonia.Grad(gr.Loss, wrt...)
	if err != nil {
		graphMu.Unlock()
		return 0, nil, fmt.Errorf("gradient: %w", err)
	}
	m := gorgonia.NewTapeMachine(gr.G, gorgonia.WithEngine(engine{}))
	graphMu.Unlock()
	if err := m.RunAll(); err != nil {
		m.Close()
		return 0, nil, fmt.Errorf("run graph: %w", err)
	}
	grads := make(map[string]*tensor.Dense, len(names))
	for i, name := range names {
		d, err := dense(gnodes[i].Value())
		if err != nil {
			m.Close()
			return 0, nil, fmt.Errorf("gradient of %s: %w", name, err)
		}
		grads[name] = d.Clone().(*tensor.Dense)
	}
	loss := scalar(gr.Loss.Value())
	m.Close()
	recycle(gr.G)
	return loss, grads, nil
}

// Forward runs gr and returns its logits row by row.
func (gr *Graph) Forward() ([]float64, error) {
	graphMu.Lock()
	m := gorgonia.NewTapeMachine(gr.G, gorgonia.WithEngine(engine{}))
	graphMu.Unlock()
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return nil, fmt.Errorf("run graph: %w", err)
	}
	d, err := dense(gr.Logits.Value())
	if err != nil {
		return nil, fmt.Errorf("logits: %w", err)
	}
	switch v := d.Data().(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, nil
	case []float64:
		return append([]float64(nil), v...), nil
	}
	return nil, fmt.Errorf("logits have dtype %v", d.Dtype())
}

func scalar(v gorgonia.Value) float64 {
	switch x := v.(type) {
	case *gorgonia.F32:
		return float64(*x)
	case *gorgonia.F64:
		return float64(*x)
	}
	panic(fmt.Sprintf("nn: loss value %T is not a scalar", v)) // CrossEntropy returns *F32 or *F64
}
