package score

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

// codeSum rates a child by the sum of its op codes: over the full NB201 space the exact score of
// op o is o + 5·2 = o + 10, since each other edge's code averages (0+1+2+3+4)/5 = 2.
var codeSum = Accuracy{Label: "code-sum", Of: func(c space.Child) (float64, error) {
	s := 0
	for _, o := range c {
		s += o
	}
	return float64(s), nil
}}

func TestExactCodeSum(t *testing.T) {
	sp := space.NB201{}
	got, err := Run(sp, sp.Full(), codeSum, Sampled{}, &Exact{Limit: 15625})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 {
		t.Fatalf("%d scores, want 30", len(got))
	}
	for i, s := range got {
		if s.Point != i/5 || s.Op != i%5 || s.Samples != 3125 || s.Score != float64(s.Op)+10 {
			t.Errorf("score %d = %+v, want point %d op %d samples 3125 score %d", i, s, i/5, i%5, i%5+10)
		}
	}
	if _, err := Run(sp, sp.Full(), codeSum, Sampled{}, &Exact{Limit: 15624}); err == nil {
		t.Error("exact scoring over the limit succeeded")
	}
}

// TestExactBound: with the FLOPs bound at the cost of one 3×3 conv per cell, the admissible
// children have at most one nor_conv_3x3 and no 1×1 conv beyond that budget.
func TestExactBound(t *testing.T) {
	sp := space.NB201{}
	net := space.NB201Net{C: 16, N: 5, Resolution: 32, InChannels: 3, Classes: 10}
	bound := Bound{FLOPs: net.FLOPs, Max: net.FLOPs(space.Child{3, 0, 0, 0, 0, 0})}
	draws, err := DrawExact(sp, sp.Full(), 15625, bound)
	if err != nil {
		t.Fatal(err)
	}
	// Cost in 1×1 units per cell: 1×1 = 1, 3×3 = 9; budget 9. Children: the 3^6 = 729 with only
	// none/skip/pool, plus one 3×3 and the rest free (6·729/3 = 1458), plus j∈1..6 1×1 convs and
	// the rest free (Σ_j C(6,j)·3^(6-j) = 4^6 − 3^6 = 3367): 729 + 1458 + 3367 = 5554.
	if len(draws) != 5554 {
		t.Fatalf("%d children within the bound, want 5554", len(draws))
	}
	for _, d := range draws {
		if net.FLOPs(d.Child) > bound.Max {
			t.Fatalf("child %v over the bound", d.Child)
		}
	}
}

func TestSampled(t *testing.T) {
	sp := space.NB201{}
	cfg := Sampled{PerOp: 400, Seed: 11}
	draws, err := DrawSampled(sp, sp.Full(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(draws) != 30*400 {
		t.Fatalf("%d draws, want 12000", len(draws))
	}
	seen := map[string]bool{}
	for _, d := range draws {
		k := sp.Format(d.Child)
		if seen[k] {
			t.Fatalf("child %s drawn twice", k)
		}
		seen[k] = true
		if d.Child[d.Point] != d.Op {
			t.Fatalf("draw %+v does not take its op", d)
		}
	}
	again, _ := DrawSampled(sp, sp.Full(), cfg)
	if !slices.EqualFunc(draws, again, func(a, b Draw) bool { return slices.Equal(a.Child, b.Child) && a.Point == b.Point }) {
		t.Error("same seed gave different draws")
	}
	cfg.Seed = 12
	other, _ := DrawSampled(sp, sp.Full(), cfg)
	if slices.EqualFunc(draws, other, func(a, b Draw) bool { return slices.Equal(a.Child, b.Child) }) {
		t.Error("different seeds gave the same draws")
	}
	v, err := Evaluate(codeSum, draws)
	if err != nil {
		t.Fatal(err)
	}
	scores, err := Aggregate(sp.Full(), draws, v)
	if err != nil {
		t.Fatal(err)
	}
	// The other 5 codes sum to 10 on average with sd √(5·2) ≈ 3.16; a mean of 400 has sd 0.16.
	// Draws are without replacement across ops, which barely matters at 12 000 of 15 625.
	for _, s := range scores {
		if s.Samples != 400 || math.Abs(s.Score-float64(s.Op+10)) > 0.8 {
			t.Errorf("score %+v, want 400 samples and ≈ %d", s, s.Op+10)
		}
	}
}

func TestSampledSmallSpaceAndBound(t *testing.T) {
	sp := space.NB201{}
	// 2·2·1·1·1·1 = 4 children; each op's conditioned space has 2 of them.
	s := space.Shrunk{Allowed: [][]int{{1, 3}, {2, 4}, {3}, {3}, {3}, {3}}}
	draws, err := DrawSampled(sp, s, Sampled{PerOp: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Edge 0 takes all 4 children (2 per op); nothing is left for the others.
	if len(draws) != 4 {
		t.Fatalf("%d draws, want 4", len(draws))
	}
	scores, err := Aggregate(s, draws, make([]float64, 4))
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scores {
		want := 0
		if sc.Point == 0 {
			want = 2
		}
		if sc.Samples != want || (want == 0) != math.IsNaN(sc.Score) {
			t.Errorf("score %+v, want %d samples (NaN score when none)", sc, want)
		}
	}
	net := space.NB201Net{C: 16, N: 5, Resolution: 32, InChannels: 3, Classes: 10}
	b := Bound{FLOPs: net.FLOPs, Max: net.FLOPs(space.Child{1, 1, 1, 1, 1, 1})}
	draws, err = DrawSampled(sp, sp.Full(), Sampled{PerOp: 20, Tries: 5000, Seed: 2, Bound: b})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range draws {
		if net.FLOPs(d.Child) > b.Max {
			t.Fatalf("child %v over the bound", d.Child)
		}
		if d.Op == space.NB201Conv1x1 || d.Op == space.NB201Conv3x3 {
			t.Fatalf("conv op drawn under a conv-free bound: %+v", d)
		}
	}
	if len(draws) != 6*3*20 {
		t.Errorf("%d draws, want 360 (3 conv-free ops on 6 edges, 20 each)", len(draws))
	}
}

func TestRandomMetric(t *testing.T) {
	r := Random{Seed: 5}
	a, _ := r.Child(space.Child{1, 2, 3, 4, 0, 1})
	b, _ := r.Child(space.Child{1, 2, 3, 4, 0, 2})
	a2, _ := r.Child(space.Child{1, 2, 3, 4, 0, 1})
	c, _ := Random{Seed: 6}.Child(space.Child{1, 2, 3, 4, 0, 1})
	if a != a2 || a == b || a == c || a < 0 || a >= 1 {
		t.Errorf("random values %v %v %v %v: want deterministic, child- and seed-dependent, in [0,1)", a, a2, b, c)
	}
	// Over the full space the random scores of all ops are ≈ 0.5 (sd of a mean of 3125 ≈ 0.005).
	sp := space.NB201{}
	scores, err := Run(sp, sp.Full(), r, Sampled{}, &Exact{Limit: 15625})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scores {
		if math.Abs(s.Score-0.5) > 0.03 {
			t.Errorf("random score %+v, want ≈ 0.5", s)
		}
	}
}

// TestAngleScores checks exact angle scores against means of naive angles computed here.
func TestAngleScores(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	net := angle.NB201(2, 1)
	base, cur := param.Set{}, param.Set{}
	add := func(name string, n int) {
		t0, t1 := make([]float32, n), make([]float32, n)
		for i := range n {
			x := r.NormFloat64()
			t0[i], t1[i] = float32(x), float32(x+r.NormFloat64())
		}
		base[name], cur[name] = param.Tensor{Shape: []int{n}, Data: t0}, param.Tensor{Shape: []int{n}, Data: t1}
	}
	for c := range 3 {
		for e := range 6 {
			w := 2 << c
			add("cell"+string(rune('0'+c))+".edge"+string(rune('0'+e))+".nor_conv_1x1.conv", w*w)
			add("cell"+string(rune('0'+c))+".edge"+string(rune('0'+e))+".nor_conv_3x3.conv", 9*w*w)
		}
	}
	add("stem.conv", 54)
	st, err := angle.Compute(net, base, cur)
	if err != nil {
		t.Fatal(err)
	}
	sp := space.NB201{}
	s := space.Shrunk{Allowed: [][]int{{0, 3}, {1, 2}, {2, 4}, {0, 3}, {3, 4}, {1, 2}}}
	got, err := Run(sp, s, Angle{Stats: st}, Sampled{}, &Exact{Limit: 64})
	if err != nil {
		t.Fatal(err)
	}
	sum := map[[2]int]float64{}
	n := map[[2]int]int{}
	sp.Enumerate(s, func(c space.Child) bool {
		p, err := angle.Naive(net, base, cur, c)
		if err != nil {
			t.Fatal(err)
		}
		for e, o := range c {
			sum[[2]int{e, o}] += p.Angle()
			n[[2]int{e, o}]++
		}
		return true
	})
	for _, g := range got {
		k := [2]int{g.Point, g.Op}
		want := sum[k] / float64(n[k])
		if g.Samples != 32 || math.Abs(g.Score-want) > 1e-9*want {
			t.Errorf("angle score %+v, want 32 samples and %v", g, want)
		}
	}
}

func TestAggregateErrors(t *testing.T) {
	s := space.Shrunk{Allowed: [][]int{{1, 3}, {2}, {3}, {3}, {3}, {3}}}
	c := space.Child{1, 2, 3, 3, 3, 3}
	for name, tc := range map[string]struct {
		d []Draw
		v []float64
	}{
		"length":    {[]Draw{{Child: c, Point: -1}}, nil},
		"wrong op":  {[]Draw{{Child: c, Point: 0, Op: 3}}, []float64{1}},
		"not in s":  {[]Draw{{Child: space.Child{4, 2, 3, 3, 3, 3}, Point: -1}}, []float64{1}},
		"nan":       {[]Draw{{Child: c, Point: -1}}, []float64{math.NaN()}},
		"short kid": {[]Draw{{Child: c[:3], Point: -1}}, []float64{1}},
	} {
		if _, err := Aggregate(s, tc.d, tc.v); err == nil {
			t.Errorf("%s: Aggregate succeeded, want error", name)
		}
	}
}

func TestNoChildren(t *testing.T) {
	sp := space.NB201{}
	net := space.NB201Net{C: 16, N: 5, Resolution: 32, InChannels: 3, Classes: 10}
	b := Bound{FLOPs: net.FLOPs, Max: 1000} // below the stem alone
	for _, ex := range []*Exact{nil, {Limit: 15625, Bound: b}} {
		_, err := Run(sp, sp.Full(), Random{}, Sampled{PerOp: 3, Bound: b}, ex)
		if !errors.Is(err, ErrNoChildren) {
			t.Errorf("exact=%v: err %v, want ErrNoChildren", ex != nil, err)
		}
	}
}

// TestSampledDARTS draws 3 children for each of the 14·8 ops of the full DARTS space: every op
// gets 3 distinct repaired children that take it, except none on the two edges of node 2, which
// no child takes (SampleAt returns nil), so 14·8 − 2 ops times 3 draws; those two score NaN.
func TestSampledDARTS(t *testing.T) {
	sp := space.DARTS{}
	draws, err := DrawSampled(sp, sp.Full(), Sampled{PerOp: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(draws) != (14*8-2)*3 {
		t.Fatalf("%d draws, want 330", len(draws))
	}
	seen := map[string]bool{}
	for _, d := range draws {
		if err := sp.Check(sp.Full(), d.Child); err != nil {
			t.Fatal(err)
		}
		if d.Child[d.Point] != d.Op || seen[sp.Format(d.Child)] {
			t.Fatalf("draw %+v does not take its op or repeats", d)
		}
		if d.Op == space.DARTSNone && d.Point < 2 {
			t.Fatalf("draw %+v: none on an edge of node 2", d)
		}
		seen[sp.Format(d.Child)] = true
	}
	values := make([]float64, len(draws))
	scores, err := Aggregate(sp.Full(), draws, values)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scores {
		if nan := math.IsNaN(sc.Score); nan != (sc.Op == space.DARTSNone && sc.Point < 2) {
			t.Errorf("edge %d op %d: score %v from %d samples", sc.Point, sc.Op, sc.Score, sc.Samples)
		}
	}
}
