// Package shrink implements the shrinking loop of ABS (Algorithm 2 of the paper): after every
// supernet training stage the lowest-scoring operators are dropped, an edge or layer always
// keeping at least one op, until the space has at most a threshold of children. It returns every
// decision so the pipeline can write the shrink history. The package does no I/O.
//
// References:
//
//	Hu, Y. et al. Angle-based Search Space Shrinking for Neural Architecture Search. ECCV 2020,
//	Algorithm 2 and Sec. 4.2.
package shrink

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Policy names how many and which ops a stage drops.
type Policy string

const (
	// GlobalTail drops the K lowest ops of one global ranking per stage (SPOS and ProxylessNAS
	// spaces; the authors use K = 7).
	GlobalTail Policy = "global-tail"
	// OnePerEdge drops the lowest op of every edge that has more than one (DARTS, the default of
	// the DARTS family).
	OnePerEdge Policy = "one-per-edge"
	// OnePerLayer drops the lowest op of every layer that has more than one (FairNAS); it ranks
	// exactly as OnePerEdge.
	OnePerLayer Policy = "one-per-layer"
	// FixedCount drops the K lowest ops of a global ranking in a single stage and then stops
	// (NB201: 20 of 30).
	FixedCount Policy = "fixed-count"
)

// Policies lists every policy.
var Policies = []Policy{FixedCount, GlobalTail, OnePerEdge, OnePerLayer}

// ParsePolicy returns the policy named name; an unknown name is an error listing the valid ones.
func ParsePolicy(name string) (Policy, error) {
	for _, p := range Policies {
		if string(p) == name {
			return p, nil
		}
	}
	return "", fmt.Errorf("drop policy %q: want one of %s, %s, %s, %s", name, FixedCount, GlobalTail, OnePerEdge, OnePerLayer)
}

// Set implements flag.Value: it sets p to the policy named s.
func (p *Policy) Set(s string) error {
	v, err := ParsePolicy(s)
	if err == nil {
		*p = v
	}
	return err
}

// String returns the policy's name.
func (p Policy) String() string { return string(p) }

// UnmarshalText sets p to the policy named text.
func (p *Policy) UnmarshalText(text []byte) error { return p.Set(string(text)) }

// DefaultResetAfter is the authors' rule: the base weights are reset to the current weights once,
// when more than 50 ops have been removed from the original space.
const DefaultResetAfter = 50

// Config configures shrinking.
type Config struct {
	Policy Policy
	// K is the number of ops dropped per stage by GlobalTail and FixedCount.
	K int
	// Threshold stops shrinking once the space has at most this many children (the authors use
	// 10⁶ on the ImageNet spaces); nil means no size threshold.
	Threshold *big.Int
	// ResetAfter resets the base weights once more than this many ops have been removed; 0 means
	// DefaultResetAfter, negative never resets.
	ResetAfter int
}

func (c Config) check() error {
	switch c.Policy {
	case GlobalTail, FixedCount:
		if c.K <= 0 {
			return fmt.Errorf("shrink policy %s: K = %d, want > 0", c.Policy, c.K)
		}
	case OnePerEdge, OnePerLayer:
	default:
		return fmt.Errorf("unknown shrink policy %q, want one of %s, %s, %s, %s", c.Policy, GlobalTail, OnePerEdge, OnePerLayer, FixedCount)
	}
	return nil
}

func (c Config) resetAfter() int {
	if c.ResetAfter == 0 {
		return DefaultResetAfter
	}
	return c.ResetAfter
}

// State is where shrinking stands between stages.
type State struct {
	Space   space.Shrunk
	Stages  int  // stages done
	Removed int  // ops removed since the original space
	Reset   bool // whether the base weights have been reset
}

// Start returns the state before the first stage.
func Start(s space.Shrunk) State { return State{Space: s.Clone()} }

// Decision is the fate of one op in one stage.
type Decision struct {
	Point, Op int
	Score     float64 // NaN when the op had no sample
	Samples   int
	// Rank is the op's position, 1 = best, in the ranking the policy used: global for GlobalTail
	// and FixedCount, within its choice point for OnePerEdge and OnePerLayer. Ops without samples
	// rank below all scored ops; among equal scores the lower (choice point, op code) ranks worse
	// and is dropped first.
	Rank    int
	Dropped bool
}

// Stage records one shrinking stage.
type Stage struct {
	Index                 int // 0-based
	SizeBefore, SizeAfter *big.Int
	// Decisions holds every op of the space before the stage, ordered by choice point then op.
	Decisions []Decision
	// RemovedTotal is the number of ops removed since the original space, after this stage.
	RemovedTotal int
	// ResetBase is true in the stage after which the base weights must be reset to the current
	// weights: the first stage that takes RemovedTotal over the reset limit.
	ResetBase bool
}

// Dropped returns the dropped decisions in order of increasing score.
func (s Stage) Dropped() []Decision {
	var d []Decision
	for _, x := range s.Decisions {
		if x.Dropped {
			d = append(d, x)
		}
	}
	slices.SortStableFunc(d, func(a, b Decision) int { return less(a.Score, b.Score) })
	return d
}

// less orders scores ascending with NaN lowest.
func less(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return cmp.Compare(a, b)
}

// Done reports whether shrinking is over: the space is at or under the threshold, a FixedCount
// stage has run, or no choice point has more than one op left.
func Done(sp space.Space, st State, cfg Config) bool {
	if cfg.Policy == FixedCount && st.Stages > 0 {
		return true
	}
	if cfg.Threshold != nil && sp.Size(st.Space).Cmp(cfg.Threshold) <= 0 {
		return true
	}
	for _, l := range st.Space.Allowed {
		if len(l) > 1 {
			return false
		}
	}
	return true
}

// Step runs one stage: it ranks the ops of st.Space by scores (one score per allowed op, as
// score.Aggregate returns them), drops ops as the policy says, never the last op of a choice
// point, and returns the new state and the stage record. A drop that would leave the space
// without a child is not made: the policy drops the next-worst op instead (of the same edge for
// OnePerEdge and OnePerLayer, of the global ranking otherwise). Only DARTS has such drops: a node
// needs two edges that can take an op other than none and at most two that cannot be none. An
// edge with more than one op always has one whose drop keeps its node feasible (another non-none
// op when it has two; of {none, x}, x when its node has a third edge that can be an input, none
// otherwise), so OnePerEdge still drops exactly one op of every edge with more than one.
func Step(sp space.Space, st State, scores []score.OpScore, cfg Config) (State, Stage, error) {
	if err := cfg.check(); err != nil {
		return st, Stage{}, err
	}
	s := st.Space
	if err := space.Validate(sp, s); err != nil {
		return st, Stage{}, fmt.Errorf("shrink stage %d: %w", st.Stages, err)
	}
	if len(scores) != s.NumOps() {
		return st, Stage{}, fmt.Errorf("shrink stage %d: %d scores for %d ops", st.Stages, len(scores), s.NumOps())
	}
	ds := make([]Decision, len(scores))
	seen := map[[2]int]bool{}
	for i, x := range scores {
		if x.Point < 0 || x.Point >= len(s.Allowed) || !s.Has(x.Point, x.Op) {
			return st, Stage{}, fmt.Errorf("shrink stage %d: score for op %d at choice point %d, which is not in the space", st.Stages, x.Op, x.Point)
		}
		k := [2]int{x.Point, x.Op}
		if seen[k] {
			return st, Stage{}, fmt.Errorf("shrink stage %d: two scores for op %d at choice point %d", st.Stages, x.Op, x.Point)
		}
		seen[k] = true
		ds[i] = Decision{Point: x.Point, Op: x.Op, Score: x.Score, Samples: x.Samples}
	}
	slices.SortFunc(ds, func(a, b Decision) int {
		return cmp.Or(cmp.Compare(a.Point, b.Point), cmp.Compare(a.Op, b.Op))
	})
	// order lists decision indices best first; ties keep (point, op) order, lower first to drop.
	ranked := func(idx []int) {
		slices.SortStableFunc(idx, func(a, b int) int { return -less(ds[a].Score, ds[b].Score) })
		// Reverse tie order so that among equal scores the lower (point, op) ranks worse.
		for i := 0; i < len(idx); {
			j := i + 1
			for j < len(idx) && less(ds[idx[i]].Score, ds[idx[j]].Score) == 0 {
				j++
			}
			slices.Reverse(idx[i:j])
			i = j
		}
		for r, i := range idx {
			ds[i].Rank = r + 1
		}
	}
	left := make([]int, len(s.Allowed))
	for p, l := range s.Allowed {
		left[p] = len(l)
	}
	// space returns the space the drops so far leave.
	spaceLeft := func() space.Shrunk {
		next := space.Shrunk{Allowed: make([][]int, len(s.Allowed))}
		for _, d := range ds {
			if !d.Dropped {
				next.Allowed[d.Point] = append(next.Allowed[d.Point], d.Op)
			}
		}
		return next
	}
	// drop drops decision i unless that would leave its choice point without an op or the space
	// without a child (a DARTS node that can no longer keep two non-none inputs).
	dropped := 0
	drop := func(i int) bool {
		d := &ds[i]
		if left[d.Point] <= 1 {
			return false
		}
		d.Dropped = true
		if sp.Size(spaceLeft()).Sign() == 0 {
			d.Dropped = false
			return false
		}
		left[d.Point]--
		dropped++
		return true
	}
	switch cfg.Policy {
	case GlobalTail, FixedCount:
		idx := make([]int, len(ds))
		for i := range idx {
			idx[i] = i
		}
		ranked(idx)
		for j := len(idx) - 1; j >= 0 && dropped < cfg.K; j-- {
			drop(idx[j])
		}
	case OnePerEdge, OnePerLayer:
		for p := range s.Allowed {
			var idx []int
			for i, d := range ds {
				if d.Point == p {
					idx = append(idx, i)
				}
			}
			ranked(idx)
			for j := len(idx) - 1; j >= 0; j-- {
				if drop(idx[j]) {
					break
				}
			}
		}
	}
	next := spaceLeft()
	ns := State{Space: next, Stages: st.Stages + 1, Removed: st.Removed + dropped, Reset: st.Reset}
	rec := Stage{
		Index:        st.Stages,
		SizeBefore:   sp.Size(s),
		SizeAfter:    sp.Size(next),
		Decisions:    ds,
		RemovedTotal: ns.Removed,
	}
	if lim := cfg.resetAfter(); lim >= 0 && !st.Reset && ns.Removed > lim {
		rec.ResetBase = true
		ns.Reset = true
	}
	return ns, rec, nil
}

// Run shrinks from st until Done, calling scoreStage for the scores of each stage (in the
// pipeline, after training the supernet on st.Space and resetting the base weights when the
// previous stage says so). It stops with an error if a stage drops nothing.
func Run(sp space.Space, st State, cfg Config, scoreStage func(State) ([]score.OpScore, error)) (State, []Stage, error) {
	if err := cfg.check(); err != nil {
		return st, nil, err
	}
	var stages []Stage
	for !Done(sp, st, cfg) {
		scores, err := scoreStage(st)
		if err != nil {
			return st, stages, fmt.Errorf("shrink stage %d: %w", st.Stages, err)
		}
		next, rec, err := Step(sp, st, scores, cfg)
		if err != nil {
			return st, stages, err
		}
		stages = append(stages, rec)
		if next.Removed == st.Removed {
			return next, stages, fmt.Errorf("shrink stage %d dropped no op", st.Stages)
		}
		st = next
	}
	return st, stages, nil
}
