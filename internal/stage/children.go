package stage

import (
	"context"
	"flag"
	"fmt"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/train"
	"github.com/abs-nas/abs/internal/step"
)

// SampleChildren is the sample-children step: it draws the children that score the operators of
// stage -stage — every child of the space when it has at most exact_limit of them, else
// children_per_op children per operator, each used once (Eq. 3) — and measures each one's angle
// between the stage's base and trained weights (Algorithm 1, Eq. 2). With metric "accuracy" it also
// measures each child's validation accuracy with the supernet's weights, with and without Re-BN.
func SampleChildren(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sample-children", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	stage := fs.Int("stage", 0, "shrinking stage `N`")
	usage(fs, "sample-children", "Draws the children that score the operators of one stage and measures their angle.")
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	j, err := newJob(ctx, "sample-children", c, fs, func(*job) error {
		return checkStage(*stage)
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
	base, err := j.readWeights(ctx, baseKey(*stage))
	if err != nil {
		return err
	}
	cur, err := j.readWeights(ctx, supernetKey(*stage))
	if err != nil {
		return err
	}
	if j.upToDate(ctx, childrenKey(*stage)) {
		return nil
	}
	flops := j.flops()
	bound := score.Bound{}
	if j.cfg.MaxFLOPs > 0 {
		bound = score.Bound{FLOPs: flops, Max: j.cfg.MaxFLOPs}
	}
	var draws []score.Draw
	size := sp.Size(shrunk)
	if size.IsInt64() && size.Int64() <= j.cfg.ExactLimit {
		draws, err = score.DrawExact(sp, shrunk, j.cfg.ExactLimit, bound)
	} else {
		draws, err = score.DrawSampled(sp, shrunk, score.Sampled{PerOp: j.cfg.PerOp, Bound: bound, Seed: derive(c.Seed, "sample-children", *stage)})
	}
	if err != nil {
		return fmt.Errorf("stage %d: draw children: %w", *stage, err)
	}
	j.log.Info("drew children", "stage", *stage, "space_size", size.String(), "children", len(draws), "exact", len(draws) > 0 && draws[0].Point < 0)

	stats, err := angle.Compute(j.angleNet(), base, params(cur))
	if err != nil {
		return fmt.Errorf("stage %d: angle: %w", *stage, err)
	}
	rows := make([]schema.Child, len(draws))
	prog := step.NewProgress(fmt.Sprintf("stage %d children", *stage), len(draws))
	for i, d := range draws {
		a, err := stats.Angle(d.Child)
		if err != nil {
			return fmt.Errorf("stage %d: angle of %s: %w", *stage, sp.Format(d.Child), err)
		}
		rows[i] = schema.Child{ID: int64(i), Ops: opNames(sp, d.Child), FLOPs: flops(d.Child), ForEdge: int32(d.Point), Angle: &a}
		if d.Point >= 0 {
			rows[i].ForOp = sp.Ops()[d.Op].Name
		}
	}
	if j.cfg.Metric == MetricAccuracy {
		if err := j.childAccuracies(ctx, cur, draws, rows, prog); err != nil {
			return err
		}
	}
	prog.Done()
	obj, err := schema.Children.Put(ctx, j.st, childrenKey(*stage), j.meta(), rows)
	if err != nil {
		return err
	}
	return j.record(ctx, obj)
}

// childAccuracies fills in the validation accuracy of every child with the supernet's weights, with
// the running BN statistics of training and with Re-BN.
func (j *job) childAccuracies(ctx context.Context, cur param.Set, draws []score.Draw, rows []schema.Child, prog *step.Progress) error {
	d, err := j.cfg.loadData(j.common.Seed, false)
	if err != nil {
		return err
	}
	t, err := j.loadNet(d, cur)
	if err != nil {
		return err
	}
	archs := make([][]int, len(draws))
	for i, dr := range draws {
		archs[i] = dr.Child
	}
	for _, rebn := range []int{0, j.cfg.ReBN} {
		accs, err := train.Evaluate(ctx, t.Net, archs, d.train, d.valid, train.EvalOptions{Batch: j.cfg.Batch, ReBN: rebn, Seed: j.common.Seed, Workers: 1})
		if err != nil {
			return fmt.Errorf("evaluate children: %w", err)
		}
		for i, a := range accs {
			v := 100 * a
			if rebn == 0 {
				rows[i].ValidAcc = &v
			} else {
				rows[i].ReBNAcc = &v
			}
		}
	}
	return nil
}

// readWeights reads a weights artifact of the run as a provenance input.
func (j *job) readWeights(ctx context.Context, key string) (param.Set, error) {
	rows, obj, err := schema.Weights.Get(ctx, j.st, key)
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	j.input(obj)
	s, err := schema.SetOf(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", obj.URL, err)
	}
	return s, nil
}

// ScoreOperators is the score-operators step: it averages the metric of the children of stage
// -stage per operator (Eq. 3 of the paper) and ranks the operators globally (rank 1 = best). The
// metric is the configuration's: the angle, the Re-BN accuracy or a seeded random value. Which
// operators are dropped is prune's decision, so every row's dropped flag is false here.
func ScoreOperators(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("score-operators", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	stage := fs.Int("stage", 0, "shrinking stage `N`")
	usage(fs, "score-operators", "Scores every operator of one stage by the mean metric of its children (Eq. 3).")
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	j, err := newJob(ctx, "score-operators", c, fs, func(*job) error { return checkStage(*stage) })
	if err != nil {
		return err
	}
	defer j.unlock()
	sp := j.sp
	shrunk, err := j.readSpace(ctx, sp, *stage)
	if err != nil {
		return err
	}
	children, obj, err := schema.Children.Get(ctx, j.st, childrenKey(*stage))
	if err != nil {
		return fmt.Errorf("read children of stage %d: %w", *stage, err)
	}
	j.input(obj)
	gt, err := j.groundTruth()
	if err != nil {
		return err
	}
	outs := []string{scoresKey(*stage)}
	if gt != nil {
		outs = append(outs, correlationsKey(*stage))
	}
	if j.upToDate(ctx, outs...) {
		return nil
	}
	draws := make([]score.Draw, len(children))
	values := make([]float64, len(children))
	random := score.Random{Seed: derive(c.Seed, "random-metric", *stage)}
	for i, ch := range children {
		d, err := drawOf(sp, ch)
		if err != nil {
			return fmt.Errorf("%s: child %d: %w", obj.URL, ch.ID, err)
		}
		draws[i] = d
		var v *float64
		switch j.cfg.Metric {
		case "angle":
			v = ch.Angle
		case "accuracy":
			v = ch.ReBNAcc
		case "random":
			r, _ := random.Child(d.Child)
			v = &r
		}
		if v == nil {
			return fmt.Errorf("%s: child %d has no %s (was it sampled with the same metric?)", obj.URL, ch.ID, j.cfg.Metric)
		}
		values[i] = *v
	}
	scores, err := score.Aggregate(shrunk, draws, values)
	if err != nil {
		return fmt.Errorf("stage %d: %w", *stage, err)
	}
	rows := make([]schema.OpScore, len(scores))
	for i, s := range scores {
		rows[i] = schema.OpScore{Edge: int32(s.Point), Op: sp.Ops()[s.Op].Name, Score: s.Score, Samples: int64(s.Samples)}
	}
	rankRows(rows)
	var corr []schema.Correlation
	if gt != nil {
		if corr, err = j.correlations(gt, draws, children, values); err != nil {
			return err
		}
	}
	out, err := schema.Scores.Put(ctx, j.st, scoresKey(*stage), j.meta(), rows)
	if err != nil {
		return err
	}
	objs := []schema.Object{out}
	if gt != nil {
		cobj, err := schema.Correlations.Put(ctx, j.st, correlationsKey(*stage), j.meta(), corr)
		if err != nil {
			return err
		}
		objs = append(objs, cobj)
	}
	return j.record(ctx, objs...)
}

// correlations compares every metric the stage measured for its children (the angle, the
// accuracies with and without Re-BN, the random metric's values) with the ground truth, and logs
// the figures.
func (j *job) correlations(gt *groundTruth, draws []score.Draw, children []schema.Child, values []float64) ([]schema.Correlation, error) {
	archs := make([]space.Child, len(draws))
	for i, d := range draws {
		archs[i] = d.Child
	}
	metrics := map[string][]float64{}
	var names []string
	column := func(name string, get func(schema.Child) *float64) {
		v := make([]float64, len(children))
		for i, ch := range children {
			p := get(ch)
			if p == nil {
				return
			}
			v[i] = *p
		}
		names = append(names, name)
		metrics[name] = v
	}
	column("angle", func(c schema.Child) *float64 { return c.Angle })
	column("valid_acc", func(c schema.Child) *float64 { return c.ValidAcc })
	column("rebn_acc", func(c schema.Child) *float64 { return c.ReBNAcc })
	if j.cfg.Metric == MetricRandom {
		names = append(names, "random")
		metrics["random"] = values
	}
	rows, err := gt.correlations(archs, names, metrics)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		j.log.Info("benchmark: rank correlation with the ground truth", "metric", r.Metric, "dataset", r.Dataset,
			"children", r.Children, "kendall_tau", r.KendallTau, "spearman_rho", r.SpearmanRho)
	}
	return rows, nil
}

// drawOf reconstructs a scoring draw from a children row.
func drawOf(sp space.Space, ch schema.Child) (score.Draw, error) {
	c, err := childOf(sp, ch.Ops)
	if err != nil {
		return score.Draw{}, err
	}
	d := score.Draw{Child: c, Point: int(ch.ForEdge), Op: -1}
	if ch.ForEdge >= 0 {
		code, err := space.OpCode(sp, ch.ForOp)
		if err != nil {
			return score.Draw{}, fmt.Errorf("for_op: %w", err)
		}
		d.Op = code
	}
	return d, nil
}

// childOf decodes a child from its op names (opNames' inverse: "" is an edge the child does not keep).
func childOf(sp space.Space, names []string) (space.Child, error) {
	if len(names) != sp.Points() {
		return nil, fmt.Errorf("%d ops, want %d", len(names), sp.Points())
	}
	c := make(space.Child, len(names))
	for p, name := range names {
		if name == "" {
			c[p] = space.Absent
			continue
		}
		code, err := space.OpCode(sp, name)
		if err != nil {
			return nil, err
		}
		c[p] = code
	}
	return c, nil
}
