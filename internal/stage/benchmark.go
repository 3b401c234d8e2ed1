package stage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/rank"
	"github.com/abs-nas/abs/internal/abs/space"
)

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
func (g *groundTruth) childAccuracies(children []space.Child, d nb201.Dataset) ([]float64, error) {
	m := tableMetric{nb201.Oracle{Table: g.table, Dataset: d}, g.path}
	acc := make([]float64, len(children))
	for i, c := range children {
		var err error
		if acc[i], err = m.Child(c); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// correlations returns Kendall's τ-b and Spearman's ρ between every metric of metrics (by name,
// one value per child) and each data set of the table, in the order of names and nb201.Datasets.
func (g *groundTruth) correlations(children []space.Child, names []string, metrics map[string][]float64) ([]schema.Correlation, error) {
	var rows []schema.Correlation
	for _, d := range nb201.Datasets {
		truth, err := g.childAccuracies(children, d)
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
		scores := make([]float64, len(ops))
		kept := make([]bool, len(ops))
		k := 0
		for i, o := range ops {
			scores[i], kept[i] = o.Score, after.Has(o.Point, o.Op)
			if kept[i] {
				k++
			}
		}
		ranks := places(scores)
		in := 0
		for i := range ops {
			if kept[i] && int(ranks[i]) <= k {
				in++
			}
		}
		for i, o := range ops {
			rows = append(rows, schema.OpTruth{Edge: int32(o.Point), Op: sp.Ops()[o.Op].Name, Dataset: string(d), Score: o.Score,
				Rank: ranks[i], Kept: kept[i], TopK: int32(k), KeptInTopK: int32(in)})
		}
	}
	return rows, nil
}

// groundTruth reads the table of benchmark mode, or returns nil when the configuration sets none.
// The table's sha256 becomes part of the job's provenance, so a changed table redoes the work.
func (j *job) groundTruth() (*groundTruth, error) {
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
