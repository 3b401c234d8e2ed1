package stage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/space"
)

// TestSearchGroundTruth runs the search step with fitness ground-truth and an exhaustive search on a
// run holding only a shrunk space (no supernet: the tabular search must not need one) and checks,
// per data set column, that every candidate's fitness is the table's accuracy, that every valid
// child of the space was evaluated, and that the step's output is the best of them by a scan of
// the table.
func TestSearchGroundTruth(t *testing.T) {
	needShared(t)
	ctx := context.Background()
	table, err := filepath.Abs(sharedTable)
	if err != nil {
		t.Fatal(err)
	}
	gt, err := readGroundTruth(table)
	if err != nil {
		t.Fatal(err)
	}
	sp := space.NB201{}
	// Two ops per edge, none among them on edges 0, 3 and 5, so some children are disconnected;
	// 2⁶ = 64 children in all.
	s := space.Shrunk{Allowed: [][]int{{0, 2}, {1, 3}, {2, 4}, {0, 3}, {1, 4}, {0, 2}}}
	for _, d := range []nb201.Dataset{nb201.CIFAR10, nb201.ImageNet16} {
		t.Run(string(d), func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			st, err := artifacts.Open(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := schema.Space.Put(ctx, st, spaceKey(0), schema.Meta{Producer: "test"}, spaceRows(sp, s)); err != nil {
				t.Fatal(err)
			}
			outputs := t.TempDir()
			conf := fmt.Sprintf(`{"fitness":"ground-truth","ground_truth":%q,"ground_truth_dataset":%q,"search":"exhaustive","search_budget":64}`, table, d)
			if err := Search(ctx, []string{"-run", run, "-stage", "0", "-seed", "1", "-config", conf, "-outputs", outputs}); err != nil {
				t.Fatal(err)
			}
			col := slices.Index(nb201.Datasets, d)
			var want nb201.Entry
			valid := 0
			for _, e := range gt.table.Entries() {
				if sp.Check(s, e.Child) != nil || !sp.Connected(e.Child) {
					continue
				}
				if valid++; e.Accuracy[col] > want.Accuracy[col] {
					want = e
				}
			}
			rows, _, err := schema.Candidates.Get(ctx, st, candidatesKey)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != valid {
				t.Errorf("%d candidates, want the %d valid children of the space", len(rows), valid)
			}
			for _, r := range rows {
				c, err := childOf(sp, r.Ops)
				if err != nil {
					t.Fatal(err)
				}
				if e, _ := gt.table.Lookup(c); r.Fitness != e.Accuracy[col] {
					t.Errorf("candidate %s: fitness %v, want the table's %v", sp.Format(c), r.Fitness, e.Accuracy[col])
				}
			}
			got, err := os.ReadFile(filepath.Join(outputs, "best"))
			if err != nil {
				t.Fatal(err)
			}
			if w := sp.Format(want.Child); string(got) != w {
				t.Errorf("best %s, want %s (%v on %s)", got, w, want.Accuracy[col], d)
			}
		})
	}
}

// TestFitnessConfig checks that the search step refuses a fitness it does not know, ground-truth
// without a table, and an unknown data set column, naming the field and the valid values.
func TestFitnessConfig(t *testing.T) {
	for _, c := range []struct{ conf, want string }{
		{`{"fitness":"ground-truth"}`, "fitness = ground-truth: want ground-truth only with ground_truth set"},
		{`{"fitness":"table"}`, `fitness "table": want one of supernet, ground-truth`},
		{`{"ground_truth_dataset":"cifar-10"}`, `nb201 data set "cifar-10": want one of cifar10, cifar100, imagenet16-120`},
	} {
		err := Search(context.Background(), []string{"-run", t.TempDir(), "-stage", "0", "-config", c.conf})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %s: got %v, want an error with %q", c.conf, err, c.want)
		}
	}
}
