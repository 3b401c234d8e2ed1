package stage

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/shrink"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Prune is the prune step: it drops the operators of stage -stage that the drop policy selects by
// their scores (Algorithm 2; never the last operator of an edge) and writes the space that is left,
// the policy's ranking with the dropped operators marked, and the stage's shrink record. It writes
// the Argo output parameters size (children left), continue (whether another stage is needed) and
// next-stage, from the space it stored.
func Prune(ctx context.Context, args []string) error {
	return runStep(ctx, args, "prune", "Drops the worst operators of one stage and decides whether to shrink further.", &prune{})
}

type prune struct {
	stage     int
	policy    shrink.Policy
	drop      int
	threshold string
	cfg       shrink.Config // of the flags, once checked

	shrunk space.Shrunk
	scores []score.OpScore
	gt     *groundTruth // benchmark mode's table, or nil

	spaceRows []schema.SpaceOp
	decisions []schema.OpScore
	record    []schema.Stage
	truth     []schema.OpTruth
}

func (p *prune) flags(fs *flag.FlagSet) {
	fs.IntVar(&p.stage, "stage", 0, "shrinking stage `N`")
	fs.Var(&p.policy, "policy", "drop `policy`: fixed-count, global-tail, one-per-edge or one-per-layer (default: the space's, one-per-edge for darts and fixed-count for the others)")
	fs.IntVar(&p.drop, "drop", 20, "operators dropped per stage by fixed-count and global-tail")
	fs.StringVar(&p.threshold, "threshold", "64", "stop shrinking once the space has at most this many children (an integer; 1e6 notation is accepted)")
}

func (p *prune) check(j *job) error {
	thr, err := parseSize(p.threshold)
	if err != nil {
		err = fmt.Errorf("-threshold: %w", err)
	}
	if p.policy == "" {
		p.policy = j.fam.DropPolicy
	}
	p.cfg = shrink.Config{Policy: p.policy, K: p.drop, Threshold: thr}
	var perr error
	switch p.cfg.Policy {
	case shrink.FixedCount, shrink.GlobalTail:
		// An edge always keeps one op, so at most NumOps - Points can ever be dropped.
		full := j.sp.Full()
		perr = check(p.drop >= 1 && p.drop <= full.NumOps()-j.sp.Points(), "-drop %d: want 1 to %d (the %s space has %d ops on %d edges or layers, each of which keeps one)",
			p.drop, full.NumOps()-j.sp.Points(), j.sp.Name(), full.NumOps(), j.sp.Points())
	}
	return errors.Join(checkStage(p.stage), err, perr)
}

func (p *prune) inputs(j *job) []input {
	return []input{spaceInput(p.stage, &p.shrunk),
		artifact(schema.Scores, scoresKey(p.stage), fmt.Sprintf("scores of stage %d", p.stage), func(rows []schema.OpScore) error {
			p.scores = make([]score.OpScore, len(rows))
			for i, r := range rows {
				code, err := space.OpCode(j.sp, r.Op)
				if err != nil {
					return fmt.Errorf("row %d: %w", i, err)
				}
				p.scores[i] = score.OpScore{Point: int(r.Edge), Op: code, Score: r.Score, Samples: int(r.Samples)}
			}
			return nil
		}),
		groundTruthInput(&p.gt)}
}

func (p *prune) outputs(*job) []output {
	outs := []output{out(schema.Space, spaceKey(p.stage), &p.spaceRows), out(schema.Scores, decisionsKey(p.stage), &p.decisions), out(schema.Shrink, shrinkKey(p.stage), &p.record)}
	if p.gt != nil {
		outs = append(outs, out(schema.OpTruths, opTruthKey(p.stage), &p.truth))
	}
	return outs
}

func (p *prune) compute(_ context.Context, j *job) error {
	sp, stage := j.sp, p.stage
	removed := sp.Full().NumOps() - p.shrunk.NumOps()
	state := shrink.State{Space: p.shrunk, Stages: stage, Removed: removed, Reset: removed > shrink.DefaultResetAfter}
	next, st, err := shrink.Step(sp, state, p.scores, p.cfg)
	if err != nil {
		return fmt.Errorf("stage %d: %w", stage, err)
	}
	j.log.Info("pruned", "stage", stage, "dropped", len(st.Dropped()), "size_before", st.SizeBefore.String(), "size_after", st.SizeAfter.String(), "continue", !shrink.Done(sp, next, p.cfg))
	for _, d := range st.Dropped() {
		j.log.Info("dropped", "edge", sp.PointName(d.Point), "op", sp.Ops()[d.Op].Name, "score", d.Score, "rank", d.Rank)
	}
	if p.gt != nil {
		if p.truth, err = p.gt.opTruths(sp, p.shrunk, next.Space); err != nil {
			return err
		}
		for i, r := range p.truth {
			if i == 0 || r.Dataset != p.truth[i-1].Dataset {
				j.log.Info("benchmark: kept operators among the ground-truth best", "dataset", r.Dataset, "kept", r.TopK, "in_top_k", r.KeptInTopK)
			}
		}
	}
	p.decisions = make([]schema.OpScore, len(st.Decisions))
	for i, d := range st.Decisions {
		p.decisions[i] = schema.OpScore{Edge: int32(d.Point), Op: sp.Ops()[d.Op].Name, Score: d.Score, Samples: int64(d.Samples), Rank: int32(d.Rank), Dropped: d.Dropped}
	}
	rec := schema.Stage{Stage: int32(stage), SizeBefore: sizeFloat(st.SizeBefore), SizeAfter: sizeFloat(st.SizeAfter), ResetBase: st.ResetBase}
	for _, d := range st.Dropped() {
		rec.Dropped = append(rec.Dropped, schema.DroppedOp{Edge: int32(d.Point), Op: sp.Ops()[d.Op].Name, Score: d.Score})
	}
	p.spaceRows, p.record = spaceRows(sp, next.Space), []schema.Stage{rec}
	return nil
}

// report reads the space the stage left from the run: its size, whether the drop policy shrinks
// it further, and the next stage's number.
func (p *prune) report(ctx context.Context, j *job) (map[string]string, error) {
	rows, err := stored(ctx, j, schema.Space, spaceKey(p.stage))
	if err != nil {
		return nil, err
	}
	left, err := shrunkOf(j.sp, rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", j.st.URL(spaceKey(p.stage)), err)
	}
	// Done counts the stages done, this one included.
	more := !shrink.Done(j.sp, shrink.State{Space: left, Stages: p.stage + 1}, p.cfg)
	return map[string]string{"size": j.sp.Size(left).String(), "continue": strconv.FormatBool(more), "next-stage": strconv.Itoa(p.stage + 1)}, nil
}

// parseSize reads a space size: an integer, or a float in e notation that is a whole number.
func parseSize(s string) (*big.Int, error) {
	if n, ok := new(big.Int).SetString(s, 10); ok && n.Sign() >= 0 {
		return n, nil
	}
	f, _, err := big.ParseFloat(s, 10, 256, big.ToNearestEven)
	if err != nil || f.Sign() < 0 || !f.IsInt() {
		return nil, fmt.Errorf("%q: want a non-negative whole number such as 64 or 1e6", s)
	}
	n, _ := f.Int(nil)
	return n, nil
}

// rankRows sets Rank to each row's place in one global ranking by score, 1 = best; rows without
// samples (NaN scores) rank last, ties keep the order of the rows.
func rankRows(rows []schema.OpScore) {
	scores := make([]float64, len(rows))
	for i, r := range rows {
		scores[i] = r.Score
	}
	for i, r := range places(scores) {
		rows[i].Rank = r
	}
}

// places returns each score's place in the ranking by score, 1 = best; NaN ranks last, ties keep
// the order of scores.
func places(scores []float64) []int32 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := scores[idx[a]], scores[idx[b]]
		if math.IsNaN(x) || math.IsNaN(y) {
			return !math.IsNaN(x) && math.IsNaN(y)
		}
		return x > y
	})
	r := make([]int32, len(scores))
	for place, i := range idx {
		r[i] = int32(place + 1)
	}
	return r
}
