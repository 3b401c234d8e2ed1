// Package param holds named float32 tensors: the weights that training produces and that the angle
// metric consumes. It knows no training library and does no I/O.
package param

import "sort"

// Tensor is a dense float32 tensor in row-major order. len(Data) equals the product of Shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Set maps parameter names to tensors. Names follow the convention in docs/weights.md.
type Set map[string]Tensor

// Names returns the parameter names in sorted order.
func (s Set) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Clone returns a deep copy of s.
func (s Set) Clone() Set {
	c := make(Set, len(s))
	for n, t := range s {
		c[n] = Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
	}
	return c
}
