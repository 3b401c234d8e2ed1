package study

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/space"
)

const (
	tablePath   = "../../../shared/data/nb201/nats_bench_tss_test_acc.csv"
	authorsPath = "../../../shared/data/abs-official/kendall-tau.json"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func put[R any](t *testing.T, k *schema.Kind[R], path string, rows []R) {
	t.Helper()
	var b bytes.Buffer
	if err := k.Write(&b, schema.Meta{Producer: "test"}, rows); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}

func ptr(v float64) *float64 { return &v }

// TestAnalyse builds a tiny study folder by hand, with figures whose summaries are known, and
// checks what Analyse and Markdown make of it: means and sds over seeds, the Re-BN/angle sd ratio,
// the cost per 100 children, the combined ranking, the stand-alone models, the searches and the
// list of missing parts.
func TestAnalyse(t *testing.T) {
	if _, err := os.Stat(tablePath); err != nil {
		t.Skipf("the NB201 table is not beside this checkout: %v", err)
	}
	tb, err := os.ReadFile(tablePath)
	if err != nil {
		t.Fatal(err)
	}
	table, err := nb201.Read(bytes.NewReader(tb))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "settings.json"), []byte(`{"scale":{"width":4},"epochs":3,"seeds":"1 2","inits":"kaiming","conv_epochs":"","per_op":1,"sa_n":3,"sa_epochs":8,"sa_train":100,"sa_test":100}`))
	oracle, err := OracleSpace(table, nb201.CIFAR10, 20)
	if err != nil {
		t.Fatal(err)
	}
	var spaceRows []schema.SpaceOp
	sp := space.NB201{}
	for e := range sp.Points() {
		for o, op := range sp.Ops() {
			spaceRows = append(spaceRows, schema.SpaceOp{Edge: int32(e), Op: op.Name, Alive: oracle.Has(e, o)})
		}
	}
	// (a): angle τ 0.2 and 0.4 on CIFAR-10 for seeds 1 and 2: mean 0.300, sd 0.141.
	for seed, tau := range map[int]float64{1: 0.2, 2: 0.4} {
		d := filepath.Join(dir, "angle", "seed-"+string(rune('0'+seed)))
		writeFile(t, filepath.Join(d, "done"), nil)
		var rows []schema.Correlation
		for _, ds := range datasets {
			rows = append(rows, schema.Correlation{Metric: "angle", Dataset: ds, Children: 15625, KendallTau: tau})
		}
		put(t, schema.Correlations, filepath.Join(d, "stage-0/correlations.parquet"), rows)
		put(t, schema.Space, filepath.Join(d, "stage-0/space.parquet"), spaceRows)
		put(t, schema.OpTruths, filepath.Join(d, "stage-0/op-truth.parquet"), []schema.OpTruth{
			{Edge: 0, Op: "none", Dataset: "cifar10", Rank: 2, Kept: false, TopK: 1, KeptInTopK: int32(seed - 1)},
			{Edge: 0, Op: "skip_connect", Dataset: "cifar10", Rank: 1, Kept: true, TopK: 1, KeptInTopK: int32(seed - 1)},
		})
	}
	writeFile(t, filepath.Join(dir, "angle/seed-1/sample/done"), []byte("0.5\n"))
	// The accuracy sample of seed 1: three children that the angle and the Re-BN accuracy both order
	// as the table does, so the combined ranking has τ = 1; its step took 12 s: 400 s per 100.
	kids := []space.Child{}
	sp.Enumerate(sp.Full(), func(c space.Child) bool {
		if sp.Connected(c) && len(kids) < 3 {
			kids = append(kids, append(space.Child(nil), c...))
		}
		return len(kids) < 3
	})
	var children []schema.Child
	for i, k := range kids {
		a, err := table.Accuracy(k, nb201.CIFAR10)
		if err != nil {
			t.Fatal(err)
		}
		ops := make([]string, len(k))
		for e, o := range k {
			ops[e] = sp.Ops()[o].Name
		}
		children = append(children, schema.Child{ID: int64(i), Ops: ops, ForEdge: -1, Angle: ptr(a / 1000), ReBNAcc: ptr(a), ValidAcc: ptr(10)})
	}
	for _, seed := range []string{"1", "2"} {
		put(t, schema.Children, filepath.Join(dir, "angle/seed-"+seed, "stage-0/children.parquet"), children)
	}
	acc := filepath.Join(dir, "accuracy/seed-1")
	writeFile(t, filepath.Join(acc, "done"), nil)
	writeFile(t, filepath.Join(acc, "sample/done"), []byte("12\n"))
	put(t, schema.Children, filepath.Join(acc, "stage-0/children.parquet"), children)
	put(t, schema.Space, filepath.Join(acc, "stage-0/space.parquet"), spaceRows)
	put(t, schema.OpTruths, filepath.Join(acc, "stage-0/op-truth.parquet"), []schema.OpTruth{
		{Edge: 0, Op: "skip_connect", Dataset: "cifar10", Rank: 1, Kept: true, TopK: 1, KeptInTopK: 1},
	})
	put(t, schema.Correlations, filepath.Join(acc, "stage-0/correlations.parquet"), []schema.Correlation{
		{Metric: "angle", Dataset: "cifar10", Children: 3, KendallTau: 0.1},
		{Metric: "rebn_acc", Dataset: "cifar10", Children: 3, KendallTau: 0.3},
	})
	// The stand-alone models: angles and accuracies in the same order (τ = 1); 50, 60, 90 % on 100
	// images resolve 2 of 3 pairs (TestSeparate).
	var lines []string
	for i := range 3 {
		ops := children[i].Ops
		lines = append(lines, `{"index":`+string(rune('0'+i))+`,"arch":"x","ops":["`+strings.Join(ops, `","`)+`"],"angle":`+[]string{"0.1", "0.2", "0.3"}[i]+`,"test_acc":`+[]string{"50", "60", "90"}[i]+`,"steps":8,"seconds":1}`)
	}
	writeFile(t, filepath.Join(dir, "standalone/models.jsonl"), []byte(strings.Join(lines, "\n")+"\n"))
	writeFile(t, filepath.Join(dir, "standalone/done"), []byte("3\n"))

	an, err := Analyse(context.Background(), dir, Options{Table: tablePath, Authors: authorsPath, SearchSeeds: 3, SearchBudgets: []int{5}})
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	an.Markdown(&md)
	text := md.String()
	for _, want := range []string{
		"| angle (all children) | 15625 | 0.300 ± 0.141 (0.200 / 0.400) |",
		"| 0.575 ± 0.003 |", // the authors' angle, CIFAR-10
		"| angle (accuracy sample) | 3 | 0.100 ± 0.000 (0.100) |",
		"| accuracy | 3 | 400 | 400 |",
		"| angle | 3 | 16.7 | 16.7 |",
		"| angle | 0 / 1 | 0.500 ± 0.707 |",
		"| accuracy | 1 | 1.000 ± 0.000 |",
		"- angle, seed 1: `✓·`",
		"| kaiming | not measured |",
		"- τ(own angle, Fashion-MNIST test accuracy) = 1.000",
		"2 of 3 model pairs",
		"| rebn_acc | 1.000 | 1.000 ± 0.000 |",
		"| angle | 1.000 / 1.000 | 1.000 ± 0.000 |",
		"| ours | 1.000 ± 0.000 (1.000) |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("tables lack %q", want)
		}
	}
	best, err := bestIn(table, oracle)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range an.Search {
		if r.Space == "angle" && r.BestIn != best {
			t.Errorf("(h) best in the angle space %v, want the oracle space's %v (the same space)", r.BestIn, best)
		}
		for _, b := range r.Best {
			if b > r.BestIn {
				t.Errorf("(h) %s %s found %v, above the best in its space %v", r.Space, r.Algorithm, b, r.BestIn)
			}
		}
	}
	if len(an.Search) != 4*2 { // full, angle, accuracy, oracle × random, evolution
		t.Errorf("(h) %d search rows, want 8", len(an.Search))
	}
	wantMissing := "supernet/seed-1/train, random/seed-1, init-kaiming/angle-seed-1, supernet/seed-2/train, random/seed-2, accuracy/seed-2, init-kaiming/angle-seed-2"
	if got := strings.Join(an.Missing, ", "); got != wantMissing {
		t.Errorf("missing = %s\nwant %s", got, wantMissing)
	}
	out := t.TempDir()
	if err := an.Write(out, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := schema.StudyResults.Read(b, "results.parquet")
	if err != nil || len(rows) != len(an.Rows) {
		t.Errorf("results.parquet: %d rows (%v), want %d", len(rows), err, len(an.Rows))
	}
	for _, name := range []string{"table2-tau.png", "fig6-convergence.png", "fig4-standalone.png", "search.png"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", name, err)
		}
	}
}

// TestConvEpochs checks which epochs the convergence table and plot show: the checkpoints of the
// one convergence supernet, or, in studies that trained a supernet per epoch count, those and the
// main supernets' epochs.
func TestConvEpochs(t *testing.T) {
	for _, tc := range []struct {
		schedule int
		want     []int
	}{{4, []int{2, 4}}, {0, []int{2, 3, 4}}} {
		an := &Analysis{Settings: Settings{Epochs: 3, ConvEpochs: "2 4", ConvSchedule: tc.schedule}}
		if got := an.convEpochs(); !slices.Equal(got, tc.want) {
			t.Errorf("conv_schedule %d: epochs %v, want %v", tc.schedule, got, tc.want)
		}
	}
}
