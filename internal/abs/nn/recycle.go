package nn

import (
	"sync"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Op results are recycled across training steps: Backward hands the results of our ops back once
// it has copied the gradients out, and newDense takes them again (zeroed) for the next step. The
// results have a handful of sizes, the same at every step, so this replaces most of a step's
// allocations (and the page faults and collections they cause) by clearing memory.
var (
	outMu sync.Mutex
	out32 = map[int][][]float32{}
	out64 = map[int][][]float64{}
)

// maxOut bounds the buffers kept per size and element type. A step hands back what it took, so the
// lists hold at most one step's results; it is well above the about 100 buffers of one size a
// DARTS-small step takes (a bound below that has the rest allocated, and page-faulted in, anew at
// every step).
const maxOut = 1024

func outList[T float]() map[int][][]T {
	var m any
	switch any(T(0)).(type) {
	case float32:
		m = out32
	default:
		m = out64
	}
	return m.(map[int][][]T)
}

// getOut returns a slice of n elements, zeroed if zero is set, else with arbitrary contents.
func getOut[T float](n int, zero bool) []T {
	outMu.Lock()
	m := outList[T]()
	l := m[n]
	if len(l) == 0 {
		outMu.Unlock()
		return make([]T, n)
	}
	s := l[len(l)-1]
	m[n] = l[:len(l)-1]
	outMu.Unlock()
	if zero {
		clear(s)
	}
	return s
}

// recycle hands back the results of the kernelOps of g. Nothing may use them afterwards: call it
// once the graph's values have been copied out and its machine is closed.
func recycle(g *gorgonia.ExprGraph) {
	// seen holds the first element of every buffer handed back, and of every input's (weights,
	// images): an op that returned an input unchanged must not hand the input's storage out.
	seen := map[any]bool{}
	for _, n := range g.AllNodes() {
		if n.Op() != nil {
			continue
		}
		if d, ok := n.Value().(*tensor.Dense); ok {
			switch v := d.Data().(type) {
			case []float32:
				if len(v) > 0 {
					seen[&v[0]] = true
				}
			case []float64:
				if len(v) > 0 {
					seen[&v[0]] = true
				}
			}
		}
	}
	outMu.Lock()
	defer outMu.Unlock()
	for _, n := range g.AllNodes() {
		if _, ok := n.Op().(*kernelOp); !ok {
			continue
		}
		d, ok := n.Value().(*tensor.Dense)
		if !ok || d.IsView() {
			continue
		}
		switch v := d.Data().(type) {
		case []float32:
			if len(v) > 0 && !seen[&v[0]] {
				seen[&v[0]] = true
				if l := out32[len(v)]; len(l) < maxOut {
					out32[len(v)] = append(l, v)
				}
			}
		case []float64:
			if len(v) > 0 && !seen[&v[0]] {
				seen[&v[0]] = true
				if l := out64[len(v)]; len(l) < maxOut {
					out64[len(v)] = append(l, v)
				}
			}
		}
	}
}
