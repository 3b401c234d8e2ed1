package stage

import (
	"context"
	"fmt"

	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/train"
)

// fitness reads the inputs of the search's objective (config fitness) and returns a function that
// builds it. Reading comes first so that the job's provenance (the supernet checkpoint, or the
// table's sha256) is complete when the step checks whether its outputs are up to date; building,
// which loads the data set for the supernet, is only done when they are not.
//
//   - supernet: a child's validation accuracy in percent with the weights of stage's supernet and
//     BN statistics recomputed over rebn_batches training batches (Re-BN).
//   - ground-truth: the child's test accuracy in percent in the ground_truth table on
//     ground_truth_dataset (nb201.Oracle); no supernet is read or trained.
func (j *job) fitness(ctx context.Context, stage int, seed uint64) (func() (score.Metric, error), error) {
	if j.cfg.Fitness == FitnessGroundTruth {
		g, err := j.groundTruth()
		if err != nil {
			return nil, err
		}
		d := j.cfg.GroundTruthDataset
		return func() (score.Metric, error) {
			return tableMetric{nb201.Oracle{Table: g.table, Dataset: d}, g.path}, nil
		}, nil
	}
	weights, err := j.readWeights(ctx, supernetKey(stage))
	if err != nil {
		return nil, err
	}
	return func() (score.Metric, error) {
		d, err := j.cfg.loadData(seed, false)
		if err != nil {
			return nil, err
		}
		net, err := j.loadNet(d, weights)
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
	}, nil
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
