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
	fs := flag.NewFlagSet("train-supernet", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	stage := fs.Int("stage", 0, "shrinking stage `N` (0 = the first, on the whole space)")
	epochs := fs.Int("epochs", 2, "training epochs of this stage (at stage 0 more than config base_epoch)")
	usage(fs, "train-supernet", "Trains the supernet of one shrinking stage with single-path sampling.")
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	j, err := newJob(ctx, "train-supernet", c, fs, func(j *job) error {
		return errors.Join(checkStage(*stage),
			check(*epochs >= 1, "-epochs %d: want at least 1", *epochs),
			// The base must differ from the trained weights, or every angle is 0.
			check(*stage > 0 || j.cfg.BaseEpoch < *epochs, "config base_epoch = %d with -epochs %d at stage 0: want base_epoch < epochs (the base weights must be older than the trained ones)", j.cfg.BaseEpoch, *epochs))
	})
	if err != nil {
		return err
	}
	defer j.unlock()
	sp := j.sp
	shrunk, err := j.readSpace(ctx, sp, *stage)
	if err != nil {
		return err
	}
	var prev, base param.Set
	if *stage > 0 {
		if prev, base, err = j.previousWeights(ctx, sp, *stage); err != nil {
			return err
		}
	}
	out := []string{baseKey(*stage), supernetKey(*stage), metricsKey(*stage)}
	if j.upToDate(ctx, out...) {
		return nil
	}

	d, err := j.cfg.loadData(c.Seed, false)
	if err != nil {
		return err
	}
	seed := derive(c.Seed, "train-supernet", *stage)
	sampler, err := j.sampler(shrunk, seed)
	if err != nil {
		return err
	}
	total := j.cfg.steps(*epochs, d.train.N)
	opts := j.options(total, seed)
	net, err := j.net(d.train)
	if err != nil {
		return err
	}
	var t *train.Trainer
	if prev == nil {
		if t, err = train.NewTrainer(net, d.train, sampler, opts); err == nil && j.cfg.BaseEpoch == 0 {
			base = t.Net.Set()
		}
	} else {
		t, err = train.Resume(train.Checkpoint{Weights: prev}, net, d.train, sampler, opts)
	}
	if err != nil {
		return fmt.Errorf("stage %d: %w", *stage, err)
	}
	j.log.Info("training supernet", "stage", *stage, "space_size", sp.Size(shrunk).String(),
		"images", d.train.N, "epochs", *epochs, "steps", total, "width", j.cfg.Width, "cells", j.cfg.Cells)

	perEpoch := total / *epochs
	probe := probeChildren(sp, shrunk, derive(c.Seed, "probe", *stage), 3)
	prog := step.NewProgress(fmt.Sprintf("stage %d supernet", *stage), total)
	var epochsRows []schema.Epoch
	for e := 0; e < *epochs; e++ {
		start := time.Now()
		var losses []float64
		for t.State.Step < (e+1)*perEpoch {
			n := min(t.State.Step+10, (e+1)*perEpoch)
			ls, err := t.Run(ctx, n)
			if err != nil {
				return fmt.Errorf("stage %d epoch %d: %w", *stage, e, err)
			}
			if err := finiteLosses(ls); err != nil {
				return fmt.Errorf("train-supernet: stage %d epoch %d: %w (training diverged: lower lr); nothing written", *stage, e, err)
			}
			losses = append(losses, ls...)
			prog.Add(len(ls))
		}
		accs, err := train.Evaluate(ctx, t.Net, probe, d.train, d.valid, train.EvalOptions{Batch: j.cfg.Batch, ReBN: j.cfg.ReBN, Seed: seed, Workers: 1})
		if err != nil {
			return fmt.Errorf("stage %d epoch %d: validate: %w", *stage, e, err)
		}
		va := 100 * mean(accs)
		row := schema.Epoch{Epoch: int32(e), Steps: int64(t.State.Step), LR: lrAt(opts, t.State.Step),
			TrainLoss: mean(losses), ValidAcc: &va}
		epochsRows = append(epochsRows, row)
		if prev == nil && e+1 == j.cfg.BaseEpoch {
			base = t.Net.Set()
			j.log.Info("base weights taken", "after_epoch", e+1)
		}
		j.log.Info("epoch", "stage", *stage, "epoch", e, "train_loss", row.TrainLoss, "valid_acc_probe_children", va, "seconds", time.Since(start).Seconds())
	}
	prog.Done()

	meta := j.meta()
	ck := t.Checkpoint()
	if err := finiteSet(ck.Weights); err != nil {
		return fmt.Errorf("train-supernet: stage %d epoch %d: %w; nothing written", *stage, *epochs-1, err)
	}
	baseObj, err := schema.Weights.Put(ctx, j.st, baseKey(*stage), meta, schema.WeightsOf(base))
	if err != nil {
		return err
	}
	superObj, err := schema.Weights.Put(ctx, j.st, supernetKey(*stage), meta, schema.WeightsOf(ck.Weights))
	if err != nil {
		return err
	}
	metricsObj, err := schema.Metrics.Put(ctx, j.st, metricsKey(*stage), meta, epochsRows)
	if err != nil {
		return err
	}
	return j.record(ctx, baseObj, superObj, metricsObj)
}

// previousWeights reads stage-1's supernet (to continue from) and the base weights stage uses.
func (j *job) previousWeights(ctx context.Context, sp space.Space, stage int) (prev, base param.Set, err error) {
	rows, obj, err := schema.Weights.Get(ctx, j.st, supernetKey(stage-1))
	if err != nil {
		return nil, nil, fmt.Errorf("read supernet of stage %d: %w", stage-1, err)
	}
	j.input(obj)
	if prev, err = schema.SetOf(rows); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", obj.URL, err)
	}
	reset, err := j.resetAfter(ctx, stage-1)
	if err != nil {
		return nil, nil, err
	}
	if reset {
		j.log.Info("resetting the base weights to the current weights", "after_stage", stage-1, "rule", fmt.Sprintf("more than %d ops removed", shrink.DefaultResetAfter))
		return prev, params(prev), nil
	}
	rows, obj, err = schema.Weights.Get(ctx, j.st, baseKey(stage-1))
	if err != nil {
		return nil, nil, fmt.Errorf("read base weights of stage %d: %w", stage-1, err)
	}
	j.input(obj)
	if base, err = schema.SetOf(rows); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", obj.URL, err)
	}
	return prev, base, nil
}

// resetAfter reports whether the base weights are reset after stage (Algorithm 2's one-time
// reset), as prune decided and recorded in the stage's shrink record.
func (j *job) resetAfter(ctx context.Context, stage int) (bool, error) {
	rows, obj, err := schema.Shrink.Get(ctx, j.st, shrinkKey(stage))
	if err != nil {
		return false, fmt.Errorf("read shrink record of stage %d: %w", stage, err)
	}
	j.input(obj)
	if len(rows) != 1 {
		return false, fmt.Errorf("%s: %d rows, want 1", obj.URL, len(rows))
	}
	return rows[0].ResetBase, nil
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
