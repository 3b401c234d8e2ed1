package stage

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/search"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/train"
	"github.com/abs-nas/abs/internal/step"
)

// Search is the search step: it searches the space left by shrinking stage -stage (the last one, which
// the pipeline passes out of its recursion; the step never guesses it from the store) for the child
// with the best fitness (config fitness: by default the validation accuracy under the last stage's
// supernet weights, with batch-norm statistics recomputed per child (Re-BN); or the accuracy in the
// ground_truth table), using the configured algorithm (exhaustive, random or regularized evolution)
// within search_budget evaluations. It writes every evaluated candidate and the Argo output
// parameter best (the winner's encoding).
func Search(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	stage := fs.Int("stage", -1, "the last shrinking stage (required): its pruned space is searched under its supernet")
	usage(fs, "search", "Searches the shrunk space for the best child by the configured fitness (supernet or ground truth).")
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	j, err := newJob(ctx, "search", c, fs, func(*job) error {
		// In a Check the stage is unknown: the pipeline passes it out of its recursion.
		return errors.Join(
			check(*stage >= 0 || checking(ctx), "-stage %d: want the last shrinking stage, 0 or more (required)", *stage))
	})
	if err != nil {
		return err
	}
	defer j.unlock()
	sp := j.sp
	last := *stage
	shrunk, err := j.readSpace(ctx, sp, last+1)
	if err != nil {
		return err
	}
	fitness, err := j.fitness(ctx, last, c.Seed)
	if err != nil {
		return err
	}
	if j.upToDate(ctx, candidatesKey) {
		rows, _, err := schema.Candidates.Get(ctx, j.st, candidatesKey)
		if err != nil {
			return err
		}
		best, err := bestOf(sp, rows)
		if err != nil {
			return fmt.Errorf("%s: %w", j.st.URL(candidatesKey), err)
		}
		return c.WriteOutput("best", best)
	}
	metric, err := fitness()
	if err != nil {
		return err
	}
	budget := j.cfg.SearchBudget
	algo := j.cfg.Search
	prog := step.NewProgress("search", budget)
	cfg := search.Config{Algorithm: algo, MaxEvals: budget, Seed: derive(c.Seed, "search", 0),
		Population: min(20, budget), SampleSize: min(5, budget), Cycles: budget,
		Progress: func(n, _ int) { prog.Add(1) }}
	j.log.Info("searching", "algorithm", algo, "fitness", metric.Name(), "space_size", sp.Size(shrunk).String(), "budget", budget, "after_stage", last)
	start := time.Now()
	res, err := search.Run(ctx, sp, shrunk, metric, cfg)
	if err != nil {
		return fmt.Errorf("search the space of stage %d: %w", last, err)
	}
	prog.Done()
	flops := j.flops()
	rows := make([]schema.Candidate, len(res.Candidates))
	for i, cand := range res.Candidates {
		rows[i] = schema.Candidate{Round: int32(cand.Iteration), ID: int64(i), Ops: opNames(sp, cand.Child), FLOPs: flops(cand.Child), Fitness: cand.Value}
	}
	best := res.BestCandidate()
	j.log.Info("best child", "arch", best.Text, "fitness", metric.Name(), "value", best.Value, "evaluated", len(rows), "seconds", time.Since(start).Seconds())
	obj, err := schema.Candidates.Put(ctx, j.st, candidatesKey, j.meta(), rows)
	if err != nil {
		return err
	}
	if err := j.record(ctx, obj); err != nil {
		return err
	}
	return c.WriteOutput("best", best.Text)
}

// bestOf returns the encoding of the fittest candidate (the first on ties).
func bestOf(sp space.Space, rows []schema.Candidate) (string, error) {
	best := -1
	for i, r := range rows {
		if best < 0 || r.Fitness > rows[best].Fitness {
			best = i
		}
	}
	if best < 0 {
		return "", fmt.Errorf("no candidates")
	}
	c, err := childOf(sp, rows[best].Ops)
	if err != nil {
		return "", fmt.Errorf("candidate %d: %w", rows[best].ID, err)
	}
	return sp.Format(c), nil
}

// loadNet returns a network of the run's shape holding a checkpoint's weights and BN statistics.
func (j *job) loadNet(d *splits, ck param.Set) (*train.Trainer, error) {
	spec, err := j.net(d.train)
	if err != nil {
		return nil, err
	}
	t, err := train.Resume(train.Checkpoint{Weights: ck}, spec, d.train, nil, j.options(1, 0))
	if err != nil {
		return nil, fmt.Errorf("load supernet: %w", err)
	}
	return t, nil
}

// Retrain is the retrain step: it trains the architecture -arch from scratch (stand-alone, no
// weight sharing) for retrain_epochs epochs and writes its weights and per-epoch metrics with the
// final validation and test accuracy. It writes the Argo output parameter test-accuracy.
func Retrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retrain", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	arch := fs.String("arch", "", "architecture to train, in the space's encoding (NB201: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)")
	usage(fs, "retrain", "Trains one architecture from scratch and measures its test accuracy.")
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	var child space.Child
	j, err := newJob(ctx, "retrain", c, fs, func(j *job) error {
		if *arch == "" && checking(ctx) {
			return nil // the architecture is the search's output
		}
		var err error
		if child, err = j.sp.Parse(*arch); err != nil {
			err = fmt.Errorf("-arch: %w", err)
		}
		return err
	})
	if err != nil {
		return err
	}
	defer j.unlock()
	if j.upToDate(ctx, retrainWeightsKey, retrainMetricsKey) {
		rows, _, err := schema.Metrics.Get(ctx, j.st, retrainMetricsKey)
		if err != nil || len(rows) == 0 || rows[len(rows)-1].TestAcc == nil {
			return fmt.Errorf("read %s: %v", retrainMetricsKey, err)
		}
		return c.WriteOutput("test-accuracy", strconv.FormatFloat(*rows[len(rows)-1].TestAcc, 'f', 2, 64))
	}
	d, err := j.cfg.loadData(c.Seed, true)
	if err != nil {
		return err
	}
	seed := derive(c.Seed, "retrain", 0)
	perEpoch := j.cfg.steps(1, d.train.N)
	total := j.cfg.RetrainEpochs * perEpoch
	j.log.Info("retraining", "arch", *arch, "epochs", j.cfg.RetrainEpochs, "steps", total, "images", d.train.N)
	start := time.Now()
	spec, err := j.net(d.train)
	if err != nil {
		return err
	}
	res, err := train.Standalone(ctx, spec, child, d.train, d.test, j.options(total, seed))
	if err != nil {
		return fmt.Errorf("retrain %s: %w", *arch, err)
	}
	valid, err := train.Accuracy(ctx, res.Trainer.Net, child, d.valid, j.cfg.Batch, res.Trainer.Net.RunningStats())
	if err != nil {
		return fmt.Errorf("validate %s: %w", *arch, err)
	}
	rows := make([]schema.Epoch, j.cfg.RetrainEpochs)
	for e := range rows {
		rows[e] = schema.Epoch{Epoch: int32(e), Steps: int64((e + 1) * perEpoch), LR: lrAt(res.Trainer.Opts, (e+1)*perEpoch),
			TrainLoss: mean(res.Losses[e*perEpoch : (e+1)*perEpoch])}
	}
	va, te := 100*valid, 100*res.TestAccuracy
	secs := time.Since(start).Seconds()
	last := &rows[len(rows)-1]
	last.ValidAcc, last.TestAcc = &va, &te
	j.log.Info("retrained", "arch", *arch, "valid_acc", va, "test_acc", te, "seconds", secs)
	meta := j.meta()
	wObj, err := schema.Weights.Put(ctx, j.st, retrainWeightsKey, meta, schema.WeightsOf(res.Weights))
	if err != nil {
		return err
	}
	mObj, err := schema.Metrics.Put(ctx, j.st, retrainMetricsKey, meta, rows)
	if err != nil {
		return err
	}
	if err := j.record(ctx, wObj, mObj); err != nil {
		return err
	}
	return c.WriteOutput("test-accuracy", strconv.FormatFloat(te, 'f', 2, 64))
}
