package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConv measures one forward and both gradients of the ReLU-convolutions of the benchmark
// network (batch 64, 28×28 at C=8 and its later stages), float32.
func BenchmarkConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct{ c, hw, k, s, p int }{{8, 28, 3, 1, 1}, {8, 28, 1, 1, 0}, {16, 14, 3, 1, 1}, {32, 7, 3, 1, 1}, {8, 28, 3, 2, 1}} {
		o := c.c
		if c.s == 2 {
			o *= 2
		}
		x, w := toF32(randDense(rng, 64, c.c, c.hw, c.hw)), toF32(randDense(rng, o, c.c, c.k, c.k))
		g := convGeom{k: c.k, s: c.s, p: c.p, relu: true}
		gy := toF32(randDense(rng, 64, o, poolOut(c.hw, c.k, c.s, c.p), poolOut(c.hw, c.k, c.s, c.p)))
		b.Run(fmt.Sprintf("C=%d,%dx%d,k=%d,s=%d", c.c, c.hw, c.hw, c.k, c.s), func(b *testing.B) {
			cc := &convCache{keep: true}
			for i := 0; i < b.N; i++ {
				convFwd[float32](g, cc, x, w)
				convGradX[float32](g, cc, x, w, gy)
				convGradW[float32](g, cc, x, w, gy)
			}
		})
	}
}
