package space

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// dartsBrute returns every child of s by brute force: every assignment of one allowed op per edge
// (the product of the 14 lists, in odometer order) that Check accepts. It is the slow reference
// for Size, Enumerate and Feasible.
func dartsBrute(s Shrunk) []Child {
	var out []Child
	productEnumerate(s, func(c Child) bool {
		if (DARTS{}).Check(s, c) == nil {
			out = append(out, c.Clone())
		}
		return true
	})
	return out
}

// randomSmallDARTS returns a random shrunk DARTS space with one or two ops per edge (at most 2¹⁴
// assignments): none with probability 3/4, alone with probability 1/8, so some nodes have edges
// that must be inputs and some have edges that cannot be.
func randomSmallDARTS(r *rand.Rand) Shrunk {
	s := Shrunk{Allowed: make([][]int, DARTSEdges)}
	for e := range s.Allowed {
		var l []int
		if r.IntN(4) > 0 {
			l = append(l, DARTSNone)
		}
		if len(l) == 0 || r.IntN(6) > 0 {
			l = append(l, 1+r.IntN(7))
		}
		if len(l) == 1 && l[0] != DARTSNone && r.IntN(3) == 0 {
			l = append(l, 1+(l[0]%7)) // another non-none op
		}
		slices.Sort(l)
		s.Allowed[e] = l
	}
	return s
}

// TestDARTSSize checks the full size by hand, 49⁴·(1·3·6·10) = 1 037 664 180 (node j keeps one of
// C(j,2) input pairs with 7·7 non-none ops), and Size, Enumerate and Feasible against dartsBrute on
// random small spaces, feasible and not.
func TestDARTSSize(t *testing.T) {
	sp := DARTS{}
	if got, want := sp.Size(sp.Full()).String(), "1037664180"; got != want {
		t.Errorf("full size %s, want %s = 49⁴·180", got, want)
	}
	r := NewRand(3)
	feasible, infeasible := 0, 0
	for range 60 {
		s := randomSmallDARTS(r)
		brute := dartsBrute(s)
		if got := sp.Size(s).Int64(); got != int64(len(brute)) {
			t.Fatalf("space %v: Size %d, brute force %d", s.Allowed, got, len(brute))
		}
		if err := sp.Feasible(s); (err == nil) != (len(brute) > 0) {
			t.Fatalf("space %v: Feasible = %v with %d children", s.Allowed, err, len(brute))
		}
		if len(brute) == 0 {
			infeasible++
			if err := Validate(sp, s); err == nil || !strings.Contains(err.Error(), "node ") {
				t.Errorf("Validate of a space without children = %v, want an error naming the node", err)
			}
			continue
		}
		feasible++
		var got []string
		sp.Enumerate(s, func(c Child) bool {
			if err := sp.Check(s, c); err != nil {
				t.Fatal(err)
			}
			got = append(got, sp.Format(c))
			return true
		})
		var want []string
		for _, c := range brute {
			want = append(want, sp.Format(c))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("space %v: Enumerate gives %d children, brute force %d, or other ones", s.Allowed, len(got), len(want))
		}
	}
	if feasible < 10 || infeasible < 5 {
		t.Fatalf("%d feasible and %d infeasible spaces drawn, want both kinds", feasible, infeasible)
	}
}

// TestDARTSInfeasible checks the two ways a node can lose its children: more than two edges whose
// lists lack none (all three inputs of node 3 must then be inputs), and fewer than two edges with
// another op (node 5 with none alone on four of its five edges).
func TestDARTSInfeasible(t *testing.T) {
	sp := DARTS{}
	s := sp.Full()
	for i := range 3 {
		s.Allowed[DARTSEdge(i, 3)] = []int{DARTSSkip, DARTSSepConv3}
	}
	if err := Validate(sp, s); err == nil || !strings.Contains(err.Error(), "node 3") {
		t.Errorf("Validate = %v, want an error naming node 3", err)
	}
	s = sp.Full()
	for i := range 4 {
		s.Allowed[DARTSEdge(i, 5)] = []int{DARTSNone}
	}
	if err := Validate(sp, s); err == nil || !strings.Contains(err.Error(), "node 5") {
		t.Errorf("Validate = %v, want an error naming node 5", err)
	}
	if _, err := NewUniform(sp, s, 1); err == nil {
		t.Error("NewUniform accepted a space without children")
	}
}

// TestDARTSRepair checks the draw-and-repair rule: every child Sample and SampleAt return, on the
// full space and on random small ones, has exactly two non-none inputs per node and only allowed
// ops (Check); SampleAt keeps its edge's op and returns nil exactly when no child takes it (by
// brute force); the same seed gives the same children.
func TestDARTSRepair(t *testing.T) {
	sp := DARTS{}
	r := NewRand(11)
	spaces := []Shrunk{sp.Full()}
	for len(spaces) < 25 {
		if s := randomSmallDARTS(r); sp.Feasible(s) == nil {
			spaces = append(spaces, s)
		}
	}
	for k, s := range spaces {
		for range 200 {
			if err := sp.Check(s, sp.Sample(s, r)); err != nil {
				t.Fatalf("space %d: %v", k, err)
			}
		}
		var brute []Child
		if k > 0 {
			brute = dartsBrute(s)
		}
		for p, ops := range s.Allowed {
			for _, op := range ops {
				exists := k == 0 && !(op == DARTSNone && p < 2) || slices.ContainsFunc(brute, func(c Child) bool { return c[p] == op })
				for range 20 {
					c := sp.SampleAt(s, p, op, r)
					if c == nil {
						if exists {
							t.Fatalf("space %d: SampleAt(%d, %d) = nil, but a child takes it", k, p, op)
						}
						break
					}
					if !exists {
						t.Fatalf("space %d: SampleAt(%d, %d) = %v, but no child takes it", k, p, op, c)
					}
					if c[p] != op {
						t.Fatalf("space %d: SampleAt(%d, %d) = %v", k, p, op, c)
					}
					if err := sp.Check(s, c); err != nil {
						t.Fatalf("space %d: SampleAt(%d, %d): %v", k, p, op, err)
					}
				}
			}
		}
	}
	a, b := NewRand(5), NewRand(5)
	for range 100 {
		if x, y := sp.Sample(sp.Full(), a), sp.Sample(sp.Full(), b); !slices.Equal(x, y) {
			t.Fatalf("same seed, children %v and %v", x, y)
		}
	}
}

// TestDARTSRepairFrequencies checks the rule's probabilities on node 4 of a space whose four
// input edges allow (4←0) {none, sep_conv_3x3}, (4←1) {none, skip, sep_conv_3x3, sep_conv_5x5},
// (4←2) {none} and (4←3) {none, max_pool_3x3}. By hand, over the first draw of (4←0), (4←1),
// (4←3) (non-none with probability 1/2, 3/4, 1/2) and the repair (three non-none: one of the three
// set to none; one: one of the two others that can be filled; none: two of the three):
// P((4←0) kept) = P((4←3) kept) = 29/48, P((4←1) kept) = 38/48, and (4←2) never. On the full space
// every edge of node 2 takes each of the 7 non-none ops with probability 1/8 + 1/8·1/7 = 1/7.
// Each count must be within 5 sd of a binomial.
func TestDARTSRepairFrequencies(t *testing.T) {
	sp := DARTS{}
	s := sp.Full()
	s.Allowed[DARTSEdge(0, 4)] = []int{DARTSNone, DARTSSepConv3}
	s.Allowed[DARTSEdge(1, 4)] = []int{DARTSNone, DARTSSkip, DARTSSepConv3, DARTSSepConv5}
	s.Allowed[DARTSEdge(2, 4)] = []int{DARTSNone}
	s.Allowed[DARTSEdge(3, 4)] = []int{DARTSNone, DARTSMaxPool}
	r := NewRand(6)
	const n = 20000
	var kept [4]int
	var node2 [8]int
	for range n {
		c := sp.Sample(s, r)
		for i := range 4 {
			if c[DARTSEdge(i, 4)] != DARTSNone {
				kept[i]++
			}
		}
		node2[c[DARTSEdge(0, 2)]]++
	}
	within := func(name string, got int, p float64) {
		sd := math.Sqrt(n * p * (1 - p))
		if math.Abs(float64(got)-n*p) > 5*sd {
			t.Errorf("%s: %d of %d, want about %.0f", name, got, n, n*p)
		}
	}
	for i, p := range []float64{29.0 / 48, 38.0 / 48, 0, 29.0 / 48} {
		within("node 4 keeps input "+string(rune('0'+i)), kept[i], p)
	}
	within("none on (2←0)", node2[DARTSNone], 0)
	for o := 1; o < 8; o++ {
		within("(2←0) = "+dartsOps[o].Name, node2[o], 1.0/7)
	}
}

// dartsV2 is DARTS_V2 of DARTS' genotypes.py with its normal cell for both cells (nodes list
// their inputs in any order, concat as a list).
const dartsV2 = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2)], reduce_concat=range(2, 6))"

func TestDARTSGenotype(t *testing.T) {
	sp := DARTS{}
	c, err := sp.Parse(dartsV2)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Check(sp.Full(), c); err != nil {
		t.Fatal(err)
	}
	want := Child{
		// (2←0),(2←1) | (3←0),(3←1),(3←2) | (4←0..3) | (5←0..4)
		4, 4, 4, 4, 0, 3, 4, 0, 0, 3, 0, 6, 0, 0,
	}
	if !slices.Equal(c, want) {
		t.Fatalf("Parse = %v, want %v", c, want)
	}
	const cell = "[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2)]"
	const canon = "Genotype(normal=" + cell + ", normal_concat=[2, 3, 4, 5], reduce=" + cell + ", reduce_concat=[2, 3, 4, 5])"
	if got := sp.Format(c); got != canon {
		t.Fatalf("Format = %s\nwant     %s", got, canon)
	}
	back, err := sp.Parse(canon)
	if err != nil || !slices.Equal(back, c) {
		t.Fatalf("Parse(Format(c)) = %v, %v; want %v", back, err, c)
	}
	genotype := func(normal, reduce string) string {
		return "Genotype(normal=[" + normal + "], normal_concat=[2, 3, 4, 5], reduce=[" + reduce + "], reduce_concat=[2, 3, 4, 5])"
	}
	inner := cell[1 : len(cell)-1]
	for _, tc := range []struct{ text, want string }{
		{"", "want Genotype("},
		{dartsV2[:len(dartsV2)-1], "want Genotype("},
		{genotype("('sep_conv_3x3', 0)", ""), "normal cell has 1 (op, input) pairs, want 8"},
		{genotype(strings.Replace(inner, "('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)", 1), inner), "node 2 reads node 2"},
		{genotype(strings.Replace(inner, "('sep_conv_3x3', 1)", "('sep_conv_5x5', 0)", 1), inner), "node 2 reads node 0 twice"},
		{genotype(strings.Replace(inner, "('sep_conv_3x3', 1)", "('conv', 1)", 1), inner), `no op "conv"`},
		{genotype(strings.Replace(inner, "('sep_conv_3x3', 1)", "('none', 1)", 1), inner), "none input"},
		// DARTS_V2's own reduce cell: this space has no reduce cell of its own.
		{genotype(inner, "('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)"), "reduce cell"},
	} {
		if _, err := sp.Parse(tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
	three := slices.Clone(c)
	three[4] = DARTSSkip // node 3 keeps 3 inputs
	if err := sp.Check(sp.Full(), three); err == nil {
		t.Error("Check accepted a node with 3 non-none inputs")
	}
	if err := sp.Check(sp.Full(), make(Child, 28)); err == nil || !strings.Contains(err.Error(), "want 14") {
		t.Errorf("Check of a 28-choice child (the old encoding) = %v, want an error", err)
	}
	if _, err := NewFair(sp, sp.Full(), 1); err == nil {
		t.Error("NewFair accepted DARTS")
	}
}

func TestDARTSPaths(t *testing.T) {
	if len(DARTSPaths) != 16 {
		t.Fatalf("%d paths, want 16", len(DARTSPaths))
	}
	// 0→2→3→4→5 = edges (2←0)=0, (3←2)=4, (4←3)=8, (5←4)=13; 1→5 = (5←1) = 10.
	if !slices.Equal(DARTSPaths[0], []int{0, 4, 8, 13}) || !slices.Equal(DARTSPaths[15], []int{10}) {
		t.Errorf("paths %v", DARTSPaths)
	}
}

// TestDARTSFLOPs counts a 3-cell net (C=2, 8×8 input, 10 classes; cells 1 and 2 reduce, and all
// three run the child's one cell) by hand. The cell: node 2 (sep_conv_3x3 ← 0, skip ← 1), nodes 3
// and 4 (skip ← 0, skip ← 1), node 5 (skip ← 0, dil_conv_5x5 ← 4).
//
//	stem 3→6 at 8²: 3·6·9·64 = 10 368
//	cell 0 (w=2, 8²): pre 6·2·64 ·2 = 1 536; sep 2·(2·9+4)·64 = 2 816; dil5 (2·25+4)·64 = 3 456
//	  → 7 808
//	cell 1 (w=4, 8²→4²): pre 6·4·64 + 8·4·64 = 3 584; sep, stride 2: 2·(4·9+16)·16 = 1 664; six
//	  stride-2 skips (FactorizedReduce) 4²·4² each = 1 536; dil5 (4·25+16)·16 = 1 856 → 8 640
//	cell 2 (w=8, 4²→2²): FactorizedReduce 8·8·16 = 1 024; pre1 16·8·16 = 2 048; sep
//	  2·(8·9+64)·4 = 1 088; six skips 8²·2² each = 1 536; dil5 (8·25+64)·4 = 1 056 → 6 752
//	classifier 32·10 = 320; total 33 888.
func TestDARTSFLOPs(t *testing.T) {
	c := make(Child, DARTSEdges)
	set := func(i, j, op int) { c[DARTSEdge(i, j)] = op }
	set(0, 2, DARTSSepConv3)
	set(1, 2, DARTSSkip)
	set(0, 3, DARTSSkip)
	set(1, 3, DARTSSkip)
	set(0, 4, DARTSSkip)
	set(1, 4, DARTSSkip)
	set(0, 5, DARTSSkip)
	set(4, 5, DARTSDilConv5)
	if err := (DARTS{}).Check(DARTS{}.Full(), c); err != nil {
		t.Fatal(err)
	}
	net := DARTSNet{C: 2, Layers: 3, Resolution: 8, InChannels: 3, Classes: 10}
	if got := net.FLOPs(c); got != 33888 {
		t.Errorf("FLOPs = %d, want 33888", got)
	}
}

// TestDARTSCell checks the reduce cells of DARTS' rule (cells/3 and 2·cells/3): the authors'
// 8-cell supernet reduces at cells 2 and 5 (DARTS' model_search.py), the 5-cell preset at 1 and 3,
// the smallest, of 3 cells, at 1 and 2.
func TestDARTSCell(t *testing.T) {
	for _, tc := range []struct {
		cells  int
		reduce []int
	}{{8, []int{2, 5}}, {5, []int{1, 3}}, {3, []int{1, 2}}} {
		var got []int
		for l := range tc.cells {
			if DARTSCell(l, tc.cells) {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, tc.reduce) {
			t.Errorf("%d cells: reduce cells %v, want %v", tc.cells, got, tc.reduce)
		}
	}
}
