package angle

import (
	"math/rand/v2"
	"testing"

	"github.com/abs-nas/abs/internal/abs/space"
)

// mobileParts gives small MBConv tensors (the angle does not depend on real shapes).
func mobileParts(op space.Op, _ int) map[string][]int {
	if op.Kind != space.Conv {
		return nil
	}
	return map[string][]int{"expand": {6, 2, 1, 1}, "dw": {6, 1, op.Kernel, op.Kernel}, "project": {2, 6, 1, 1}}
}

func TestMobileFastMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, m := range []space.Mobile{space.ProxylessGPU(), space.FairNAS()} {
		net := Mobile(m)
		base, cur := randomPair(net, mobileParts, 0.6, r)
		if _, ok := base["layer3.mb_k5_e6.expand"]; !ok {
			t.Fatalf("%s: weights not named layer{l}.{op}.{part}", m.Name())
		}
		st, err := Compute(net, base, cur)
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			checkAgree(t, net, st, base, cur, m.Sample(m.Full(), r))
		}
	}
	// All-identity where allowed: only the 6 first-of-stage MBConvs and the fixed weights count.
	px := space.ProxylessGPU()
	net := Mobile(px)
	base, cur := randomPair(net, mobileParts, 0.6, r)
	st, err := Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	c := make(space.Child, 21)
	for p := range c {
		c[p] = space.MobileIdentity
		if p%4 == 0 {
			c[p] = 1
		}
	}
	checkAgree(t, net, st, base, cur, c)
}
