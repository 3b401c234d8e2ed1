package space

import (
	"math"
	"slices"
	"testing"
)

// perCellProbabilities returns, for every edge, the exact probability of each op under the
// per-cell rule, by enumerating each node's incoming combinations: uniform over the combinations
// that are not all `none` (or over all of them, when no other is possible).
func perCellProbabilities(s Shrunk) [6][5]float64 {
	var p [6][5]float64
	for _, ed := range nb201NodeEdges {
		var combos [][]int
		var walk func(e int, prefix []int)
		walk = func(e int, prefix []int) {
			if e == ed[1] {
				combos = append(combos, append([]int(nil), prefix...))
				return
			}
			for _, op := range s.Allowed[e] {
				walk(e+1, append(prefix, op))
			}
		}
		walk(ed[0], nil)
		var kept [][]int
		for _, c := range combos {
			for _, op := range c {
				if op != NB201None {
					kept = append(kept, c)
					break
				}
			}
		}
		if len(kept) == 0 {
			kept = combos
		}
		for _, c := range kept {
			for i, op := range c {
				p[ed[0]+i][op] += 1 / float64(len(kept))
			}
		}
	}
	return p
}

// TestPerCellSampler draws 100 000 cells from the full space and from a shrunk one and compares
// each edge's op frequencies with the exact probabilities of the rule (perCellProbabilities, and
// by hand for the full space: 4/24 and 5/24 into node 2, 24/124 and 25/124 into node 3). Each
// frequency has a binomial standard error of at most √(0.25/100 000) ≈ 0.0016; the tolerance is
// five of them. Edge 1←0 must never be `none`.
func TestPerCellSampler(t *testing.T) {
	shrunk := Shrunk{Allowed: [][]int{{0, 3}, {0, 1}, {0}, {0, 2, 4}, {0}, {1, 3}}}
	for _, tc := range []struct {
		name string
		s    Shrunk
	}{{"full", NB201{}.Full()}, {"shrunk", shrunk}} {
		t.Run(tc.name, func(t *testing.T) {
			const cells, draws = 2, 50000 // 100 000 cells
			smp, err := NewPerCell(tc.s, cells, 7)
			if err != nil {
				t.Fatal(err)
			}
			var count [6][5]int
			for i := 0; i < draws; i++ {
				c := smp.Next()
				if len(c) != 6*cells {
					t.Fatalf("child has %d ops, want %d", len(c), 6*cells)
				}
				if err := (NB201{}).Check(tc.s, c[:6]); err != nil {
					t.Fatalf("cell 0 %v: %v", c[:6], err)
				}
				for k, op := range c {
					count[k%6][op]++
				}
				for cell := 0; cell < cells; cell++ {
					if c[6*cell] == NB201None {
						t.Fatalf("cell %d of %v: edge 1←0 is none", cell, c)
					}
				}
			}
			want := perCellProbabilities(tc.s)
			if tc.name == "full" {
				for op := 0; op < 5; op++ {
					for _, e := range []int{1, 2} {
						if h := map[bool]float64{true: 4.0 / 24, false: 5.0 / 24}[op == NB201None]; math.Abs(want[e][op]-h) > 1e-12 {
							t.Fatalf("enumerated P(edge %d = %d) = %v, hand %v", e, op, want[e][op], h)
						}
					}
				}
			}
			n := float64(draws * cells)
			tol := 5 * math.Sqrt(0.25/n)
			for e := range count {
				for op := range count[e] {
					if got := float64(count[e][op]) / n; math.Abs(got-want[e][op]) > tol {
						t.Errorf("edge %d op %d: frequency %.4f, want %.4f ± %.4f", e, op, got, want[e][op], tol)
					}
				}
			}
		})
	}
}

// TestPerCellDeterministic checks that one seed gives one sequence and that cells differ.
func TestPerCellDeterministic(t *testing.T) {
	a, _ := NewPerCell(NB201{}.Full(), 3, 11)
	b, _ := NewPerCell(NB201{}.Full(), 3, 11)
	differ := false
	for i := 0; i < 100; i++ {
		x, y := a.Next(), b.Next()
		if !slices.Equal(x, y) {
			t.Fatalf("draw %d: %v and %v from one seed", i, x, y)
		}
		differ = differ || !slices.Equal(x[:6], x[6:12])
	}
	if !differ {
		t.Errorf("the cells of 100 children never differed")
	}
	if _, err := NewPerCell(Shrunk{Allowed: [][]int{{0}}}, 1, 1); err == nil {
		t.Errorf("NewPerCell accepted a shrunk space of 1 edge")
	}
}
