package nb201

import (
	"math"
	"strings"
	"testing"

	"github.com/abs-nas/abs/internal/abs/rank"
	"github.com/abs-nas/abs/internal/abs/space"
)

const head = "CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,ArchitectureString,UniqueString\n"

// Two rows copied from the shared table (benchmark indices 0 and 1).
const row0 = "85.86333333333334,52.913333294677734,26.6333332739936,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|,x\n"
const row1 = "93.66000000000001,70.29333326822916,44.03333332316081,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|,y\n"

func TestReadSmall(t *testing.T) {
	tab, err := Read(strings.NewReader(head + row0 + row1))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 2 {
		t.Fatalf("Len = %d, want 2", tab.Len())
	}
	c := space.Child{space.NB201Conv3x3, space.NB201Conv3x3, space.NB201AvgPool, space.NB201Skip, space.NB201Conv3x3, space.NB201Skip}
	e, ok := tab.Lookup(c)
	if !ok || e.Index != 1 || e.Accuracy != [3]float64{93.66000000000001, 70.29333326822916, 44.03333332316081} {
		t.Errorf("Lookup(%v) = %+v, %v; want index 1 with the accuracies of row 1", c, e, ok)
	}
	for _, tc := range []struct {
		d    Dataset
		want float64
	}{{CIFAR10, 93.66000000000001}, {CIFAR100, 70.29333326822916}, {ImageNet16, 44.03333332316081}} {
		o := Oracle{Table: tab, Dataset: tc.d}
		got, err := o.Child(c)
		if err != nil || got != tc.want {
			t.Errorf("%s.Child = %v, %v; want %v", o.Name(), got, err, tc.want)
		}
	}
	if _, err := (Oracle{Table: tab, Dataset: CIFAR10}).Child(space.Child{0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("oracle of a child missing from the table succeeded")
	}
	if _, err := (Oracle{Dataset: CIFAR10}).Child(c); err == nil {
		t.Error("oracle without a table succeeded")
	}
	if _, err := (Oracle{Table: tab, Dataset: "svhn"}).Child(c); err == nil {
		t.Error("oracle on an unknown data set succeeded")
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"bad header", strings.Replace(head, "UniqueString", "Unique", 1) + row0, "line 1 field 5"},
		{"short row", head + row0 + "1,2,3,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n", "line 3"},
		{"accuracy not a number", head + strings.Replace(row0, "85.86333333333334", "abc", 1), "line 2 field CIFAR10TestAccuracy200Epochs"},
		{"accuracy out of range", head + row0 + strings.Replace(row1, "44.03333332316081", "101", 1), "line 3 field ImageNetTestAccuracy200Epochs"},
		{"accuracy NaN", head + strings.Replace(row0, "52.913333294677734", "NaN", 1), "line 2 field CIFAR100TestAccuracy200Epochs"},
		{"bad arch", head + strings.Replace(row0, "avg_pool_3x3~0", "max_pool_3x3~0", 1), "line 2 field ArchitectureString"},
		{"duplicate arch", head + row0 + row1 + row0, "line 4 field ArchitectureString: architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseDataset(t *testing.T) {
	for _, d := range Datasets {
		got, err := ParseDataset(string(d))
		if err != nil || got != d {
			t.Errorf("ParseDataset(%q) = %q, %v", d, got, err)
		}
	}
	if _, err := ParseDataset("imagenet"); err == nil {
		t.Error("ParseDataset(imagenet) succeeded")
	}
}

// TestSharedTable checks the shared ground truth against the facts its SOURCE.md states.
func TestSharedTable(t *testing.T) {
	tab := Shared(t)
	if tab.Len() != Size {
		t.Fatalf("Len = %d, want %d", tab.Len(), Size)
	}
	// Every NB201 child is in the table exactly once: Read rejects duplicates, so it is enough
	// that every enumerated child is found.
	sp := space.NB201{}
	missing := 0
	sp.Enumerate(sp.Full(), func(c space.Child) bool {
		if _, ok := tab.Lookup(c); !ok {
			missing++
		}
		return true
	})
	if missing != 0 {
		t.Errorf("%d NB201 children missing from the table", missing)
	}
	// SOURCE.md: best CIFAR-10 94.37 at indices 6111 and 13714, best CIFAR-100 73.51, best
	// ImageNet16-120 47.31, the all-none cell 10.0.
	want := [3]float64{94.37, 73.51, 47.31}
	var best [3]float64
	var argbest []int
	for _, e := range tab.Entries() {
		for i := range 3 {
			best[i] = max(best[i], e.Accuracy[i])
		}
	}
	for _, e := range tab.Entries() {
		if e.Accuracy[0] == best[0] {
			argbest = append(argbest, e.Index)
		}
	}
	for i := range 3 {
		if math.Abs(best[i]-want[i]) > 0.005 {
			t.Errorf("best %s accuracy %v, want %v", Datasets[i], best[i], want[i])
		}
	}
	if len(argbest) != 2 || argbest[0] != 6111 || argbest[1] != 13714 {
		t.Errorf("best CIFAR-10 at indices %v, want [6111 13714]", argbest)
	}
	none, _ := tab.Accuracy(space.Child{0, 0, 0, 0, 0, 0}, CIFAR10)
	if none != 10 {
		t.Errorf("all-none cell CIFAR-10 accuracy %v, want 10", none)
	}
}

// TestCrossDatasetKendall: the ground-truth rankings of the three data sets agree strongly, as
// NAS-Bench-201 reports (its Fig. 4 shows high rank correlation between data sets). Measured on the
// shared table: τ(CIFAR-10, CIFAR-100) = 0.8816, τ(CIFAR-10, ImageNet16-120) = 0.8392,
// τ(CIFAR-100, ImageNet16-120) = 0.8458 (printed with -v). The asserted bounds sit 0.02 below.
func TestCrossDatasetKendall(t *testing.T) {
	tab := Shared(t)
	cols := make([][]float64, 3)
	for _, e := range tab.Entries() {
		for i := range 3 {
			cols[i] = append(cols[i], e.Accuracy[i])
		}
	}
	for _, tc := range []struct {
		a, b int
		min  float64
	}{{0, 1, 0.86}, {0, 2, 0.82}, {1, 2, 0.82}} {
		tau := rank.KendallTau(cols[tc.a], cols[tc.b])
		t.Logf("Kendall tau(%s, %s) = %.4f", Datasets[tc.a], Datasets[tc.b], tau)
		if !(tau > tc.min) {
			t.Errorf("Kendall tau(%s, %s) = %.4f, want > %v", Datasets[tc.a], Datasets[tc.b], tau, tc.min)
		}
	}
}

// TestOpScores checks the ground-truth operator scores on the shared table against a direct
// average over its rows, for the full space and a shrunk one, and the error for a child the table
// lacks.
func TestOpScores(t *testing.T) {
	tab := Shared(t)
	shrunk := space.Shrunk{Allowed: [][]int{{1, 3}, {0, 2, 3}, {1}, {0, 1, 2, 3, 4}, {3, 4}, {2}}}
	for _, s := range []space.Shrunk{space.NB201{}.Full(), shrunk} {
		got, err := tab.OpScores(s, CIFAR100)
		if err != nil {
			t.Fatal(err)
		}
		if want := s.NumOps(); len(got) != want {
			t.Fatalf("%d scores, want %d", len(got), want)
		}
		for _, o := range got {
			var sum float64
			var n int
			for _, e := range tab.Entries() {
				in := e.Child[o.Point] == o.Op
				for p, op := range e.Child {
					in = in && s.Has(p, op)
				}
				if in {
					sum += e.Accuracy[1]
					n++
				}
			}
			if n != o.Samples || math.Abs(sum/float64(n)-o.Score) > 1e-9 {
				t.Errorf("edge %d op %d: score %v over %d, want %v over %d", o.Point, o.Op, o.Score, o.Samples, sum/float64(n), n)
			}
		}
	}
	small, err := Read(strings.NewReader(head + row0 + row1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.OpScores(shrunk, CIFAR10); err == nil || !strings.Contains(err.Error(), "not in the table") {
		t.Errorf("OpScores over children the table lacks: %v, want an error saying so", err)
	}
}
