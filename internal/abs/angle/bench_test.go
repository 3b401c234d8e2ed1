package angle

import (
	"math/rand/v2"
	"testing"

	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

// nb201Official returns random base and current weights shaped like the official NB201 supernet
// (C=16, N=5, 10 classes): stem, 15 cells of nor_conv_1x1 and nor_conv_3x3 on 6 edges, two ResNet
// reduction blocks, final BN and classifier; 1 686 106 weights in all (BN affine included).
func nb201Official(r *rand.Rand) (Net, param.Set, param.Set) {
	net := NB201(16, 5)
	base, cur := randomPair(net, nb201Parts, 0.3, r)
	for _, n := range []string{"stem.conv", "classifier.weight", "classifier.bias", "buffer.stem.bn.mean", "momentum.stem.conv"} {
		delete(base, n)
		delete(cur, n)
	}
	add := func(name string, shape ...int) {
		n := numel(shape)
		t0 := param.Tensor{Shape: shape, Data: make([]float32, n)}
		t1 := param.Tensor{Shape: shape, Data: make([]float32, n)}
		for i := range n {
			x := r.NormFloat64()
			t0.Data[i], t1.Data[i] = float32(x), float32(x+0.3*r.NormFloat64())
		}
		base[name], cur[name] = t0, t1
	}
	add("stem.conv", 16, 3, 3, 3)
	add("stem.bn.weight", 16)
	add("stem.bn.bias", 16)
	for i, c := range []int{16, 32} {
		p := []string{"reduce0.", "reduce1."}[i]
		add(p+"conv_a.conv", 2*c, c, 3, 3)
		add(p+"conv_a.bn.weight", 2*c)
		add(p+"conv_a.bn.bias", 2*c)
		add(p+"conv_b.conv", 2*c, 2*c, 3, 3)
		add(p+"conv_b.bn.weight", 2*c)
		add(p+"conv_b.bn.bias", 2*c)
		add(p+"shortcut.conv", 2*c, c, 1, 1)
	}
	add("lastact.bn.weight", 64)
	add("lastact.bn.bias", 64)
	add("classifier.weight", 10, 64)
	add("classifier.bias", 10)
	return net, base, cur
}

func allNB201() []space.Child {
	var all []space.Child
	space.NB201{}.Enumerate(space.NB201{}.Full(), func(c space.Child) bool {
		all = append(all, c.Clone())
		return true
	})
	return all
}

// BenchmarkNB201Fast scores all 15 625 NB201 children with the fast path, including the one-off
// per-op statistics (Compute) over the whole supernet.
func BenchmarkNB201Fast(b *testing.B) {
	net, base, cur := nb201Official(rand.New(rand.NewPCG(1, 1)))
	all := allNB201()
	b.ResetTimer()
	for b.Loop() {
		st, err := Compute(net, base, cur)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range all {
			if _, err := st.Angle(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(all))/b.Elapsed().Seconds(), "children/s")
}

// BenchmarkNB201FastChildOnly measures the per-child cost of the fast path once Compute is done.
func BenchmarkNB201FastChildOnly(b *testing.B) {
	net, base, cur := nb201Official(rand.New(rand.NewPCG(1, 1)))
	all := allNB201()
	st, err := Compute(net, base, cur)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, c := range all {
			if _, err := st.Angle(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(all))/b.Elapsed().Seconds(), "children/s")
}

// BenchmarkNB201Naive scores NB201 children one per iteration with the naive reference, cycling
// through the whole space in a fixed random order (enumeration order would start with the cheap
// children that `none` cuts); scoring all 15 625 this way takes about a minute, so it reports
// children/s.
func BenchmarkNB201Naive(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	net, base, cur := nb201Official(r)
	all := allNB201()
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	i := 0
	b.ResetTimer()
	for b.Loop() {
		if _, err := Naive(net, base, cur, all[i%len(all)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "children/s")
}

// TestOfficialShape checks the parameter count that the benchmark comment states. By hand:
// cells 5·6·(1+9)·(16²+32²+64²) = 1 612 800; stem 432+32; reduce0 4 608+64+9 216+64+512 = 14 464;
// reduce1 18 432+128+36 864+128+2 048 = 57 600; last BN 128; classifier 650; total 1 686 106.
func TestOfficialShape(t *testing.T) {
	_, base, _ := nb201Official(rand.New(rand.NewPCG(1, 1)))
	n := 0
	for _, t := range base {
		n += len(t.Data)
	}
	if n != 1686106 {
		t.Errorf("official-shaped supernet has %d weights, want 1686106", n)
	}
}
