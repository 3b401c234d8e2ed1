package shrink

import (
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
)

// scoresOf returns one score per allowed op of s from f.
func scoresOf(s space.Shrunk, f func(p, o int) float64) []score.OpScore {
	var out []score.OpScore
	for p, l := range s.Allowed {
		for _, o := range l {
			out = append(out, score.OpScore{Point: p, Op: o, Score: f(p, o), Samples: 10})
		}
	}
	return out
}

// TestFixedCountNB201 drops 20 of 30 NB201 ops with score = op code: all 6 none, all 6
// skip_connect, all 6 nor_conv_1x1 (18), then, among the tied nor_conv_3x3, those of edges 0 and
// 1. Left: edges 0, 1 keep avg_pool_3x3; edges 2–5 keep nor_conv_3x3 and avg_pool_3x3: 2⁴ = 16.
func TestFixedCountNB201(t *testing.T) {
	sp := space.NB201{}
	st := Start(sp.Full())
	cfg := Config{Policy: FixedCount, K: 20}
	next, rec, err := Step(sp, st, scoresOf(st.Space, func(p, o int) float64 { return float64(o) }), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{4}, {4}, {3, 4}, {3, 4}, {3, 4}, {3, 4}}
	if !slices.EqualFunc(next.Space.Allowed, want, slices.Equal) {
		t.Fatalf("space after = %v, want %v", next.Space.Allowed, want)
	}
	if rec.SizeBefore.Int64() != 15625 || rec.SizeAfter.Int64() != 16 || rec.RemovedTotal != 20 || next.Removed != 20 {
		t.Errorf("stage %+v", rec)
	}
	if len(rec.Decisions) != 30 || len(rec.Dropped()) != 20 {
		t.Fatalf("%d decisions, %d dropped; want 30, 20", len(rec.Decisions), len(rec.Dropped()))
	}
	// Global ranks: the six avg pools (score 4) are 1..6 with edge 5 best; edge 0's none is 30.
	for _, d := range rec.Decisions {
		if d.Op == 4 && d.Rank != 6-d.Point {
			t.Errorf("avg pool on edge %d has rank %d, want %d", d.Point, d.Rank, 6-d.Point)
		}
		if d.Op == 0 && d.Point == 0 && d.Rank != 30 {
			t.Errorf("none on edge 0 has rank %d, want 30", d.Rank)
		}
	}
	if !Done(sp, next, cfg) {
		t.Error("fixed-count shrinking not done after one stage")
	}
}

func TestNeverLastOp(t *testing.T) {
	sp := space.NB201{}
	st := Start(sp.Full())
	// Every op of edge 2 scores below every other op.
	f := func(p, o int) float64 {
		if p == 2 {
			return -100 + float64(o)
		}
		return float64(10*p + o)
	}
	next, rec, err := Step(sp, st, scoresOf(st.Space, f), Config{Policy: GlobalTail, K: 6})
	if err != nil {
		t.Fatal(err)
	}
	// Edge 2 loses ops 0..3 and keeps 4; then the two lowest elsewhere: edge 0 ops 0 and 1.
	want := [][]int{{2, 3, 4}, {0, 1, 2, 3, 4}, {4}, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}}
	if !slices.EqualFunc(next.Space.Allowed, want, slices.Equal) {
		t.Fatalf("space after = %v, want %v", next.Space.Allowed, want)
	}
	d := rec.Dropped()
	if len(d) != 6 || d[0].Score != -100 || d[5].Score != 1 {
		t.Errorf("dropped %+v", d)
	}
}

func TestOnePerEdgeAndNaN(t *testing.T) {
	sp := space.NB201{}
	s := space.Shrunk{Allowed: [][]int{{1, 3}, {2}, {0, 2, 4}, {3, 4}, {0, 1}, {1, 2, 3}}}
	scores := scoresOf(s, func(p, o int) float64 { return float64((p*7+o*3)%5) + 0.5 })
	// An op with no sample ranks last on its edge and is dropped even though others score 0.5.
	for i := range scores {
		if scores[i].Point == 5 && scores[i].Op == 2 {
			scores[i].Score, scores[i].Samples = math.NaN(), 0
		}
	}
	next, rec, err := Step(sp, Start(s), scores, Config{Policy: OnePerEdge})
	if err != nil {
		t.Fatal(err)
	}
	// Scores (p*7+o*3)%5 + .5: edge0 {1:0.5,3:1.5} drop 1; edge2 {0:4.5,2:0.5,4:1.5} drop 2;
	// edge3 {3:1.5,4:4.5} drop 3; edge4 {0:3.5,1:1.5} drop 1; edge5 {1:3.5,2:NaN,3:4.5} drop 2.
	want := [][]int{{3}, {2}, {0, 4}, {4}, {0}, {1, 3}}
	if !slices.EqualFunc(next.Space.Allowed, want, slices.Equal) {
		t.Fatalf("space after = %v, want %v", next.Space.Allowed, want)
	}
	for _, d := range rec.Decisions {
		if d.Point == 5 && d.Op == 2 && d.Rank != 3 {
			t.Errorf("NaN op rank %d, want 3 (last of 3)", d.Rank)
		}
		if d.Point == 1 && (d.Rank != 1 || d.Dropped) {
			t.Errorf("single op of edge 1: %+v, want rank 1 kept", d)
		}
	}
	if rec.RemovedTotal != 5 {
		t.Errorf("removed %d, want 5", rec.RemovedTotal)
	}
}

// TestRunThresholdAndReset shrinks NB201 with GlobalTail K=4 and a reset limit of 10 until the
// space has at most 100 children, rescoring every stage.
func TestRunThresholdAndReset(t *testing.T) {
	sp := space.NB201{}
	cfg := Config{Policy: GlobalTail, K: 4, Threshold: big.NewInt(100), ResetAfter: 10}
	calls := 0
	final, stages, err := Run(sp, Start(sp.Full()), cfg, func(st State) ([]score.OpScore, error) {
		calls++
		return scoresOf(st.Space, func(p, o int) float64 { return float64(o*6 + p) }), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Score o·6+p orders ops by code, then edge. Stage 0 drops none on edges 0–3 (4⁴·5² = 6400);
	// stage 1 none on 4, 5 and skip on 0, 1 (3²·4⁴ = 2304); stage 2 skip on 2–5 (3⁶ = 729);
	// stage 3 nor_conv_1x1 on 0–3 (2⁴·3² = 144); stage 4 nor_conv_1x1 on 4, 5 and nor_conv_3x3
	// on 0, 1 (1²·2⁴ = 16 ≤ 100, done).
	wantSizes := []int64{15625, 6400, 2304, 729, 144, 16}
	if len(stages) != 5 || calls != 5 {
		t.Fatalf("%d stages, %d scorings; want 5", len(stages), calls)
	}
	for i, s := range stages {
		if s.SizeBefore.Int64() != wantSizes[i] || s.SizeAfter.Int64() != wantSizes[i+1] {
			t.Errorf("stage %d sizes %v → %v, want %d → %d", i, s.SizeBefore, s.SizeAfter, wantSizes[i], wantSizes[i+1])
		}
		// Removed totals 4, 8, 12, ...: the limit 10 is first exceeded after stage 2.
		if s.ResetBase != (i == 2) {
			t.Errorf("stage %d ResetBase = %v", i, s.ResetBase)
		}
	}
	if !final.Reset || final.Removed != 20 || sp.Size(final.Space).Int64() != 16 {
		t.Errorf("final state %+v", final)
	}
}

func TestStepErrors(t *testing.T) {
	sp := space.NB201{}
	st := Start(sp.Full())
	good := scoresOf(st.Space, func(p, o int) float64 { return float64(o) })
	dup := slices.Clone(good)
	dup[1] = dup[0]
	foreign := slices.Clone(good)
	foreign[0].Op = 7
	for name, tc := range map[string]struct {
		s   []score.OpScore
		cfg Config
	}{
		"missing":   {good[1:], Config{Policy: OnePerEdge}},
		"duplicate": {dup, Config{Policy: OnePerEdge}},
		"foreign":   {foreign, Config{Policy: OnePerEdge}},
		"policy":    {good, Config{Policy: "drop-all"}},
		"k":         {good, Config{Policy: GlobalTail}},
	} {
		if _, _, err := Step(sp, st, tc.s, tc.cfg); err == nil {
			t.Errorf("%s: Step succeeded, want error", name)
		}
	}
}

// TestOnePerEdgeDARTS scores every DARTS op by its code, so none is the worst op of every edge.
// Dropping none from an edge makes it an input of its node, and a node keeps only two, so by hand,
// edge by edge: both edges of node 2 and the first two edges of nodes 3, 4 and 5 drop none, and
// each later edge of those nodes, where dropping none would leave no child, drops max_pool_3x3
// (code 1) instead. Every node is then left with one input pair of 7·7 ops: size 49⁴, 14 removed.
func TestOnePerEdgeDARTS(t *testing.T) {
	sp := space.DARTS{}
	st := Start(sp.Full())
	next, rec, err := Step(sp, st, scoresOf(st.Space, func(p, o int) float64 { return float64(o) }), Config{Policy: OnePerEdge})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.SizeAfter.String(), "5764801"; got != want || rec.RemovedTotal != 14 {
		t.Errorf("size after %s, removed %d; want %s = 49⁴, 14", got, rec.RemovedTotal, want)
	}
	dropsNone := map[int]bool{0: true, 1: true, 2: true, 3: true, 5: true, 6: true, 9: true, 10: true}
	for p, l := range next.Space.Allowed {
		want := []int{1, 2, 3, 4, 5, 6, 7}
		if !dropsNone[p] {
			want = []int{0, 2, 3, 4, 5, 6, 7}
		}
		if !slices.Equal(l, want) {
			t.Errorf("%s keeps %v, want %v", sp.PointName(p), l, want)
		}
	}
	if err := space.Validate(sp, next.Space); err != nil {
		t.Error(err)
	}
}

// TestGlobalTailSkipsInfeasible drops the 5 worst ops of a global ranking in which none on edges
// 0, 1, 2, … ranks worst in edge order: none goes from edges 0–3, but not from edge 4 (node 3
// would need three inputs), so the fifth drop is none on edge 5.
func TestGlobalTailSkipsInfeasible(t *testing.T) {
	sp := space.DARTS{}
	st := Start(sp.Full())
	_, rec, err := Step(sp, st, scoresOf(st.Space, func(p, o int) float64 { return float64(o) + float64(p)/100 }), Config{Policy: GlobalTail, K: 5})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, d := range rec.Decisions {
		if d.Dropped {
			if d.Op != space.DARTSNone {
				t.Errorf("dropped op %d on edge %d, want none", d.Op, d.Point)
			}
			got = append(got, d.Point)
		}
	}
	if want := []int{0, 1, 2, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("none dropped on edges %v, want %v", got, want)
	}
}

// TestMobileShrinking runs the authors' ImageNet settings: ProxylessNAS with 7 ops dropped per
// stage down to 10⁶ children, and FairNAS with one op per layer per stage.
func TestMobileShrinking(t *testing.T) {
	px := space.ProxylessGPU()
	cfg := Config{Policy: GlobalTail, K: 7, Threshold: big.NewInt(1_000_000)}
	// A fixed, arbitrary score per (layer, op) so that the drops spread over layers.
	f := func(p, o int) float64 { return float64((p*37 + o*11) % 101) }
	final, stages, err := Run(px, Start(px.Full()), cfg, func(st State) ([]score.OpScore, error) {
		return scoresOf(st.Space, f), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last := stages[len(stages)-1]
	if last.SizeAfter.Cmp(cfg.Threshold) > 0 || last.SizeBefore.Cmp(cfg.Threshold) <= 0 {
		t.Errorf("last stage sizes %v → %v, want to cross 10⁶", last.SizeBefore, last.SizeAfter)
	}
	resets := 0
	for i, s := range stages {
		if s.RemovedTotal != 7*(i+1) {
			t.Errorf("stage %d removed total %d, want %d", i, s.RemovedTotal, 7*(i+1))
		}
		if s.ResetBase {
			resets++
			// 7·7 = 49 ≤ 50 < 56 = 7·8: the reset comes after stage 7.
			if i != 7 {
				t.Errorf("reset after stage %d, want 7", i)
			}
		}
	}
	if len(stages) <= 8 || resets != 1 {
		t.Errorf("%d stages, %d resets; want more than 8 stages, 1 reset", len(stages), resets)
	}
	for p, l := range final.Space.Allowed {
		if len(l) == 0 {
			t.Errorf("layer %d lost every op", p)
		}
	}

	fn := space.FairNAS()
	next, rec, err := Step(fn, Start(fn.Full()), scoresOf(fn.Full(), f), Config{Policy: OnePerLayer})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.SizeAfter.String(), "19073486328125"; got != want || fn.Size(next.Space).String() != want {
		t.Errorf("fairnas after one stage: %s, want 5¹⁹ = %s", got, want)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range Policies {
		var got Policy
		if err := got.Set(string(p)); err != nil || got != p || got.String() != string(p) {
			t.Errorf("Set(%q) = %q, %v", p, got, err)
		}
	}
	const want = `drop policy "worst": want one of fixed-count, global-tail, one-per-edge, one-per-layer`
	var p Policy
	if err := p.UnmarshalText([]byte("worst")); err == nil || err.Error() != want {
		t.Errorf("UnmarshalText(worst): %v, want %s", err, want)
	}
}
