package stage

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/space"
)

// sharedTable is the shared NB201 ground truth, relative to this package's directory.
const sharedTable = "../../../shared/data/nb201/nats_bench_tss_test_acc.csv"

// needShared skips (or fails, in CI) without the shared table and Fashion-MNIST.
func needShared(t *testing.T) {
	t.Helper()
	for _, p := range []string{sharedTable, data.FashionMNISTDir} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing and CI is set: %v", p, err)
			}
			t.Skipf("SKIPPED: %s missing: %v", p, err)
		}
	}
}

// naiveTauB is Kendall's τ-b by its definition, over all pairs: (C − D)/√((P − Tx)(P − Ty)).
func naiveTauB(x, y []float64) float64 {
	var c, d, tx, ty, p float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			p++
			a, b := x[i]-x[j], y[i]-y[j]
			switch {
			case a == 0 && b == 0:
				tx++
				ty++
			case a == 0:
				tx++
			case b == 0:
				ty++
			case (a > 0) == (b > 0):
				c++
			default:
				d++
			}
		}
	}
	return (c - d) / math.Sqrt((p-tx)*(p-ty))
}

// TestCorrelationsSmallTable checks benchmark mode's τ against the O(n²) definition on a table of
// 60 rows of the shared one, with a metric full of ties.
func TestCorrelationsSmallTable(t *testing.T) {
	needShared(t)
	b, err := os.ReadFile(sharedTable)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	small := filepath.Join(t.TempDir(), "small.csv")
	if err := os.WriteFile(small, []byte(strings.Join(lines[:61], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gt, err := readGroundTruth(small)
	if err != nil {
		t.Fatal(err)
	}
	var children []space.Child
	for _, e := range gt.table.Entries() {
		children = append(children, e.Child)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	metric := make([]float64, len(children))
	for i := range metric {
		metric[i] = float64(rng.IntN(7)) // many ties
	}
	rows, err := gt.correlations(children, []string{"m"}, map[string][]float64{"m": metric})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want one per data set", len(rows))
	}
	for i, r := range rows {
		truth := make([]float64, len(children))
		for k, e := range gt.table.Entries() {
			truth[k] = e.Accuracy[i]
		}
		if want := naiveTauB(metric, truth); math.Abs(r.KendallTau-want) > 1e-12 || r.Dataset != string(nb201.Datasets[i]) || r.Children != 60 {
			t.Errorf("%s: τ = %v over %d, want %v over 60", r.Dataset, r.KendallTau, r.Children, want)
		}
	}
	// A child the table lacks is an error naming the file.
	_, err = gt.correlations([]space.Child{{0, 0, 0, 0, 0, 0}}, []string{"m"}, map[string][]float64{"m": {1}})
	if err == nil || !strings.Contains(err.Error(), small) {
		t.Errorf("child missing from the table: %v, want an error naming %s", err, small)
	}
}

// TestBenchmarkMode runs one tiny stage with ground_truth set and checks what score-operators and
// prune record against the table itself; then that a bad table or space is refused naming the file.
func TestBenchmarkMode(t *testing.T) {
	needShared(t)
	ctx := context.Background()
	run := filepath.Join(t.TempDir(), "run")
	table, err := filepath.Abs(sharedTable)
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"train":256,"valid":64,"width":4,"ground_truth":%q}`, table)
	common := []string{"-run", run, "-seed", "3", "-config", conf}
	for _, s := range []struct {
		step func(context.Context, []string) error
		args []string
	}{
		{TrainSupernet, []string{"-epochs", "2"}},
		{SampleChildren, nil},
		{ScoreOperators, nil},
		{Prune, []string{"-outputs", t.TempDir()}},
	} {
		if err := s.step(ctx, append(append([]string{}, common...), s.args...)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := artifacts.Open(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	children, _, err := schema.Children.Get(ctx, st, childrenKey(0))
	if err != nil {
		t.Fatal(err)
	}
	gt, err := readGroundTruth(table)
	if err != nil {
		t.Fatal(err)
	}
	angles, truth := make([]float64, len(children)), make([]float64, len(children))
	for i, ch := range children {
		c, err := childOf(space.NB201{}, ch.Ops)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := gt.table.Lookup(c)
		angles[i], truth[i] = *ch.Angle, e.Accuracy[0]
	}
	corr, _, err := schema.Correlations.Get(ctx, st, correlationsKey(0))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range corr {
		if math.IsNaN(r.KendallTau) || math.IsNaN(r.SpearmanRho) {
			t.Fatalf("correlation %+v is not a number", r)
		}
		if r.Metric == "angle" && r.Dataset == "cifar10" {
			found = true
			// 15 625 children: the O(n²) check takes a few seconds; on every 5th child it is fast.
			var a, b []float64
			for i := 0; i < len(angles); i += 5 {
				a, b = append(a, angles[i]), append(b, truth[i])
			}
			if r.Children != 15625 {
				t.Errorf("correlation over %d children, want all 15 625", r.Children)
			}
			sub, _ := gt.correlations(subsample(children, 5), []string{"angle"}, map[string][]float64{"angle": a})
			if want := naiveTauB(a, b); math.Abs(sub[0].KendallTau-want) > 1e-12 {
				t.Errorf("τ on every 5th child %v, want %v", sub[0].KendallTau, want)
			}
		}
	}
	if !found || len(corr) != 3 {
		t.Errorf("correlations %+v, want the angle on 3 data sets", corr)
	}
	truths, _, err := schema.OpTruths.Get(ctx, st, opTruthKey(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(truths) != 90 {
		t.Fatalf("%d op-truth rows, want 30 ops × 3 data sets", len(truths))
	}
	space0, _, err := schema.Space.Get(ctx, st, spaceKey(0))
	if err != nil {
		t.Fatal(err)
	}
	alive := map[string]bool{}
	for _, r := range space0 {
		alive[fmt.Sprint(r.Edge, r.Op)] = r.Alive
	}
	want, err := gt.table.OpScores(space.NB201{}.Full(), nb201.CIFAR10)
	if err != nil {
		t.Fatal(err)
	}
	in := 0
	for i, r := range truths[:30] {
		if r.Dataset != "cifar10" || math.Abs(r.Score-want[i].Score) > 1e-12 || r.Kept != alive[fmt.Sprint(r.Edge, r.Op)] || r.TopK != 10 {
			t.Errorf("row %d: %+v, want cifar10 score %v, kept %v, top_k 10", i, r, want[i].Score, alive[fmt.Sprint(r.Edge, r.Op)])
		}
		if r.Kept && r.Rank <= 10 {
			in++
		}
	}
	if truths[0].KeptInTopK != int32(in) {
		t.Errorf("kept_in_top_k %d, want %d", truths[0].KeptInTopK, in)
	}

	// A truncated table, a table of other architectures, and a space the table does not cover.
	b, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.csv")
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	partial := filepath.Join(dir, "partial.csv")
	os.WriteFile(partial, b[:2000+strings.Index(string(b[2000:]), "\n")+1], 0o644)
	for _, tc := range []struct{ conf, file string }{
		{fmt.Sprintf(`{"train":256,"valid":64,"width":4,"ground_truth":%q}`, truncated), truncated},
		{fmt.Sprintf(`{"train":256,"valid":64,"width":4,"ground_truth":%q}`, partial), partial},
		{fmt.Sprintf(`{"space":"darts","train":256,"valid":64,"width":4,"cells":3,"ground_truth":%q}`, table), table},
	} {
		err := ScoreOperators(ctx, []string{"-run", run, "-seed", "3", "-config", tc.conf, "-force"})
		if err == nil || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("config %s: %v, want an error naming %s", tc.conf, err, tc.file)
		}
	}
}

func subsample(children []schema.Child, every int) []space.Child {
	var out []space.Child
	for i := 0; i < len(children); i += every {
		c, _ := childOf(space.NB201{}, children[i].Ops)
		out = append(out, c)
	}
	return out
}
