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
	return runStep(ctx, args, "sample-children", "Draws the children that score the operators of one stage and measures their angle.", &sampleChildren{})
}

type sampleChildren struct {
	stage int

	shrunk    space.Shrunk
	base, cur param.Set

	rows []schema.Child
}

func (s *sampleChildren) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.stage, "stage", 0, "shrinking stage `N`")
}

func (s *sampleChildren) check(*job) error {
	return checkStage(s.stage)
}

func (s *sampleChildren) inputs(*job) []input {
	return []input{spaceInput(s.stage, &s.shrunk),
		weightsInput(baseKey(s.stage), fmt.Sprintf("base weights of stage %d", s.stage), &s.base),
		weightsInput(supernetKey(s.stage), fmt.Sprintf("supernet of stage %d", s.stage), &s.cur)}
}

func (s *sampleChildren) outputs(*job) []output {
	return []output{out(schema.Children, childrenKey(s.stage), &s.rows)}
}

func (s *sampleChildren) compute(ctx context.Context, j *job) error {
	sp, stage := j.sp, s.stage
	flops := j.flops()
	bound := score.Bound{}
	if j.cfg.MaxFLOPs > 0 {
		bound = score.Bound{FLOPs: flops, Max: j.cfg.MaxFLOPs}
	}
	var draws []score.Draw
	var err error
	size := sp.Size(s.shrunk)
	if size.IsInt64() && size.Int64() <= j.cfg.ExactLimit {
		draws, err = score.DrawExact(sp, s.shrunk, j.cfg.ExactLimit, bound)
	} else {
		draws, err = score.DrawSampled(sp, s.shrunk, score.Sampled{PerOp: j.cfg.PerOp, Bound: bound, Seed: derive(j.common.Seed, "sample-children", stage)})
	}
	if err != nil {
		return fmt.Errorf("stage %d: draw children: %w", stage, err)
	}
	j.log.Info("drew children", "stage", stage, "space_size", size.String(), "children", len(draws), "exact", len(draws) > 0 && draws[0].Point < 0)

	stats, err := angle.Compute(j.angleNet(), s.base, params(s.cur))
	if err != nil {
		return fmt.Errorf("stage %d: angle: %w", stage, err)
	}
	rows := make([]schema.Child, len(draws))
	prog := step.NewProgress(fmt.Sprintf("stage %d children", stage), len(draws))
	for i, d := range draws {
		a, err := stats.Angle(d.Child)
		if err != nil {
			return fmt.Errorf("stage %d: angle of %s: %w", stage, sp.Format(d.Child), err)
		}
		rows[i] = schema.Child{ID: int64(i), Ops: opNames(sp, d.Child), FLOPs: flops(d.Child), ForEdge: int32(d.Point), Angle: &a}
		if d.Point >= 0 {
			rows[i].ForOp = sp.Ops()[d.Op].Name
		}
	}
	if j.cfg.Metric == MetricAccuracy {
		if err := j.childAccuracies(ctx, s.cur, draws, rows, prog); err != nil {
			return err
		}
	}
	prog.Done()
	s.rows = rows
	return nil
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
	// A disconnected child (no path from input to output; sampled scoring draws them, the NB201 table
	// lists them near 10 %) computes a constant: it is given chance accuracy, not evaluated.
	conn, _ := j.sp.(interface{ Connected(space.Child) bool })
	var archs [][]int
	var at []int
	for i, dr := range draws {
		if conn == nil || conn.Connected(dr.Child) {
			archs, at = append(archs, dr.Child), append(at, i)
		}
	}
	for _, rebn := range []int{0, j.cfg.ReBN} {
		for i := range rows {
			chance := 100 / float64(d.valid.Classes)
			if rebn == 0 {
				rows[i].ValidAcc = &chance
			} else {
				rows[i].ReBNAcc = &chance
			}
		}
		accs, err := train.Evaluate(ctx, t.Net, archs, d.train, d.valid, train.EvalOptions{Batch: j.cfg.Batch, ReBN: rebn, Seed: j.common.Seed, Workers: 1})
		if err != nil {
			return fmt.Errorf("evaluate children: %w", err)
		}
		for k, a := range accs {
			i := at[k]
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

// ScoreOperators is the score-operators step: it averages the metric of the children of stage
// -stage per operator (Eq. 3 of the paper) and ranks the operators globally (rank 1 = best). The
// metric is the configuration's: the angle, the Re-BN accuracy or a seeded random value. Which
// operators are dropped is prune's decision, so every row's dropped flag is false here.
func ScoreOperators(ctx context.Context, args []string) error {
	return runStep(ctx, args, "score-operators", "Scores every operator of one stage by the mean metric of its children (Eq. 3).", &scoreOperators{})
}

type scoreOperators struct {
	stage int

	shrunk   space.Shrunk
	children []schema.Child
	draws    []score.Draw // of children
	values   []float64    // the configuration's metric of children
	gt       *groundTruth // benchmark mode's table, or nil

	rows []schema.OpScore
	corr []schema.Correlation
}

func (s *scoreOperators) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.stage, "stage", 0, "shrinking stage `N`")
}

func (s *scoreOperators) check(*job) error { return checkStage(s.stage) }

func (s *scoreOperators) inputs(j *job) []input {
	return []input{spaceInput(s.stage, &s.shrunk),
		artifact(schema.Children, childrenKey(s.stage), fmt.Sprintf("children of stage %d", s.stage), func(children []schema.Child) error {
			s.children = children
			s.draws = make([]score.Draw, len(children))
			s.values = make([]float64, len(children))
			random := score.Random{Seed: derive(j.common.Seed, "random-metric", s.stage)}
			for i, ch := range children {
				d, err := drawOf(j.sp, ch)
				if err != nil {
					return fmt.Errorf("child %d: %w", ch.ID, err)
				}
				s.draws[i] = d
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
					return fmt.Errorf("child %d has no %s (was it sampled with the same metric?)", ch.ID, j.cfg.Metric)
				}
				s.values[i] = *v
			}
			return nil
		}),
		groundTruthInput(&s.gt)}
}

func (s *scoreOperators) outputs(*job) []output {
	outs := []output{out(schema.Scores, scoresKey(s.stage), &s.rows)}
	if s.gt != nil {
		outs = append(outs, out(schema.Correlations, correlationsKey(s.stage), &s.corr))
	}
	return outs
}

func (s *scoreOperators) compute(_ context.Context, j *job) error {
	scores, err := score.Aggregate(s.shrunk, s.draws, s.values)
	if err != nil {
		return fmt.Errorf("stage %d: %w", s.stage, err)
	}
	rows := make([]schema.OpScore, len(scores))
	for i, sc := range scores {
		rows[i] = schema.OpScore{Edge: int32(sc.Point), Op: j.sp.Ops()[sc.Op].Name, Score: sc.Score, Samples: int64(sc.Samples)}
	}
	rankRows(rows)
	s.rows = rows
	if s.gt != nil {
		if s.corr, err = j.correlations(s.gt, s.draws, s.children, s.values); err != nil {
			return err
		}
	}
	return nil
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

// childOf decodes a child from its op names (opNames' inverse).
func childOf(sp space.Space, names []string) (space.Child, error) {
	if len(names) != sp.Points() {
		return nil, fmt.Errorf("%d ops, want %d", len(names), sp.Points())
	}
	c := make(space.Child, len(names))
	for p, name := range names {
		code, err := space.OpCode(sp, name)
		if err != nil {
			return nil, err
		}
		c[p] = code
	}
	return c, nil
}
