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
// parameter best (the stored winner's encoding).
func Search(ctx context.Context, args []string) error {
	return runStep(ctx, args, "search", "Searches the shrunk space for the best child by the configured fitness (supernet or ground truth).", &searchStep{})
}

type searchStep struct {
	stage int

	shrunk space.Shrunk
	fit    fitness

	rows []schema.Candidate
}

func (s *searchStep) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.stage, "stage", -1, "the last shrinking stage (required): its pruned space is searched under its supernet")
}

func (s *searchStep) check(j *job) error {
	// In a Check the stage is unknown: the pipeline passes it out of its recursion.
	return errors.Join(
		check(s.stage >= 0 || j.checkOnly, "-stage %d: want the last shrinking stage, 0 or more (required)", s.stage))
}

func (s *searchStep) inputs(*job) []input {
	return []input{spaceInput(s.stage+1, &s.shrunk), s.fit.input(s.stage)}
}

func (s *searchStep) outputs(*job) []output {
	return []output{out(schema.Candidates, candidatesKey, &s.rows)}
}

func (s *searchStep) compute(ctx context.Context, j *job) error {
	sp := j.sp
	metric, err := s.fit.metric(ctx, j)
	if err != nil {
		return err
	}
	budget := j.cfg.SearchBudget
	algo := j.cfg.Search
	prog := step.NewProgress("search", budget)
	cfg := search.Config{Algorithm: algo, MaxEvals: budget, Seed: derive(j.common.Seed, "search", 0),
		Population: min(20, budget), SampleSize: min(5, budget), Cycles: budget,
		Progress: func(n, _ int) { prog.Add(1) }}
	j.log.Info("searching", "algorithm", algo, "fitness", metric.Name(), "space_size", sp.Size(s.shrunk).String(), "budget", budget, "after_stage", s.stage)
	start := time.Now()
	res, err := search.Run(ctx, sp, s.shrunk, metric, cfg)
	if err != nil {
		return fmt.Errorf("search the space of stage %d: %w", s.stage, err)
	}
	prog.Done()
	flops := j.flops()
	s.rows = make([]schema.Candidate, len(res.Candidates))
	for i, cand := range res.Candidates {
		s.rows[i] = schema.Candidate{Round: int32(cand.Iteration), ID: int64(i), Ops: opNames(sp, cand.Child), FLOPs: flops(cand.Child), Fitness: cand.Value}
	}
	best := res.BestCandidate()
	j.log.Info("best child", "arch", best.Text, "fitness", metric.Name(), "value", best.Value, "evaluated", len(s.rows), "seconds", time.Since(start).Seconds())
	return nil
}

// report reads the best of the stored candidates.
func (s *searchStep) report(ctx context.Context, j *job) (map[string]string, error) {
	rows, err := stored(ctx, j, schema.Candidates, candidatesKey)
	if err != nil {
		return nil, err
	}
	best, err := bestOf(j.sp, rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.st.URL(candidatesKey), err)
	}
	return map[string]string{"best": best}, nil
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
// final validation and test accuracy. It writes the Argo output parameter test-accuracy, from the
// stored metrics.
func Retrain(ctx context.Context, args []string) error {
	return runStep(ctx, args, "retrain", "Trains one architecture from scratch and measures its test accuracy.", &retrain{})
}

type retrain struct {
	arch  string
	child space.Child // of arch, once checked

	weights []schema.Weight
	epochs  []schema.Epoch
}

func (r *retrain) flags(fs *flag.FlagSet) {
	fs.StringVar(&r.arch, "arch", "", "architecture to train, in the space's encoding (NB201: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)")
}

func (r *retrain) check(j *job) error {
	if r.arch == "" && j.checkOnly {
		return nil // the architecture is the search's output
	}
	var err error
	if r.child, err = j.sp.Parse(r.arch); err != nil {
		err = fmt.Errorf("-arch: %w", err)
	}
	return err
}

// inputs is none: the architecture is a flag, and the data set is read from its folder.
func (r *retrain) inputs(*job) []input { return nil }

func (r *retrain) outputs(*job) []output {
	return []output{out(schema.Weights, retrainWeightsKey, &r.weights), out(schema.Metrics, retrainMetricsKey, &r.epochs)}
}

func (r *retrain) compute(ctx context.Context, j *job) error {
	d, err := j.cfg.loadData(j.common.Seed, true)
	if err != nil {
		return err
	}
	seed := derive(j.common.Seed, "retrain", 0)
	perEpoch := j.cfg.steps(1, d.train.N)
	total := j.cfg.RetrainEpochs * perEpoch
	j.log.Info("retraining", "arch", r.arch, "epochs", j.cfg.RetrainEpochs, "steps", total, "images", d.train.N)
	start := time.Now()
	spec, err := j.net(d.train)
	if err != nil {
		return err
	}
	res, err := train.Standalone(ctx, spec, r.child, d.train, d.test, j.options(total, seed))
	if err != nil {
		return fmt.Errorf("retrain %s: %w", r.arch, err)
	}
	valid, err := train.Accuracy(ctx, res.Trainer.Net, r.child, d.valid, j.cfg.Batch, res.Trainer.Net.RunningStats())
	if err != nil {
		return fmt.Errorf("validate %s: %w", r.arch, err)
	}
	rows := make([]schema.Epoch, j.cfg.RetrainEpochs)
	for e := range rows {
		rows[e] = schema.Epoch{Epoch: int32(e), Steps: int64((e + 1) * perEpoch), LR: lrAt(res.Trainer.Opts, (e+1)*perEpoch),
			TrainLoss: mean(res.Losses[e*perEpoch : (e+1)*perEpoch])}
	}
	va, te := 100*valid, 100*res.TestAccuracy
	last := &rows[len(rows)-1]
	last.ValidAcc, last.TestAcc = &va, &te
	j.log.Info("retrained", "arch", r.arch, "valid_acc", va, "test_acc", te, "seconds", time.Since(start).Seconds())
	r.weights, r.epochs = schema.WeightsOf(res.Weights), rows
	return nil
}

// report reads the test accuracy of the stored metrics' last epoch.
func (r *retrain) report(ctx context.Context, j *job) (map[string]string, error) {
	rows, err := stored(ctx, j, schema.Metrics, retrainMetricsKey)
	if err != nil {
		return nil, err
	}
	te := rows[len(rows)-1].TestAcc
	if te == nil {
		return nil, fmt.Errorf("%s: epoch %d has no test_acc, want the retrained model's test accuracy", j.st.URL(retrainMetricsKey), rows[len(rows)-1].Epoch)
	}
	return map[string]string{"test-accuracy": strconv.FormatFloat(*te, 'f', 2, 64)}, nil
}
