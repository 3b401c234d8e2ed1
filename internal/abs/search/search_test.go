package search_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/search"
	"github.com/abs-nas/abs/internal/abs/space"
)

// connected reports whether node 3 of an NB201 cell is reachable from node 0 over edges that are
// not `none`: a reachability sweep over the edge list, independent of space.NB201.Connected.
func connected(c space.Child) bool {
	reach := [4]bool{true}
	for e, ft := range space.NB201Edges { // edges are ordered by target node
		if c[e] != space.NB201None && reach[ft[1]] {
			reach[ft[0]] = true
		}
	}
	return reach[3]
}

// within reports whether every op of c is allowed in s.
func within(s space.Shrunk, c space.Child) bool {
	for p, o := range c {
		if !slices.Contains(s.Allowed[p], o) {
			return false
		}
	}
	return true
}

// bruteForce returns the table rows of the valid children of s (in s, connected) with its best
// CIFAR-10 accuracy, scanning the table rather than enumerating the space.
func bruteForce(tab *nb201.Table, s space.Shrunk) (rows []nb201.Entry, best float64) {
	best = math.Inf(-1)
	for _, e := range tab.Entries() {
		if within(s, e.Child) && connected(e.Child) {
			rows = append(rows, e)
			best = max(best, e.Accuracy[0])
		}
	}
	return rows, best
}

// counting wraps a metric and counts its calls per child.
type counting struct {
	m     score.Metric
	calls map[string]int
	total int
}

func newCounting(m score.Metric) *counting { return &counting{m: m, calls: map[string]int{}} }

func (c *counting) Name() string { return c.m.Name() }

func (c *counting) Child(ch space.Child) (float64, error) {
	c.calls[fmt.Sprint(ch)]++
	c.total++
	return c.m.Child(ch)
}

// checkResult asserts the invariants every result has: candidates are distinct valid children of
// s whose values are the metric's, Text is Format, exactly one is marked best, and it is the first
// with the largest value.
func checkResult(t *testing.T, sp space.Space, s space.Shrunk, m score.Metric, r search.Result, maxEvals int) {
	t.Helper()
	if len(r.Candidates) == 0 || len(r.Candidates) > maxEvals {
		t.Fatalf("%d candidates, want 1..%d", len(r.Candidates), maxEvals)
	}
	seen := map[string]bool{}
	best := 0
	for i, c := range r.Candidates {
		if err := sp.Check(s, c.Child); err != nil {
			t.Errorf("candidate %d: %v", i, err)
		}
		if _, ok := sp.(space.NB201); ok && !connected(c.Child) {
			t.Errorf("candidate %d %s is disconnected", i, c.Text)
		}
		if c.Text != sp.Format(c.Child) {
			t.Errorf("candidate %d text %q, want %q", i, c.Text, sp.Format(c.Child))
		}
		if seen[c.Text] {
			t.Errorf("candidate %d %s evaluated twice", i, c.Text)
		}
		seen[c.Text] = true
		if v, err := m.Child(c.Child); err != nil || v != c.Value {
			t.Errorf("candidate %d value %v, metric says %v, %v", i, c.Value, v, err)
		}
		if c.Value > r.Candidates[best].Value {
			best = i
		}
		if c.Best != (i == r.Best) {
			t.Errorf("candidate %d Best = %v with Result.Best = %d", i, c.Best, r.Best)
		}
	}
	if r.Best != best {
		t.Errorf("Best = %d (value %v), want %d (value %v)", r.Best, r.BestCandidate().Value, best, r.Candidates[best].Value)
	}
}

// shrunk is a shrunk NB201 space with 2·2·2·3·2·2 = 96 children; those with none on edge 3 and on
// edge 5, say, are disconnected (TestExhaustive logs how many are valid).
var shrunk = space.Shrunk{Allowed: [][]int{{0, 3}, {0, 2}, {2, 4}, {0, 3, 4}, {0, 1}, {0, 3}}}

func TestExhaustive(t *testing.T) {
	tab := table(t)
	sp := space.NB201{}
	for _, tc := range []struct {
		name string
		s    space.Shrunk
		best float64 // 0: take the brute-force best
	}{
		{"full", sp.Full(), 94.37}, // DESIGN.md and the table's SOURCE.md: best CIFAR-10 94.37
		{"shrunk", shrunk, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := nb201.Oracle{Table: tab, Dataset: nb201.CIFAR10}
			cm := newCounting(o)
			r, err := search.Run(context.Background(), sp, tc.s, cm, search.Config{Algorithm: search.Exhaustive, MaxEvals: 15625})
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, sp, tc.s, o, r, 15625)
			rows, best := bruteForce(tab, tc.s)
			if tc.best != 0 && math.Abs(best-tc.best) > 0.005 {
				t.Fatalf("brute-force best %v, want %v", best, tc.best)
			}
			if got := r.BestCandidate().Value; got != best {
				t.Errorf("best value %v, want %v", got, best)
			}
			if len(r.Candidates) != len(rows) || cm.total != len(rows) {
				t.Errorf("%d candidates from %d metric calls, want %d (the valid children)", len(r.Candidates), cm.total, len(rows))
			}
			for i, c := range r.Candidates {
				if i > 0 && c.Iteration <= r.Candidates[i-1].Iteration {
					t.Errorf("candidate %d iteration %d not after %d", i, c.Iteration, r.Candidates[i-1].Iteration)
				}
			}
			t.Logf("%d valid children of %s, best %s = %v", len(rows), sp.Size(tc.s), r.BestCandidate().Text, r.BestCandidate().Value)
		})
	}
}

func TestExhaustiveLimit(t *testing.T) {
	sp := space.NB201{}
	_, err := search.Run(context.Background(), sp, sp.Full(), score.Random{}, search.Config{Algorithm: search.Exhaustive, MaxEvals: 15624})
	if err == nil || !strings.Contains(err.Error(), "15625 children, over the limit 15624") {
		t.Errorf("error %v, want one naming the size 15625 and the limit 15624", err)
	}
}

// TestBound: every algorithm keeps to the FLOPs bound; exhaustive search finds exactly the valid
// children within it.
func TestBound(t *testing.T) {
	sp := space.NB201{}
	net := space.NB201Net{C: 16, N: 5, Resolution: 32, InChannels: 3, Classes: 10}
	bound := score.Bound{FLOPs: net.FLOPs, Max: net.FLOPs(space.Child{3, 0, 0, 0, 0, 0})}
	want := 0
	sp.Enumerate(sp.Full(), func(c space.Child) bool {
		if connected(c) && net.FLOPs(c) <= bound.Max {
			want++
		}
		return true
	})
	for _, cfg := range []search.Config{
		{Algorithm: search.Exhaustive, MaxEvals: 15625},
		{Algorithm: search.Random, MaxEvals: 200, Seed: 3},
		{Algorithm: search.Evolution, MaxEvals: 200, Population: 20, SampleSize: 5, Cycles: 500, Seed: 3},
	} {
		cfg.Bound = bound
		r, err := search.Run(context.Background(), sp, sp.Full(), score.Random{Seed: 1}, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Algorithm, err)
		}
		checkResult(t, sp, sp.Full(), score.Random{Seed: 1}, r, cfg.MaxEvals)
		for _, c := range r.Candidates {
			if f := net.FLOPs(c.Child); f > bound.Max {
				t.Errorf("%s: candidate %s has %d FLOPs, over %d", cfg.Algorithm, c.Text, f, bound.Max)
			}
		}
		if cfg.Algorithm == search.Exhaustive && len(r.Candidates) != want {
			t.Errorf("exhaustive: %d candidates, want %d", len(r.Candidates), want)
		}
		if cfg.Algorithm != search.Exhaustive && len(r.Candidates) != cfg.MaxEvals {
			t.Errorf("%s: %d candidates, want the budget %d", cfg.Algorithm, len(r.Candidates), cfg.MaxEvals)
		}
	}
}

func TestRandom(t *testing.T) {
	sp := space.NB201{}
	m := score.Random{Seed: 7}
	run := func(seed uint64, n int, s space.Shrunk) search.Result {
		t.Helper()
		r, err := search.Run(context.Background(), sp, s, m, search.Config{Algorithm: search.Random, MaxEvals: n, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, sp, s, m, r, n)
		return r
	}
	a, b, c := run(1, 100, sp.Full()), run(1, 100, sp.Full()), run(2, 100, sp.Full())
	if len(a.Candidates) != 100 {
		t.Errorf("%d candidates, want 100", len(a.Candidates))
	}
	for i, x := range a.Candidates {
		if x.Iteration != i {
			t.Errorf("candidate %d iteration %d", i, x.Iteration)
		}
	}
	if !slices.EqualFunc(a.Candidates, b.Candidates, sameCandidate) {
		t.Error("the same seed gave different searches")
	}
	if slices.EqualFunc(a.Candidates, c.Candidates, sameCandidate) {
		t.Error("seeds 1 and 2 gave the same search")
	}
	// More wanted than there are: all valid children of the shrunk space.
	rows, _ := bruteForce(table(t), shrunk)
	if got := run(1, 1000, shrunk); len(got.Candidates) != len(rows) {
		t.Errorf("%d candidates from the shrunk space, want all %d valid children", len(got.Candidates), len(rows))
	}
}

func sameCandidate(a, b search.Candidate) bool {
	return slices.Equal(a.Child, b.Child) && a.Text == b.Text && a.Value == b.Value && a.Iteration == b.Iteration && a.Best == b.Best
}

// TestRandomUniform: drawing 2 of the 6 children of a tiny space, each child is drawn with
// probability 2/6; over 6000 seeds each count is Binomial(6000, 1/3): mean 2000, sd 36.5. The
// tolerance is 5 sd.
func TestRandomUniform(t *testing.T) {
	sp := space.NB201{}
	s := space.Shrunk{Allowed: [][]int{{1}, {1}, {1}, {1, 2, 3}, {1, 3}, {1}}}
	counts := map[string]int{}
	for seed := range uint64(6000) {
		r, err := search.Run(context.Background(), sp, s, score.Random{}, search.Config{Algorithm: search.Random, MaxEvals: 2, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Candidates {
			counts[c.Text]++
		}
	}
	if len(counts) != 6 {
		t.Fatalf("%d distinct children drawn, want 6", len(counts))
	}
	for k, n := range counts {
		if math.Abs(float64(n)-2000) > 5*36.5 {
			t.Errorf("%s drawn %d times, want 2000 ± 182", k, n)
		}
	}
}

// TestRandomLargeSpace exercises drawing by rejection, which spaces larger than the enumeration
// limit use: the ProxylessNAS space has 7^18·6^3 children.
func TestRandomLargeSpace(t *testing.T) {
	sp := space.ProxylessGPU()
	m := score.Random{Seed: 5}
	cfg := search.Config{Algorithm: search.Random, MaxEvals: 50, Seed: 9}
	a, err := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, sp, sp.Full(), m, a, 50)
	if len(a.Candidates) != 50 {
		t.Errorf("%d candidates, want 50", len(a.Candidates))
	}
	b, err := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(a.Candidates, b.Candidates, sameCandidate) {
		t.Error("the same seed gave different searches")
	}
}

// checkLineage checks that every mutant (Iteration > 0) differs from some earlier candidate at
// 1..maxDiff choice points, that iterations start with Population zeros and then increase.
func checkLineage(t *testing.T, r search.Result, pop, maxDiff int) {
	t.Helper()
	for i, c := range r.Candidates {
		if i < pop {
			if c.Iteration != 0 {
				t.Errorf("initial candidate %d has iteration %d", i, c.Iteration)
			}
			continue
		}
		if c.Iteration <= r.Candidates[i-1].Iteration {
			t.Errorf("candidate %d iteration %d not after %d", i, c.Iteration, r.Candidates[i-1].Iteration)
		}
		ok := false
		for _, p := range r.Candidates[:i] {
			d := 0
			for k := range c.Child {
				if c.Child[k] != p.Child[k] {
					d++
				}
			}
			if d >= 1 && d <= maxDiff {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("mutant %d %s has no earlier candidate within %d changes", i, c.Text, maxDiff)
		}
	}
}

func TestEvolution(t *testing.T) {
	sp := space.NB201{}
	m := score.Random{Seed: 11}
	cfg := search.Config{Algorithm: search.Evolution, MaxEvals: 120, Population: 20, SampleSize: 5, Cycles: 10000, Seed: 4}
	a, err := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, sp, sp.Full(), m, a, cfg.MaxEvals)
	checkLineage(t, a, cfg.Population, 1)
	if len(a.Candidates) != cfg.MaxEvals {
		t.Errorf("%d candidates, want the budget %d", len(a.Candidates), cfg.MaxEvals)
	}
	b, _ := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if !slices.EqualFunc(a.Candidates, b.Candidates, sameCandidate) || a.CacheHits != b.CacheHits {
		t.Error("the same seed gave different searches")
	}
	cfg.Seed = 5
	c, _ := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if slices.EqualFunc(a.Candidates, c.Candidates, sameCandidate) {
		t.Error("seeds 4 and 5 gave the same search")
	}
	// Few cycles: the cycle count ends the search before the budget.
	cfg.Cycles = 30
	d, _ := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if n := len(d.Candidates) + d.CacheHits; n != cfg.Population+cfg.Cycles {
		t.Errorf("%d evaluations + %d cache hits = %d, want population + cycles = %d", len(d.Candidates), d.CacheHits, n, cfg.Population+cfg.Cycles)
	}
	if last := d.Candidates[len(d.Candidates)-1].Iteration; last > cfg.Cycles {
		t.Errorf("last iteration %d over %d cycles", last, cfg.Cycles)
	}
}

// TestCache: on a space of 96 children (fewer valid) with 300 cycles, mutants repeat; every child
// still reaches the metric once, and every cycle is either an evaluation or a cache hit.
func TestCache(t *testing.T) {
	sp := space.NB201{}
	cm := newCounting(score.Random{Seed: 2})
	cfg := search.Config{Algorithm: search.Evolution, MaxEvals: 1000, Population: 8, SampleSize: 3, Cycles: 300, Seed: 1}
	r, err := search.Run(context.Background(), sp, shrunk, cm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, sp, shrunk, score.Random{Seed: 2}, r, cfg.MaxEvals)
	checkLineage(t, r, cfg.Population, 1)
	for k, n := range cm.calls {
		if n != 1 {
			t.Errorf("child %s evaluated %d times", k, n)
		}
	}
	if cm.total != len(r.Candidates) {
		t.Errorf("%d metric calls for %d candidates", cm.total, len(r.Candidates))
	}
	if r.CacheHits == 0 || len(r.Candidates)+r.CacheHits != cfg.Population+cfg.Cycles {
		t.Errorf("%d candidates + %d cache hits, want > 0 hits summing to %d", len(r.Candidates), r.CacheHits, cfg.Population+cfg.Cycles)
	}
}

// TestEvolutionDARTS: DARTS mutants stay valid genotypes; an input mutation changes two choice
// points of one node, an op mutation one.
func TestEvolutionDARTS(t *testing.T) {
	sp := space.DARTS{}
	m := score.Random{Seed: 3}
	cfg := search.Config{Algorithm: search.Evolution, MaxEvals: 150, Population: 30, SampleSize: 10, Cycles: 1000, Seed: 8}
	r, err := search.Run(context.Background(), sp, sp.Full(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, sp, sp.Full(), m, r, cfg.MaxEvals)
	checkLineage(t, r, cfg.Population, 2)
	inputMoves := 0
	for _, c := range r.Candidates[cfg.Population:] {
		for _, p := range r.Candidates {
			d := 0
			for k := range c.Child {
				if (c.Child[k] == space.DARTSNone) != (p.Child[k] == space.DARTSNone) {
					d++
				}
			}
			if d == 2 {
				inputMoves++
				break
			}
		}
	}
	if inputMoves == 0 {
		t.Error("no mutant moved an input edge")
	}
}

func TestErrors(t *testing.T) {
	sp := space.NB201{}
	boom := errors.New("boom")
	failing := score.Accuracy{Label: "acc", Of: func(c space.Child) (float64, error) {
		if c[0] == space.NB201Conv3x3 {
			return 0, boom
		}
		return 1, nil
	}}
	nan := score.Accuracy{Label: "acc", Of: func(space.Child) (float64, error) { return math.NaN(), nil }}
	configs := []search.Config{
		{Algorithm: search.Exhaustive, MaxEvals: 15625},
		{Algorithm: search.Random, MaxEvals: 500},
		{Algorithm: search.Evolution, MaxEvals: 500, Population: 10, SampleSize: 2, Cycles: 100},
	}
	for _, cfg := range configs {
		_, err := search.Run(context.Background(), sp, sp.Full(), failing, cfg)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "acc of child |nor_conv_3x3~0|") || !strings.HasPrefix(err.Error(), string(cfg.Algorithm)+" search: ") {
			t.Errorf("%s: error %v, want boom wrapped with the algorithm, metric and child", cfg.Algorithm, err)
		}
		if _, err := search.Run(context.Background(), sp, sp.Full(), nan, cfg); err == nil || !strings.Contains(err.Error(), "is NaN") {
			t.Errorf("%s: error %v, want a NaN error", cfg.Algorithm, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := search.Run(ctx, sp, sp.Full(), score.Random{}, cfg); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: error %v with a cancelled context, want context.Canceled", cfg.Algorithm, err)
		}
		// A bound nothing meets.
		cfg.Bound = score.Bound{FLOPs: func(space.Child) int64 { return 2 }, Max: 1}
		if _, err := search.Run(context.Background(), sp, sp.Full(), score.Random{}, cfg); err == nil || !strings.Contains(err.Error(), "no valid child") {
			t.Errorf("%s: error %v with an unmet bound, want no valid child", cfg.Algorithm, err)
		}
	}
	for _, tc := range []struct {
		cfg  search.Config
		want string
	}{
		{search.Config{Algorithm: "hill-climbing", MaxEvals: 1}, `search "hill-climbing": want one of exhaustive, random, evolution`},
		{search.Config{Algorithm: search.Random}, "evaluation budget 0"},
		{search.Config{Algorithm: search.Evolution, MaxEvals: 10, Population: 11, SampleSize: 1, Cycles: 1}, "population 11, want 1..10"},
		{search.Config{Algorithm: search.Evolution, MaxEvals: 10, Population: 5, SampleSize: 6, Cycles: 1}, "sample size 6, want 1..5"},
		{search.Config{Algorithm: search.Evolution, MaxEvals: 10, Population: 5, SampleSize: 2}, "0 cycles"},
	} {
		if _, err := search.Run(context.Background(), sp, sp.Full(), score.Random{}, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
	bad := space.Shrunk{Allowed: [][]int{{0}, {0}, {0}, {0}, {0}}}
	if _, err := search.Run(context.Background(), sp, bad, score.Random{}, configs[1]); err == nil || !strings.Contains(err.Error(), "5 choice points, want 6") {
		t.Errorf("bad shrunk space: error %v", err)
	}
}

func TestProgress(t *testing.T) {
	sp := space.NB201{}
	var got []int
	cfg := search.Config{Algorithm: search.Random, MaxEvals: 5, Progress: func(n, budget int) {
		if budget != 5 {
			t.Errorf("progress budget %d, want 5", budget)
		}
		got = append(got, n)
	}}
	if _, err := search.Run(context.Background(), sp, sp.Full(), score.Random{}, cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("progress calls %v, want [1 2 3 4 5]", got)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, a := range search.Algorithms {
		if got, err := search.ParseAlgorithm(string(a)); err != nil || got != a {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", a, got, err)
		}
	}
	if _, err := search.ParseAlgorithm("Random"); err == nil {
		t.Error("ParseAlgorithm(Random) succeeded")
	}
}

func diff(a, b space.Child) int {
	d := 0
	for k := range a {
		if a[k] != b[k] {
			d++
		}
	}
	return d
}

// TestAging: with a population of one, each cycle mutates the only member and the mutant replaces
// it (the oldest is removed), so the search is a random walk: the mutants of consecutive cycles
// differ at exactly one edge and the walk moves away from its start. Were the newest removed
// instead, every mutant would be one edge from the initial child.
func TestAging(t *testing.T) {
	sp := space.NB201{}
	cfg := search.Config{Algorithm: search.Evolution, MaxEvals: 60, Population: 1, SampleSize: 1, Cycles: 60, Seed: 6}
	r, err := search.Run(context.Background(), sp, sp.Full(), score.Random{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	far, steps := 0, 0
	for i := 2; i < len(r.Candidates); i++ {
		a, b := r.Candidates[i-1], r.Candidates[i]
		if b.Iteration == a.Iteration+1 {
			steps++
			if d := diff(a.Child, b.Child); d != 1 {
				t.Errorf("mutants of cycles %d and %d differ at %d edges, want 1", a.Iteration, b.Iteration, d)
			}
		}
		far = max(far, diff(r.Candidates[0].Child, b.Child))
	}
	if steps < 30 || far < 3 {
		t.Errorf("%d consecutive steps checked, farthest mutant %d edges from the start; want ≥ 30 and ≥ 3", steps, far)
	}
}

func TestAlgorithmUnmarshalText(t *testing.T) {
	var a search.Algorithm
	if err := a.UnmarshalText([]byte("evolution")); err != nil || a != search.Evolution {
		t.Errorf("UnmarshalText(evolution) = %q, %v", a, err)
	}
	if err := a.UnmarshalText([]byte("Evolution")); err == nil || !strings.Contains(err.Error(), "want one of exhaustive, random, evolution") || a != search.Evolution {
		t.Errorf("UnmarshalText(Evolution): %v (a = %q), want an error listing the algorithms and a unchanged", err, a)
	}
}
