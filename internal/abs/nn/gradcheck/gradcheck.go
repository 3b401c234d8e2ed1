// Package gradcheck compares analytic gradients with central finite differences: the one check
// behind the gradient tests of package nn (ops and the graph builder) and package supernet (whole
// networks).
package gradcheck

import (
	"math"
	"testing"
)

// H is the step of the central differences. In float64 it makes them accurate to about 1e-8 for
// the smooth losses the tests use.
const H = 1e-6

// Central checks, for each index i in at (every index of w when at is nil), that the analytic
// gradient g[i] equals the central difference (L(w+H·e_i) − L(w−H·e_i))/2H to rel relative error
// (absolute where the difference is below 1). loss evaluates L at the current w; w is restored
// after each probe. label names w in the error messages.
func Central(t testing.TB, label string, w, g []float64, at []int, rel float64, loss func() float64) {
	t.Helper()
	if at == nil {
		at = make([]int, len(w))
		for i := range at {
			at[i] = i
		}
	}
	for _, i := range at {
		old := w[i]
		w[i] = old + H
		lp := loss()
		w[i] = old - H
		lm := loss()
		w[i] = old
		fd := (lp - lm) / (2 * H)
		if math.Abs(fd-g[i]) > rel*math.Max(1, math.Abs(fd)) {
			t.Errorf("%s[%d]: analytic %.10g, finite difference %.10g", label, i, g[i], fd)
		}
	}
}
