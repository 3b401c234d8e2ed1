package stage

import (
	"context"
	"fmt"

	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/train"
)

// fitness is the search's objective (config fitness) and what it is made of:
//
//   - supernet: a child's validation accuracy in percent with the weights of the last stage's
//     supernet and BN statistics recomputed over rebn_batches training batches (Re-BN).
//   - ground-truth: the child's test accuracy in percent in the ground_truth table on
//     ground_truth_dataset (nb201.Oracle); no supernet is read or trained.
type fitness struct {
	weights param.Set    // supernet
	gt      *groundTruth // ground-truth
}

// input reads what the objective is made of: the table, or the supernet of stage.
func (f *fitness) input(stage int) input {
	return func(ctx context.Context, j *job) error {
		if j.cfg.Fitness == FitnessGroundTruth {
			return groundTruthInput(&f.gt)(ctx, j)
		}
		return weightsInput(supernetKey(stage), fmt.Sprintf("supernet of stage %d", stage), &f.weights)(ctx, j)
	}
}

// metric builds the objective; for the supernet it loads the data set.
func (f *fitness) metric(ctx context.Context, j *job) (score.Metric, error) {
	if f.gt != nil {
		return tableMetric{nb201.Oracle{Table: f.gt.table, Dataset: j.cfg.GroundTruthDataset}, f.gt.path}, nil
	}
	seed := j.common.Seed
	d, err := j.cfg.loadData(seed, false)
	if err != nil {
		return nil, err
	}
	net, err := j.loadNet(d, f.weights)
	if err != nil {
		return nil, err
	}
	return score.Accuracy{Label: "accuracy-rebn", Of: func(ch space.Child) (float64, error) {
		accs, err := train.Evaluate(ctx, net.Net, [][]int{ch}, d.train, d.valid, train.EvalOptions{Batch: j.cfg.Batch, ReBN: j.cfg.ReBN, Seed: seed, Workers: 1})
		if err != nil {
			return 0, err
		}
		return 100 * accs[0], nil
	}}, nil
}

// tableMetric is the oracle of a table read from a file; its errors name the file.
type tableMetric struct {
	nb201.Oracle
	path string
}

func (m tableMetric) Child(c space.Child) (float64, error) {
	v, err := m.Oracle.Child(c)
	if err != nil {
		return 0, fmt.Errorf("ground truth %s: %w", m.path, err)
	}
	return v, nil
}
