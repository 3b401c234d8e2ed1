package space

import (
	"encoding/csv"
	"os"
	"slices"
	"testing"
)

const nb201CSV = "../../../../shared/data/nb201/nats_bench_tss_test_acc.csv"

// TestNB201ArchStrings parses every arch string of the benchmark table, formats it back byte for
// byte, and checks that the 15 625 rows are exactly the enumerated space.
func TestNB201ArchStrings(t *testing.T) {
	f, err := os.Open(nb201CSV)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("benchmark table not available: %v (CI runs with ../shared beside the checkout)", err)
		}
		t.Skipf("benchmark table not available: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "ArchitectureString")
	if col < 0 {
		t.Fatalf("no ArchitectureString column in %v", rows[0])
	}
	sp := NB201{}
	seen := map[string]bool{}
	for i, row := range rows[1:] {
		c, err := sp.Parse(row[col])
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if err := sp.Check(sp.Full(), c); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if got := sp.Format(c); got != row[col] {
			t.Fatalf("row %d: Format(Parse(s)) = %q, want %q", i, got, row[col])
		}
		seen[row[col]] = true
	}
	if len(seen) != 15625 {
		t.Fatalf("table has %d distinct archs, want 15625", len(seen))
	}
	n := 0
	sp.Enumerate(sp.Full(), func(c Child) bool {
		if !seen[sp.Format(c)] {
			t.Fatalf("enumerated child %v not in table", c)
		}
		n++
		return true
	})
	if n != 15625 {
		t.Fatalf("enumerated %d children, want 15625", n)
	}
}

func TestNB201ParseFormat(t *testing.T) {
	sp := NB201{}
	const s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
	c, err := sp.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	want := Child{3, 3, 4, 1, 3, 1}
	if !slices.Equal(c, want) {
		t.Fatalf("Parse = %v, want %v", c, want)
	}
	for _, bad := range []string{
		"",
		"|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|",
		"|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
		"|conv~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
		"|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
		"nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
	} {
		if _, err := sp.Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", bad)
		}
	}
}

func TestNB201SizeAndEnumerate(t *testing.T) {
	sp := NB201{}
	s := Shrunk{Allowed: [][]int{{1, 3}, {0, 2, 4}, {3}, {0, 1, 2, 3, 4}, {2, 3}, {4}}}
	if err := Validate(sp, s); err != nil {
		t.Fatal(err)
	}
	if got := sp.Size(s).Int64(); got != 2*3*1*5*2*1 {
		t.Fatalf("Size = %d, want 60", got)
	}
	seen := map[string]bool{}
	sp.Enumerate(s, func(c Child) bool {
		if err := sp.Check(s, c); err != nil {
			t.Fatal(err)
		}
		seen[sp.Format(c)] = true
		return true
	})
	if len(seen) != 60 {
		t.Fatalf("enumerated %d distinct children, want 60", len(seen))
	}
	if err := Validate(sp, Shrunk{Allowed: [][]int{{1}, {2, 1}, {3}, {3}, {3}, {3}}}); err == nil {
		t.Error("Validate accepted a decreasing list")
	}
	if err := Validate(sp, Shrunk{Allowed: [][]int{{1}, {}, {3}, {3}, {3}, {3}}}); err == nil {
		t.Error("Validate accepted an empty list")
	}
	if err := Validate(sp, Shrunk{Allowed: [][]int{{1}, {5}, {3}, {3}, {3}, {3}}}); err == nil {
		t.Error("Validate accepted op code 5")
	}
}

func TestNB201Connected(t *testing.T) {
	sp := NB201{}
	for _, tc := range []struct {
		c    Child
		want bool
	}{
		{Child{0, 0, 0, 0, 0, 0}, false},
		{Child{0, 0, 0, 1, 0, 0}, true},  // 0→3
		{Child{0, 2, 0, 0, 0, 3}, true},  // 0→2→3
		{Child{1, 0, 4, 0, 0, 3}, true},  // 0→1→2→3
		{Child{1, 0, 0, 0, 2, 0}, true},  // 0→1→3
		{Child{1, 4, 0, 0, 0, 0}, false}, // nodes 1, 2 reached, nothing into 3
		{Child{0, 0, 3, 0, 3, 3}, false}, // node 1 never reached
	} {
		if got := sp.Connected(tc.c); got != tc.want {
			t.Errorf("Connected(%v) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestUniformSampler(t *testing.T) {
	sp := NB201{}
	s := Shrunk{Allowed: [][]int{{0, 1}, {0}, {0}, {0, 2}, {0, 3}, {0}}}
	// Children: c0∈{0,1}, c3∈{0,2}, c4∈{0,3}; connected iff c3≠0 or (c0≠0 and c4≠0): 5 of 8.
	u, err := NewUniform(sp, s, 7)
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := NewUniform(sp, s, 7)
	counts := map[string]int{}
	const n = 5000
	for range n {
		c := u.Next()
		if !slices.Equal(c, u2.Next()) {
			t.Fatal("same seed gave different children")
		}
		if !sp.Connected(c) {
			t.Fatalf("sampled disconnected child %v", c)
		}
		counts[sp.Format(c)]++
	}
	if len(counts) != 5 {
		t.Fatalf("sampled %d distinct children, want the 5 connected ones", len(counts))
	}
	// Each has probability 1/5: sd of a count is sqrt(5000·0.2·0.8) ≈ 28; allow 5 sd.
	for k, v := range counts {
		if v < 1000-140 || v > 1000+140 {
			t.Errorf("child %s drawn %d times of %d, want about 1000", k, v, n)
		}
	}
	if _, err := NewUniform(sp, Shrunk{Allowed: [][]int{{0}, {0}, {0}, {0}, {0, 1}, {0, 1}}}, 1); err == nil {
		t.Error("NewUniform accepted a space with no connected child")
	}
}

func TestFairSampler(t *testing.T) {
	sp := NB201{}
	s := Shrunk{Allowed: [][]int{{0, 1, 2, 3, 4}, {1, 3}, {2}, {0, 1, 2, 3, 4}, {0, 4}, {1, 2, 3}}}
	f, err := NewFair(sp, s, 3)
	if err != nil {
		t.Fatal(err)
	}
	if f.RoundSize() != 5 {
		t.Fatalf("RoundSize = %d, want 5", f.RoundSize())
	}
	var prev []Child
	for round := range 4 {
		counts := make([]map[int]int, 6)
		for p := range counts {
			counts[p] = map[int]int{}
		}
		var cur []Child
		for range 5 {
			c := f.Next()
			if err := sp.Check(s, c); err != nil {
				t.Fatal(err)
			}
			cur = append(cur, c)
			for p, op := range c {
				counts[p][op]++
			}
		}
		for p, l := range s.Allowed {
			hi := (5 + len(l) - 1) / len(l)
			lo := 5 / len(l)
			for _, op := range l {
				if counts[p][op] < max(1, lo) || counts[p][op] > hi {
					t.Errorf("round %d edge %d op %d active %d times, want %d..%d", round, p, op, counts[p][op], max(1, lo), hi)
				}
			}
		}
		if round > 0 && slices.EqualFunc(prev, cur, func(a, b Child) bool { return slices.Equal(a, b) }) {
			t.Errorf("round %d repeats the previous round", round)
		}
		prev = cur
	}
}

func TestNB201FLOPs(t *testing.T) {
	net := NB201Net{C: 16, N: 5, Resolution: 32, InChannels: 3, Classes: 10}
	// Hand counts (multiply-accumulates):
	//   stem 9·3·16·32² = 442 368
	//   one 3×3 edge: 9·16²·32² = 9·32²·16² = 9·64²·8² = 2 359 296 in every stage
	//   reduction 16→32: (9·16·32 + 9·32·32 + 16·32)·16² = 14 336·256 = 3 670 016
	//   reduction 32→64: (9·32·64 + 9·64·64 + 32·64)·8² = 57 344·64 = 3 670 016
	//   classifier 64·10 = 640
	const fixed = 442368 + 3670016 + 3670016 + 640
	for _, tc := range []struct {
		c    Child
		want int64
	}{
		{Child{0, 0, 0, 0, 0, 0}, fixed},
		{Child{1, 4, 1, 4, 0, 1}, fixed},
		{Child{3, 3, 3, 3, 3, 3}, fixed + 3*5*6*2359296},
		// Two 1×1 convs (1/9 of a 3×3 each) and one 3×3 per cell.
		{Child{2, 0, 3, 2, 4, 1}, fixed + 3*5*(2*262144+2359296)},
	} {
		if got := net.FLOPs(tc.c); got != tc.want {
			t.Errorf("FLOPs(%v) = %d, want %d", tc.c, got, tc.want)
		}
	}
}
