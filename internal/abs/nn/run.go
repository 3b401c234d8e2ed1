package nn

import (
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gradients runs the graph gr of child arch and returns its loss and the gradient of every
// parameter node in gr.Params.
func gradients(gr *Graph, arch []int) (float64, map[string]*tensor.Dense, error) {
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
		return 0, nil, fmt.Errorf("gradient of %v: %w", arch, err)
	}
	m := gorgonia.NewTapeMachine(gr.G)
	graphMu.Unlock()
	if err := m.RunAll(); err != nil {
		m.Close()
		return 0, nil, fmt.Errorf("run %v: %w", arch, err)
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

// logits runs the graph gr of child arch and returns its logits row by row.
func logits(gr *Graph, arch []int) ([]float64, error) {
	graphMu.Lock()
	m := gorgonia.NewTapeMachine(gr.G)
	graphMu.Unlock()
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return nil, fmt.Errorf("run %v: %w", arch, err)
	}
	d, err := dense(gr.Logits.Value())
	if err != nil {
		return nil, fmt.Errorf("logits of %v: %w", arch, err)
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
	return nil, fmt.Errorf("logits of %v have dtype %v", arch, d.Dtype())
}

// input converts batch images of shape inC×h×w to a tensor of dtype dt.
func input(dt tensor.Dtype, images []float32, batch, inC, h, w int) (*tensor.Dense, error) {
	if len(images) != batch*inC*h*w {
		return nil, fmt.Errorf("batch of %d values, want %d×%d×%d×%d", len(images), batch, inC, h, w)
	}
	if dt == tensor.Float32 {
		return tensor.New(tensor.WithShape(batch, inC, h, w), tensor.WithBacking(append([]float32(nil), images...))), nil
	}
	v := make([]float64, len(images))
	for i, x := range images {
		v[i] = float64(x)
	}
	return tensor.New(tensor.WithShape(batch, inC, h, w), tensor.WithBacking(v)), nil
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
