package stage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/rank"
	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Keys of the benchmark-mode artifacts (config ground_truth).
func correlationsKey(stage int) string { return fmt.Sprintf("stage-%d/correlations.parquet", stage) }
func opTruthKey(stage int) string      { return fmt.Sprintf("stage-%d/op-truth.parquet", stage) }

// groundTruth is the NB201 table of benchmark mode and the sha256 of its file, recorded in the
// provenance of what it judged.
type groundTruth struct {
	path   string
	sha256 string
	table  *nb201.Table
}

// readGroundTruth reads the NB201 table at path. Errors name the file.
func readGroundTruth(path string) (*groundTruth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config ground_truth: %w", err)
	}
	tab, err := nb201.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("config ground_truth %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	return &groundTruth{path: path, sha256: hex.EncodeToString(sum[:]), table: tab}, nil
}

// childAccuracies returns the table's accuracies of children on data set d; a child the table
// lacks is an error naming the file.
func (g *groundTruth) childAccuracies(sp space.Space, children []space.Child, d nb201.Dataset) ([]float64, error) {
	acc := make([]float64, len(children))
	for i, c := range children {
		e, ok := g.table.Lookup(c)
		if !ok {
			return nil, fmt.Errorf("ground truth %s has no row for child %s: is it a table of the NB201 space?", g.path, sp.Format(c))
		}
		acc[i] = e.Accuracy[datasetColumn(d)]
	}
	return acc, nil
}

func datasetColumn(d nb201.Dataset) int {
	for i, x := range nb201.Datasets {
		if x == d {
			return i
		}
	}
	panic("stage: unknown nb201 data set " + string(d))
}

// correlations returns Kendall's τ-b and Spearman's ρ between every metric of metrics (by name,
// one value per child) and each data set of the table, in the order of names and nb201.Datasets.
func (g *groundTruth) correlations(sp space.Space, children []space.Child, names []string, metrics map[string][]float64) ([]schema.Correlation, error) {
	var rows []schema.Correlation
	for _, d := range nb201.Datasets {
		truth, err := g.childAccuracies(sp, children, d)
		if err != nil {
			return nil, err
		}
		for _, m := range names {
			rows = append(rows, schema.Correlation{Metric: m, Dataset: string(d), Children: int64(len(children)),
				KendallTau: rank.KendallTau(metrics[m], truth), SpearmanRho: rank.Spearman(metrics[m], truth)})
		}
	}
	return rows, nil
}

// opTruths returns the ground truth of every op alive in before, the space a stage pruned, on each
// data set of the table: its ground-truth score, its rank among those ops, and whether after kept it.
func (g *groundTruth) opTruths(sp space.Space, before, after space.Shrunk) ([]schema.OpTruth, error) {
	var rows []schema.OpTruth
	for _, d := range nb201.Datasets {
		ops, err := g.table.OpScores(before, d)
		if err != nil {
			return nil, fmt.Errorf("ground truth %s: %w", g.path, err)
		}
		ranks := rankOps(ops)
		k, in := 0, 0
		for _, o := range ops {
			if after.Has(o.Point, o.Op) {
				k++
			}
		}
		for i, o := range ops {
			if after.Has(o.Point, o.Op) && ranks[i] <= k {
				in++
			}
		}
		for i, o := range ops {
			rows = append(rows, schema.OpTruth{Edge: int32(o.Point), Op: sp.Ops()[o.Op].Name, Dataset: string(d), Score: o.Score,
				Rank: int32(ranks[i]), Kept: after.Has(o.Point, o.Op), TopK: int32(k), KeptInTopK: int32(in)})
		}
	}
	return rows, nil
}

// rankOps returns each op's place in the ranking by score, 1 = best; ties keep the order of ops.
func rankOps(ops []score.OpScore) []int {
	idx := make([]int, len(ops))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ops[idx[a]].Score > ops[idx[b]].Score })
	r := make([]int, len(ops))
	for place, i := range idx {
		r[i] = place + 1
	}
	return r
}

// groundTruth reads the table of benchmark mode, or returns nil when the configuration sets none.
// The table's sha256 becomes part of the job's provenance, so a changed table redoes the work.
func (j *job) groundTruth(_ context.Context) (*groundTruth, error) {
	if j.cfg.GroundTruth == "" {
		return nil, nil
	}
	g, err := readGroundTruth(j.cfg.GroundTruth)
	if err != nil {
		return nil, err
	}
	j.flags["ground_truth_sha256"] = g.sha256
	return g, nil
}
