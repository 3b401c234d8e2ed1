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
	"github.com/abs-nas/abs/internal/step"
)

// Prune is the prune step: it drops the operators of stage -stage that the drop policy selects by
// their scores (Algorithm 2; never the last operator of an edge) and writes the space that is left,
// the policy's ranking with the dropped operators marked, and the stage's shrink record. It writes
// the Argo output parameters size (children left), continue (whether another stage is needed) and
// next-stage.
func Prune(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	stage := fs.Int("stage", 0, "shrinking stage `N`")
	policy := shrink.FixedCount
	fs.Var(&policy, "policy", "drop `policy`: fixed-count, global-tail, one-per-edge or one-per-layer")
	drop := fs.Int("drop", 20, "operators dropped per stage by fixed-count and global-tail")
	threshold := fs.String("threshold", "64", "stop shrinking once the space has at most this many children (an integer; 1e6 notation is accepted)")
	usage(fs, "prune", "Drops the worst operators of one stage and decides whether to shrink further.")
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	var cfg shrink.Config
	j, err := newJob(ctx, "prune", c, fs, func(j *job) error {
		thr, err := parseSize(*threshold)
		if err != nil {
			err = fmt.Errorf("-threshold: %w", err)
		}
		cfg = shrink.Config{Policy: policy, K: *drop, Threshold: thr}
		var perr error
		switch cfg.Policy {
		case shrink.FixedCount, shrink.GlobalTail:
			// An edge always keeps one op, so at most NumOps - Points can ever be dropped.
			full := j.sp.Full()
			perr = check(*drop >= 1 && *drop <= full.NumOps()-j.sp.Points(), "-drop %d: want 1 to %d (the %s space has %d ops on %d edges or layers, each of which keeps one)",
				*drop, full.NumOps()-j.sp.Points(), j.sp.Name(), full.NumOps(), j.sp.Points())
		}
		return errors.Join(checkStage(*stage), err, perr)
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
	rows, obj, err := schema.Scores.Get(ctx, j.st, scoresKey(*stage))
	if err != nil {
		return fmt.Errorf("read scores of stage %d: %w", *stage, err)
	}
	j.input(obj)
	gt, err := j.groundTruth()
	if err != nil {
		return err
	}
	scores := make([]score.OpScore, len(rows))
	for i, r := range rows {
		code, err := space.OpCode(sp, r.Op)
		if err != nil {
			return fmt.Errorf("%s: row %d: %w", obj.URL, i, err)
		}
		scores[i] = score.OpScore{Point: int(r.Edge), Op: code, Score: r.Score, Samples: int(r.Samples)}
	}
	removed := sp.Full().NumOps() - shrunk.NumOps()
	state := shrink.State{Space: shrunk, Stages: *stage, Removed: removed, Reset: removed > shrink.DefaultResetAfter}
	next, st, err := shrink.Step(sp, state, scores, cfg)
	if err != nil {
		return fmt.Errorf("stage %d: %w", *stage, err)
	}
	more := !shrink.Done(sp, next, cfg)
	j.log.Info("pruned", "stage", *stage, "dropped", len(st.Dropped()), "size_before", st.SizeBefore.String(), "size_after", st.SizeAfter.String(), "continue", more)
	for _, d := range st.Dropped() {
		j.log.Info("dropped", "edge", sp.PointName(d.Point), "op", sp.Ops()[d.Op].Name, "score", d.Score, "rank", d.Rank)
	}
	var truth []schema.OpTruth
	if gt != nil {
		if truth, err = gt.opTruths(sp, shrunk, next.Space); err != nil {
			return err
		}
		for i, r := range truth {
			if i == 0 || r.Dataset != truth[i-1].Dataset {
				j.log.Info("benchmark: kept operators among the ground-truth best", "dataset", r.Dataset, "kept", r.TopK, "in_top_k", r.KeptInTopK)
			}
		}
	}
	outs := []string{spaceKey(*stage), decisionsKey(*stage), shrinkKey(*stage)}
	if gt != nil {
		outs = append(outs, opTruthKey(*stage))
	}
	if !j.upToDate(ctx, outs...) {
		if err := j.writePrune(ctx, sp, *stage, next.Space, st, truth); err != nil {
			return err
		}
	}
	for name, v := range map[string]string{"size": st.SizeAfter.String(), "continue": strconv.FormatBool(more), "next-stage": strconv.Itoa(*stage + 1)} {
		if err := c.WriteOutput(name, v); err != nil {
			return err
		}
	}
	return nil
}

func (j *job) writePrune(ctx context.Context, sp space.Space, stage int, left space.Shrunk, st shrink.Stage, truth []schema.OpTruth) error {
	meta := j.meta()
	decisions := make([]schema.OpScore, len(st.Decisions))
	for i, d := range st.Decisions {
		decisions[i] = schema.OpScore{Edge: int32(d.Point), Op: sp.Ops()[d.Op].Name, Score: d.Score, Samples: int64(d.Samples), Rank: int32(d.Rank), Dropped: d.Dropped}
	}
	rec := schema.Stage{Stage: int32(stage), SizeBefore: sizeFloat(st.SizeBefore), SizeAfter: sizeFloat(st.SizeAfter), ResetBase: st.ResetBase}
	for _, d := range st.Dropped() {
		rec.Dropped = append(rec.Dropped, schema.DroppedOp{Edge: int32(d.Point), Op: sp.Ops()[d.Op].Name, Score: d.Score})
	}
	spaceObj, err := schema.Space.Put(ctx, j.st, spaceKey(stage), meta, spaceRows(sp, left))
	if err != nil {
		return err
	}
	decObj, err := schema.Scores.Put(ctx, j.st, decisionsKey(stage), meta, decisions)
	if err != nil {
		return err
	}
	shrinkObj, err := schema.Shrink.Put(ctx, j.st, shrinkKey(stage), meta, []schema.Stage{rec})
	if err != nil {
		return err
	}
	objs := []schema.Object{spaceObj, decObj, shrinkObj}
	if truth != nil {
		truthObj, err := schema.OpTruths.Put(ctx, j.st, opTruthKey(stage), meta, truth)
		if err != nil {
			return err
		}
		objs = append(objs, truthObj)
	}
	return j.record(ctx, objs...)
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
