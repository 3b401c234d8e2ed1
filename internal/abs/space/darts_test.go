package space

import (
	"math"
	"slices"
	"testing"
)

func TestDARTSSize(t *testing.T) {
	sp := DARTS{}
	// Per cell: 8² op pairs times C(2,2), C(3,2), C(4,2), C(5,2) = 1, 3, 6, 10 input pairs.
	if got, want := sp.Size(sp.Full()).String(), "9119789245425254400"; got != want {
		t.Errorf("full size %s, want %s = (8⁸·180)²", got, want)
	}
	noNone := sp.Full()
	for p := range noNone.Allowed {
		noNone.Allowed[p] = noNone.Allowed[p][1:]
	}
	if got, want := sp.Size(noNone).String(), "1076746950455072400"; got != want {
		t.Errorf("size without none %s, want %s = (7⁸·180)²", got, want)
	}
}

// smallDARTS allows skip_connect everywhere, plus sep_conv_3x3 on normal edge 0 (2←0) and
// max_pool_3x3 on normal edge 9 (5←0). Normal cell: node 2: 2·1; node 3: 3; node 4: 6; node 5:
// the 4 pairs with input 0 count 2, the other 6 count 1: 14. Size 2·3·6·14 · 1·3·6·10 = 90 720.
func smallDARTS() Shrunk {
	s := Shrunk{Allowed: make([][]int, 28)}
	for p := range s.Allowed {
		s.Allowed[p] = []int{DARTSSkip}
	}
	s.Allowed[0] = []int{DARTSSkip, DARTSSepConv3}
	s.Allowed[9] = []int{DARTSMaxPool, DARTSSkip}
	return s
}

func TestDARTSEnumerate(t *testing.T) {
	sp := DARTS{}
	s := smallDARTS()
	if err := Validate(sp, s); err != nil {
		t.Fatal(err)
	}
	if got := sp.Size(s).Int64(); got != 90720 {
		t.Fatalf("size %d, want 90720", got)
	}
	seen := map[string]bool{}
	sp.Enumerate(s, func(c Child) bool {
		if err := sp.Check(s, c); err != nil {
			t.Fatal(err)
		}
		seen[sp.Format(c)] = true
		return true
	})
	if len(seen) != 90720 {
		t.Fatalf("enumerated %d distinct children, want 90720", len(seen))
	}
}

func TestDARTSSample(t *testing.T) {
	sp := DARTS{}
	s := smallDARTS()
	r := NewRand(4)
	const n = 14000
	kept9, pool9, conv0 := 0, 0, 0
	for range n {
		c := sp.Sample(s, r)
		if err := sp.Check(s, c); err != nil {
			t.Fatal(err)
		}
		if c[9] != Absent {
			kept9++
		}
		if c[9] == DARTSMaxPool {
			pool9++
		}
		if c[0] == DARTSSepConv3 {
			conv0++
		}
	}
	// Uniform over children: edge (5←0) is kept in 8 of node 5's 14 combinations, with max pool
	// in 4; node 2 takes sep_conv_3x3 on (2←0) in 1 of 2. Allow 5 sd of a binomial count.
	for _, tc := range []struct {
		name string
		got  int
		p    float64
	}{{"edge 9 kept", kept9, 8.0 / 14}, {"edge 9 max pool", pool9, 4.0 / 14}, {"edge 0 sep conv", conv0, 0.5}} {
		sd := math.Sqrt(n * tc.p * (1 - tc.p))
		if math.Abs(float64(tc.got)-n*tc.p) > 5*sd {
			t.Errorf("%s: %d of %d, want about %.0f", tc.name, tc.got, n, n*tc.p)
		}
	}
}

// dartsV2 is a genotype in the format of DARTS' genotypes.py (nodes list their inputs in any
// order, concat as a list).
const dartsV2 = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"

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
		// normal: (2←0),(2←1) | (3←0),(3←1),(3←2) | (4←0..3) | (5←0..4)
		4, 4, 4, 4, -1, 3, 4, -1, -1, 3, -1, 6, -1, -1,
		// reduce
		1, 1, -1, 1, 3, 1, -1, 3, -1, -1, 1, 3, -1, -1,
	}
	if !slices.Equal(c, want) {
		t.Fatalf("Parse = %v, want %v", c, want)
	}
	const canon = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('skip_connect', 2), ('max_pool_3x3', 1), ('skip_connect', 2)], reduce_concat=range(2, 6))"
	if got := sp.Format(c); got != canon {
		t.Fatalf("Format = %s\nwant     %s", got, canon)
	}
	back, err := sp.Parse(canon)
	if err != nil || !slices.Equal(back, c) {
		t.Fatalf("Parse(Format(c)) = %v, %v; want %v", back, err, c)
	}
	for _, bad := range []string{
		"",
		dartsV2[:len(dartsV2)-1],
		"Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=range(2, 6), reduce=[], reduce_concat=range(2, 6))",
		// node 2 reading node 2
		"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 2), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))",
		// node 2 reading node 0 twice
		"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 0), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))",
		// unknown op
		"Genotype(normal=[('conv', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))",
	} {
		if _, err := sp.Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", bad)
		}
	}
	three := slices.Clone(c)
	three[4] = DARTSSkip // node 3 keeps 3 inputs
	if err := sp.Check(sp.Full(), three); err == nil {
		t.Error("Check accepted a node with 3 inputs")
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

// TestDARTSFLOPs counts a 3-cell net (C=2, 8×8 input, 10 classes; cells 1 and 2 reduce) by hand.
// Normal genotype: node 2 (sep_conv_3x3 ← 0, skip ← 1), node 3 and 4 (skip ← 0, skip ← 1), node 5
// (skip ← 0, dil_conv_5x5 ← 4). Reduce genotype: node 2 (max_pool ← 0, skip ← 1), node 3
// (skip ← 0, sep_conv_3x3 ← 2), node 4 (avg_pool ← 1, skip ← 3), node 5 (skip ← 2, skip ← 3).
//
//	stem 3→6 at 8²: 3·6·9·64 = 10 368
//	cell 0 (w=2, 8²): pre 6·2·64 ·2 = 1 536; sep 2·(2·9+4)·64 = 2 816; dil5 (2·25+4)·64 = 3 456
//	  → 7 808
//	cell 1 (w=4, 8²→4²): pre 6·4·64 + 8·4·64 = 3 584; two stride-2 skips 4²·4² ·2 = 512;
//	  sep (4·9+16)·2·16 = 1 664 → 5 760
//	cell 2 (w=8, 4²→2²): FactorizedReduce 8·8·16 = 1 024; pre1 16·8·16 = 2 048; skips 8²·2²·2 =
//	  512; sep 2·(8·9+64)·4 = 1 088 → 4 672
//	classifier 32·10 = 320; total 28 928.
func TestDARTSFLOPs(t *testing.T) {
	c := make(Child, 28)
	for i := range c {
		c[i] = Absent
	}
	set := func(cell, i, j, op int) { c[cell*DARTSEdges+DARTSEdge(i, j)] = op }
	set(0, 0, 2, DARTSSepConv3)
	set(0, 1, 2, DARTSSkip)
	set(0, 0, 3, DARTSSkip)
	set(0, 1, 3, DARTSSkip)
	set(0, 0, 4, DARTSSkip)
	set(0, 1, 4, DARTSSkip)
	set(0, 0, 5, DARTSSkip)
	set(0, 4, 5, DARTSDilConv5)
	set(1, 0, 2, DARTSMaxPool)
	set(1, 1, 2, DARTSSkip)
	set(1, 0, 3, DARTSSkip)
	set(1, 2, 3, DARTSSepConv3)
	set(1, 1, 4, DARTSAvgPool)
	set(1, 3, 4, DARTSSkip)
	set(1, 2, 5, DARTSSkip)
	set(1, 3, 5, DARTSSkip)
	if err := (DARTS{}).Check(DARTS{}.Full(), c); err != nil {
		t.Fatal(err)
	}
	net := DARTSNet{C: 2, Layers: 3, Resolution: 8, InChannels: 3, Classes: 10}
	if got := net.FLOPs(c); got != 28928 {
		t.Errorf("FLOPs = %d, want 28928", got)
	}
}

func TestDARTSSampleAt(t *testing.T) {
	sp := DARTS{}
	s := sp.Full()
	s.Allowed[10] = []int{DARTSSkip, DARTSSepConv3} // (5←1) has 2 ops, the others 8
	r := NewRand(8)
	for p := range 28 {
		for _, op := range s.Allowed[p] {
			c := sp.SampleAt(s, p, op, r)
			if c[p] != op {
				t.Fatalf("SampleAt(%d, %d) = %v", p, op, c)
			}
			if err := sp.Check(s, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Conditioned on (5←0) = sep_conv_5x5, node 5's other input is 1 with weight 2 and 2, 3, 4
	// with weight 8 each: probabilities 2/26 and 8/26.
	const n = 13000
	partner := make([]int, 5)
	for range n {
		c := sp.SampleAt(s, DARTSEdge(0, 5), DARTSSepConv5, r)
		for i := 1; i < 5; i++ {
			if c[DARTSEdge(i, 5)] != Absent {
				partner[i]++
			}
		}
	}
	for i, want := range []float64{0, 2.0 / 26, 8.0 / 26, 8.0 / 26, 8.0 / 26} {
		sd := math.Sqrt(n * want * (1 - want))
		if math.Abs(float64(partner[i])-n*want) > 5*sd+1e-9 {
			t.Errorf("partner %d chosen %d of %d times, want about %.0f", i, partner[i], n, n*want)
		}
	}
}

// TestDARTSCell checks the reduce cells of DARTS' rule (cells/3 and 2·cells/3): the authors'
// 8-cell supernet reduces at cells 2 and 5 (DARTS' model_search.py), the 5-cell preset at 1 and 3,
// the smallest, of 3 cells, at 1 and 2; reduce cells read the second 14 choice points.
func TestDARTSCell(t *testing.T) {
	for _, tc := range []struct {
		cells  int
		reduce []int
	}{{8, []int{2, 5}}, {5, []int{1, 3}}, {3, []int{1, 2}}} {
		var got []int
		for l := range tc.cells {
			red, first := DARTSCell(l, tc.cells)
			if red {
				got = append(got, l)
			}
			if want := map[bool]int{false: 0, true: DARTSEdges}[red]; first != want {
				t.Errorf("%d cells, cell %d: first choice point %d, want %d", tc.cells, l, first, want)
			}
		}
		if !slices.Equal(got, tc.reduce) {
			t.Errorf("%d cells: reduce cells %v, want %v", tc.cells, got, tc.reduce)
		}
	}
}
