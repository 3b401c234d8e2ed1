package stage

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/shrink"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/train"
	"github.com/abs-nas/abs/internal/step"
)

// TrainSupernet is the train-supernet step: it trains the supernet of stage -stage on the space the
// previous stage left, with single-path sampling, and writes the stage's base weights, the trained
// supernet (a checkpoint) and the training metrics. Stage 0 starts from freshly initialised
// weights, which are also its base weights; stage N continues from stage N-1's supernet with a new
// cosine schedule, and keeps stage N-1's base weights unless that stage crossed the reset limit of
// Algorithm 2 (more than 50 ops removed), in which case the base is reset to the current weights.
func TrainSupernet(ctx context.Context, args []string) error {
	return runStep(ctx, args, "train-supernet", "Trains the supernet of one shrinking stage with single-path sampling.", &trainSupernet{})
}

type trainSupernet struct {
	stage, epochs int
	stopAfter     int // 0: every epoch of the schedule

	shrunk     space.Shrunk
	prev, base param.Set // stage > 0: the supernet to continue from, and the base weights kept
	reset      bool      // stage > 0: prune reset the base weights after the previous stage

	baseRows, superRows []schema.Weight
	epochRows           []schema.Epoch
}

func (t *trainSupernet) flags(fs *flag.FlagSet) {
	fs.IntVar(&t.stage, "stage", 0, "shrinking stage `N` (0 = the first, on the whole space)")
	fs.IntVar(&t.epochs, "epochs", 2, "training epochs of this stage (at stage 0 more than config base_epoch)")
	fs.IntVar(&t.stopAfter, "stop-after", 0, "stop after `N` epochs of the -epochs schedule and write that state: the checkpoint after epoch N of the -epochs run, bit for bit (0: train all -epochs)")
}

func (t *trainSupernet) check(j *job) error {
	return errors.Join(checkStage(t.stage),
		check(t.epochs >= 1, "-epochs %d: want at least 1", t.epochs),
		check(t.stopAfter >= 0 && t.stopAfter <= t.epochs, "-stop-after %d: want 0 (all epochs) up to -epochs %d", t.stopAfter, t.epochs),
		// The base must differ from the trained weights, or every angle is 0.
		check(t.stage > 0 || j.cfg.BaseEpoch < t.trained(), "config base_epoch = %d with %d epochs trained at stage 0 (-epochs, -stop-after): want base_epoch < epochs (the base weights must be older than the trained ones)", j.cfg.BaseEpoch, t.trained()))
}

// trained returns the number of epochs the step trains: -stop-after, or all of -epochs.
func (t *trainSupernet) trained() int {
	if t.stopAfter > 0 {
		return t.stopAfter
	}
	return t.epochs
}

func (t *trainSupernet) inputs(j *job) []input {
	ins := []input{spaceInput(t.stage, &t.shrunk)}
	if t.stage == 0 {
		return ins
	}
	prev := t.stage - 1
	return append(ins,
		weightsInput(supernetKey(prev), fmt.Sprintf("supernet of stage %d", prev), &t.prev),
		artifact(schema.Shrink, shrinkKey(prev), fmt.Sprintf("shrink record of stage %d", prev), func(rows []schema.Stage) error {
			if len(rows) != 1 {
				return fmt.Errorf("%d rows, want 1", len(rows))
			}
			t.reset = rows[0].ResetBase // prune decided it (Algorithm 2's one-time reset)
			return nil
		}),
		when(func() bool { return !t.reset }, weightsInput(baseKey(prev), fmt.Sprintf("base weights of stage %d", prev), &t.base)))
}

func (t *trainSupernet) outputs(*job) []output {
	return []output{out(schema.Weights, baseKey(t.stage), &t.baseRows), out(schema.Weights, supernetKey(t.stage), &t.superRows), out(schema.Metrics, metricsKey(t.stage), &t.epochRows)}
}

func (t *trainSupernet) compute(ctx context.Context, j *job) error {
	sp, stage, base := j.sp, t.stage, t.base
	if t.reset {
		j.log.Info("resetting the base weights to the current weights", "after_stage", stage-1, "rule", fmt.Sprintf("more than %d ops removed", shrink.DefaultResetAfter))
		base = params(t.prev)
	}
	d, err := j.cfg.loadData(j.common.Seed, false)
	if err != nil {
		return err
	}
	seed := derive(j.common.Seed, "train-supernet", stage)
	sampler, err := j.sampler(t.shrunk, seed)
	if err != nil {
		return err
	}
	total := j.cfg.steps(t.epochs, d.train.N)
	opts := j.options(total, seed)
	net, err := j.net(d.train)
	if err != nil {
		return err
	}
	var tr *train.Trainer
	if t.prev == nil {
		if tr, err = train.NewTrainer(net, d.train, sampler, opts); err == nil && j.cfg.BaseEpoch == 0 {
			base = tr.Net.Set()
		}
	} else {
		tr, err = train.Resume(train.Checkpoint{Weights: t.prev}, net, d.train, sampler, opts)
	}
	if err != nil {
		return fmt.Errorf("stage %d: %w", stage, err)
	}
	j.log.Info("training supernet", "stage", stage, "space_size", sp.Size(t.shrunk).String(),
		"images", d.train.N, "epochs", t.epochs, "stop_after", t.trained(), "steps", total, "width", j.cfg.Width, "cells", j.cfg.Cells)

	perEpoch := total / t.epochs
	probe := probeChildren(sp, t.shrunk, derive(j.common.Seed, "probe", stage), 3)
	prog := step.NewProgress(fmt.Sprintf("stage %d supernet", stage), perEpoch*t.trained())
	for e := 0; e < t.trained(); e++ {
		start := time.Now()
		var losses []float64
		for tr.State.Step < (e+1)*perEpoch {
			n := min(tr.State.Step+10, (e+1)*perEpoch)
			ls, err := tr.Run(ctx, n)
			if err != nil {
				return fmt.Errorf("stage %d epoch %d: %w", stage, e, err)
			}
			if err := finiteLosses(ls); err != nil {
				return fmt.Errorf("train-supernet: stage %d epoch %d: %w (training diverged: lower lr); nothing written", stage, e, err)
			}
			losses = append(losses, ls...)
			prog.Add(len(ls))
		}
		accs, err := train.Evaluate(ctx, tr.Net, probe, d.train, d.valid, train.EvalOptions{Batch: j.cfg.Batch, ReBN: j.cfg.ReBN, Seed: seed, Workers: 1})
		if err != nil {
			return fmt.Errorf("stage %d epoch %d: validate: %w", stage, e, err)
		}
		va := 100 * mean(accs)
		row := schema.Epoch{Epoch: int32(e), Steps: int64(tr.State.Step), LR: lrAt(opts, tr.State.Step),
			TrainLoss: mean(losses), ValidAcc: &va}
		t.epochRows = append(t.epochRows, row)
		if t.prev == nil && e+1 == j.cfg.BaseEpoch {
			base = tr.Net.Set()
			j.log.Info("base weights taken", "after_epoch", e+1)
		}
		j.log.Info("epoch", "stage", stage, "epoch", e, "train_loss", row.TrainLoss, "valid_acc_probe_children", va, "seconds", time.Since(start).Seconds())
	}
	prog.Done()

	ck := tr.Checkpoint()
	if err := finiteSet(ck.Weights); err != nil {
		return fmt.Errorf("train-supernet: stage %d epoch %d: %w; nothing written", stage, t.trained()-1, err)
	}
	t.baseRows, t.superRows = schema.WeightsOf(base), schema.WeightsOf(ck.Weights)
	return nil
}

// params returns the trainable parameters of a checkpoint (without momentum and BN statistics).
func params(ck param.Set) param.Set {
	p := param.Set{}
	for name, t := range ck {
		if !strings.HasPrefix(name, "momentum.") && !strings.HasPrefix(name, "buffer.") {
			p[name] = t
		}
	}
	return p
}

// sampler returns the single-path sampler the configuration names.
func (j *job) sampler(s space.Shrunk, seed uint64) (train.Sampler, error) {
	smp, err := j.fam.Sampler(j.cfg.Sampling, j.cfg.netSize(), s, seed)
	if err != nil {
		return nil, err
	}
	return func() []int { return smp.Next() }, nil
}

// probeChildren draws n connected children of s whose mean validation accuracy (with Re-BN) is
// reported per epoch as a sign of the supernet's progress.
func probeChildren(sp space.Space, s space.Shrunk, seed uint64, n int) [][]int {
	u, err := space.NewUniform(sp, s, seed)
	if err != nil {
		return nil
	}
	out := make([][]int, n)
	for i := range out {
		out[i] = u.Next()
	}
	return out
}

// derive returns a seed for one purpose and stage of a run, so that stages and steps draw
// independent random streams from the run's one -seed.
func derive(seed uint64, purpose string, stage int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", seed, purpose, stage)
	return h.Sum64()
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// lrAt is the learning rate of the cosine schedule after step steps.
func lrAt(o train.Options, step int) float64 { return nn.Cosine(o.LR, o.LRMin, step, o.Steps) }

// usage sets a step's -h text.
func usage(fs *flag.FlagSet, name, what string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s -run URL [flags]\n\n%s\n\nFlags:\n", name, what)
		fs.PrintDefaults()
	}
}

// finiteLosses reports the first loss that is NaN or ±Inf.
func finiteLosses(ls []float64) error {
	for i, l := range ls {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("training loss %v at step %d of the chunk", l, i)
		}
	}
	return nil
}

// finiteSet reports the first tensor of s holding a NaN or ±Inf.
func finiteSet(s param.Set) error {
	for _, name := range s.Names() {
		for _, x := range s[name].Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("weight %s holds %v", name, x)
			}
		}
	}
	return nil
}
