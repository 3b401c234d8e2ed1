package angle

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

// nb201Parts gives the tensors of an NB201 op at width c: one [c,c,k,k] conv for nor_conv_k×k.
func nb201Parts(op space.Op, c int) map[string][]int {
	if op.Kind != space.Conv {
		return nil
	}
	return map[string][]int{"conv": {c, c, op.Kernel, op.Kernel}}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// randomPair fills every searchable op of net (parts gives each op's tensors) and a few fixed
// weights with standard normal base values, and sets current = base + noise·N(0,1), so the angle
// is well inside (0, π/2). It adds a buffer and a momentum entry, which the angle must ignore.
func randomPair(net Net, parts func(space.Op, int) map[string][]int, noise float64, r *rand.Rand) (base, cur param.Set) {
	base, cur = param.Set{}, param.Set{}
	add := func(name string, shape []int) {
		n := numel(shape)
		t0 := param.Tensor{Shape: shape, Data: make([]float32, n)}
		t1 := param.Tensor{Shape: shape, Data: make([]float32, n)}
		for i := range n {
			x := r.NormFloat64()
			t0.Data[i] = float32(x)
			t1.Data[i] = float32(x + noise*r.NormFloat64())
		}
		base[name], cur[name] = t0, t1
	}
	for _, u := range net.Units {
		for _, e := range u.Graph.Edges {
			for _, op := range net.Ops {
				for part, shape := range parts(op, u.Channels) {
					add(opPrefix(u, e, op)+part, shape)
				}
			}
		}
	}
	add("stem.conv", []int{4, 3, 3, 3})
	add("classifier.weight", []int{10, 8})
	add("classifier.bias", []int{10})
	add("buffer.stem.bn.mean", []int{4})
	cur["buffer.stem.bn.mean"] = param.Tensor{Shape: []int{4}, Data: []float32{9, 9, 9, 9}}
	add("momentum.stem.conv", []int{7})
	return base, cur
}

func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

func checkAgree(t *testing.T, net Net, st *Stats, base, cur param.Set, c space.Child) {
	t.Helper()
	fast, err := st.Product(c)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := Naive(net, base, cur, c)
	if err != nil {
		t.Fatal(err)
	}
	if !relClose(fast.Dot, slow.Dot, 1e-9) || !relClose(fast.Base, slow.Base, 1e-9) || !relClose(fast.Cur, slow.Cur, 1e-9) {
		t.Fatalf("child %v: fast %+v, naive %+v", c, fast, slow)
	}
	if !relClose(fast.Angle(), slow.Angle(), 1e-9) {
		t.Fatalf("child %v: fast angle %.17g, naive %.17g", c, fast.Angle(), slow.Angle())
	}
}

func TestNB201FastMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	net := NB201(4, 2)
	base, cur := randomPair(net, nb201Parts, 0.7, r)
	st, err := Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	sp := space.NB201{}
	full := sp.Full()
	special := []space.Child{{0, 0, 0, 0, 0, 0}, {4, 4, 4, 4, 4, 4}, {1, 1, 1, 1, 1, 1}, {3, 0, 3, 0, 3, 3}}
	for _, c := range special {
		checkAgree(t, net, st, base, cur, c)
	}
	for range 300 {
		checkAgree(t, net, st, base, cur, sp.Sample(full, r))
	}
}

// TestHandComputed checks both implementations on weights small enough to do by hand.
func TestHandComputed(t *testing.T) {
	net := NB201(1, 1) // 3 cells with 1, 2, 4 channels
	scalar := func(x float32) param.Tensor { return param.Tensor{Shape: []int{1, 1, 1, 1}, Data: []float32{x}} }
	base, cur := param.Set{}, param.Set{}
	// Give every conv of every cell weight 0 except those named below, so only cell0 matters.
	for _, u := range net.Units {
		for _, e := range u.Graph.Edges {
			for _, op := range net.Ops {
				if op.Kind == space.Conv {
					n := opPrefix(u, e, op) + "conv"
					base[n], cur[n] = scalar(0), scalar(0)
				}
			}
		}
	}
	base["cell0.edge0.nor_conv_1x1.conv"], cur["cell0.edge0.nor_conv_1x1.conv"] = scalar(1), scalar(2)
	base["cell0.edge3.nor_conv_1x1.conv"], cur["cell0.edge3.nor_conv_1x1.conv"] = scalar(3), scalar(1)
	base["cell0.edge4.nor_conv_1x1.conv"], cur["cell0.edge4.nor_conv_1x1.conv"] = scalar(0), scalar(5)
	st, err := Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}

	// Child 1: edges (conv1x1, none, skip, conv1x1, conv1x1, skip). Live paths 0→3 (edge3),
	// 0→1→2→3 (edge0, skip, skip), 0→1→3 (edge0, edge4); 0→2→3 is cut. In every cell
	// V0 = [3, 1, 1, 0], V = [1, 2, 2, 5] (cells 1 and 2 add zeros):
	// <V0,V> = 3+2+2 = 7, ‖V0‖² = 9+1+1 = 11, ‖V‖² = 1+4+4+25 = 34.
	// Child 2: avg pools on edges 0 and 4, none elsewhere: only 0→1→3 lives; in cell i with
	// C=2^i channels each pool adds 9·C entries of 1/9 to both vectors, 2·C/9 per cell to each
	// sum, 2·(1+2+4)/9 = 14/9 in all; no fixed weights, so cos = 1.
	for _, tc := range []struct {
		c    space.Child
		want Product
	}{
		{space.Child{2, 0, 1, 2, 2, 1}, Product{Dot: 7, Base: 11, Cur: 34}},
		{space.Child{4, 0, 0, 0, 4, 0}, Product{Dot: 14.0 / 9, Base: 14.0 / 9, Cur: 14.0 / 9}},
	} {
		for name, got := range map[string]func() (Product, error){
			"fast":  func() (Product, error) { return st.Product(tc.c) },
			"naive": func() (Product, error) { return Naive(net, base, cur, tc.c) },
		} {
			p, err := got()
			if err != nil {
				t.Fatal(err)
			}
			if !relClose(p.Dot, tc.want.Dot, 1e-12) || !relClose(p.Base, tc.want.Base, 1e-12) || !relClose(p.Cur, tc.want.Cur, 1e-12) {
				t.Errorf("%s %v: got %+v, want %+v", name, tc.c, p, tc.want)
			}
		}
	}
	if got, want := (Product{Dot: 7, Base: 11, Cur: 34}).Angle(), math.Acos(7/math.Sqrt(11*34)); got != want {
		t.Errorf("Angle = %v, want %v", got, want)
	}
}

// TestDegenerate covers children whose every path is cut and zero vectors.
func TestDegenerate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	net := NB201(2, 1)
	base, cur := randomPair(net, nb201Parts, 0.5, r)
	allNone := space.Child{0, 0, 0, 0, 0, 0}
	cutAll := space.Child{3, 3, 0, 0, 0, 0} // nodes 1 and 2 reached, nothing reaches node 3
	st, err := Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	// With fixed weights, a fully cut child has the angle of the fixed weights alone.
	fixed := func(name string) Product { return product(base[name].Data, cur[name].Data) }
	var want Product
	for _, n := range []string{"stem.conv", "classifier.weight", "classifier.bias"} {
		want.add(fixed(n), 1)
	}
	for _, c := range []space.Child{allNone, cutAll} {
		got, err := st.Product(c)
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(got.Angle(), want.Angle(), 1e-12) || got.Angle() == 0 {
			t.Errorf("cut child %v: angle %v, want fixed-weights angle %v", c, got.Angle(), want.Angle())
		}
		checkAgree(t, net, st, base, cur, c)
	}
	// Without fixed weights a fully cut child has zero vectors and angle 0.
	for _, n := range []string{"stem.conv", "classifier.weight", "classifier.bias"} {
		delete(base, n)
		delete(cur, n)
	}
	st, err = Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []space.Child{allNone, cutAll} {
		p, err := st.Product(c)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Naive(net, base, cur, c)
		if err != nil {
			t.Fatal(err)
		}
		if p != (Product{}) || q != (Product{}) || p.Angle() != 0 {
			t.Errorf("cut child %v without fixed weights: fast %+v naive %+v angle %v, want zeros and 0", c, p, q, p.Angle())
		}
	}
	// All-zero base weights: ‖V0‖ = 0 for every child, angle 0.
	zero := base.Clone()
	for _, t := range zero {
		clear(t.Data)
	}
	st, err = Compute(net, zero, cur)
	if err != nil {
		t.Fatal(err)
	}
	// A conv-only child: no pooling constant, so V0 is exactly zero.
	if a, err := st.Angle(space.Child{3, 3, 3, 3, 3, 3}); err != nil || a != 0 {
		t.Errorf("zero base weights: angle %v, %v; want 0", a, err)
	}
	// Identical base and current weights: angle 0 up to rounding.
	st, err = Compute(net, base, base)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := st.Angle(space.Child{3, 4, 1, 2, 3, 4}); a > 1e-6 {
		t.Errorf("identical weights: angle %v, want ≈ 0", a)
	}
}

func TestComputeErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	net := NB201(2, 1)
	base, cur := randomPair(net, nb201Parts, 0.5, r)
	for name, mutate := range map[string]func(b, c param.Set){
		"missing in current": func(b, c param.Set) { delete(c, "stem.conv") },
		"missing in base":    func(b, c param.Set) { delete(b, "classifier.bias") },
		"size mismatch":      func(b, c param.Set) { c["stem.conv"] = param.Tensor{Shape: []int{1}, Data: []float32{1}} },
		"unknown op": func(b, c param.Set) {
			b["cell0.edge2.sep_conv_3x3.dw1"] = param.Tensor{Shape: []int{1}, Data: []float32{1}}
			c["cell0.edge2.sep_conv_3x3.dw1"] = param.Tensor{Shape: []int{1}, Data: []float32{1}}
		},
		"unknown cell": func(b, c param.Set) {
			b["cell9.edge2.nor_conv_1x1.conv"] = param.Tensor{Shape: []int{1}, Data: []float32{1}}
			c["cell9.edge2.nor_conv_1x1.conv"] = param.Tensor{Shape: []int{1}, Data: []float32{1}}
		},
		"conv without weights": func(b, c param.Set) {
			delete(b, "cell1.edge5.nor_conv_3x3.conv")
			delete(c, "cell1.edge5.nor_conv_3x3.conv")
		},
	} {
		b, c := base.Clone(), cur.Clone()
		mutate(b, c)
		if _, err := Compute(net, b, c); err == nil {
			t.Errorf("%s: Compute succeeded, want error", name)
		}
	}
	st, err := Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []space.Child{{1, 2, 3}, {1, 2, 3, 4, 5, 0}, {1, -2, 3, 4, 1, 0}} {
		if _, err := st.Angle(c); err == nil {
			t.Errorf("Angle(%v) succeeded, want error", c)
		}
	}
}

// TestComputeDeterministic computes the statistics of one weight pair many times: the angles must
// be the same bits every time (map iteration order is random in Go, and float sums depend on
// their order), so the same weights always give the same children artifact.
func TestComputeDeterministic(t *testing.T) {
	net, base, cur := nb201Official(rand.New(rand.NewPCG(3, 3)))
	children := [][]int{{3, 3, 3, 3, 3, 3}, {2, 1, 3, 4, 2, 3}, {1, 0, 0, 0, 0, 1}}
	var want []uint64
	for try := range 20 {
		st, err := Compute(net, base, cur)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range children {
			a, err := st.Angle(c)
			if err != nil {
				t.Fatal(err)
			}
			if try == 0 {
				want = append(want, math.Float64bits(a))
			} else if got := math.Float64bits(a); got != want[i] {
				t.Fatalf("try %d, child %v: angle %x, first try %x", try, c, got, want[i])
			}
		}
	}
}
