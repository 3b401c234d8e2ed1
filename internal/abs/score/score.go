// Package score computes operator scores (Eq. 3 of the ABS paper): the score of operator o at
// choice point p is the mean metric of the child models that take o at p,
//
//	Score(p, o) = (1/|S(p,o)|) · Σ_{c ∈ S(p,o)} m(c),
//
// where m is the angle of Eq. (2) (or, for comparison, a supernet accuracy or a random value) and
// S(p,o) is either sampled or the whole (shrunk) space. Drawing children and evaluating them are
// separate calls so that a pipeline can store the drawn children, evaluate them elsewhere, and
// aggregate. The package does no I/O.
//
// References:
//
//	Hu, Y. et al. Angle-based Search Space Shrinking for Neural Architecture Search. ECCV 2020,
//	Eq. (3) and Sec. 4.
package score

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Metric rates one child; a larger value means a better child.
type Metric interface {
	Name() string
	Child(c space.Child) (float64, error)
}

// Angle rates a child by its angle (Eq. 2) under a pair of base and current weights.
type Angle struct {
	Stats *angle.Stats
}

// Name returns "angle".
func (Angle) Name() string { return "angle" }

// Child returns the angle of c in radians.
func (a Angle) Child(c space.Child) (float64, error) { return a.Stats.Angle(c) }

// Accuracy rates a child by an accuracy the caller measures, typically the supernet's validation
// accuracy of the child with or without re-computed BN statistics.
type Accuracy struct {
	// Label names the metric ("accuracy", "accuracy-rebn"); empty means "accuracy".
	Label string
	// Of returns the accuracy of a child.
	Of func(space.Child) (float64, error)
}

// Name returns the label.
func (a Accuracy) Name() string {
	if a.Label == "" {
		return "accuracy"
	}
	return a.Label
}

// Child returns a.Of(c).
func (a Accuracy) Child(c space.Child) (float64, error) { return a.Of(c) }

// Random rates a child by a pseudo-random value in [0,1) that depends only on the seed and the
// child, not on the order of calls: the baseline a useful metric must beat.
type Random struct {
	Seed uint64
}

// Name returns "random".
func (Random) Name() string { return "random" }

// Child returns the value of c: SplitMix64 applied to the seed and each op code in turn.
func (r Random) Child(c space.Child) (float64, error) {
	h := splitmix(r.Seed)
	for _, o := range c {
		h = splitmix(h ^ uint64(int64(o)))
	}
	return float64(h>>11) / (1 << 53), nil
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Draw is one child drawn for scoring. In sampled mode it counts only for the op it was drawn for
// (Point, Op); in exact mode Point is -1 and it counts for every op it contains.
type Draw struct {
	Child space.Child
	Point int
	Op    int
}

// OpScore is the score of one (choice point, op) of the shrunk space.
type OpScore struct {
	Point, Op int
	// Score is the mean metric of the op's children; NaN when Samples is 0.
	Score float64
	// Samples is the number of children averaged.
	Samples int
}

// Bound rejects children over a FLOPs budget. The zero value rejects nothing.
type Bound struct {
	FLOPs func(space.Child) int64 // nil: no bound
	Max   int64
}

func (b Bound) ok(c space.Child) bool { return b.FLOPs == nil || b.FLOPs(c) <= b.Max }

// Sampled configures sampled scoring: for every choice point p and every op o allowed there, in
// that order, children of the shrunk space that take o at p are drawn uniformly until PerOp are
// accepted. A child is rejected if it is over the FLOPs bound or was already drawn for any op, so
// every child is used once across all ops. An op whose conditioned space runs out gets fewer
// samples: drawing for it stops after Tries attempts, or at once when no child of the space takes
// it (space.Space.SampleAt returns nil: none on the edges of DARTS' node 2), so its score is NaN.
type Sampled struct {
	PerOp int // children per op (the authors use 1000)
	Tries int // attempts per op; 0 means 20·PerOp
	Bound Bound
	Seed  uint64
}

// DrawSampled draws the children of sampled scoring. Same inputs and seed give the same draws.
func DrawSampled(sp space.Space, s space.Shrunk, cfg Sampled) ([]Draw, error) {
	if err := space.Validate(sp, s); err != nil {
		return nil, fmt.Errorf("draw children: %w", err)
	}
	if cfg.PerOp <= 0 {
		return nil, fmt.Errorf("draw children: per-op sample count %d, want > 0", cfg.PerOp)
	}
	tries := cfg.Tries
	if tries <= 0 {
		tries = 20 * cfg.PerOp
	}
	r := space.NewRand(cfg.Seed)
	used := map[string]bool{}
	var draws []Draw
	key := make([]byte, 0, 8*sp.Points())
	for p, ops := range s.Allowed {
		for _, o := range ops {
			got := 0
			for t := 0; t < tries && got < cfg.PerOp; t++ {
				c := sp.SampleAt(s, p, o, r)
				if c == nil {
					break
				}
				if !cfg.Bound.ok(c) {
					continue
				}
				key = key[:0]
				for _, x := range c {
					key = binary.AppendVarint(key, int64(x))
				}
				if used[string(key)] {
					continue
				}
				used[string(key)] = true
				draws = append(draws, Draw{Child: c, Point: p, Op: o})
				got++
			}
		}
	}
	return draws, nil
}

// DrawExact returns every child of s within the FLOPs bound, each with Point -1. It fails if the
// space has more than limit children.
func DrawExact(sp space.Space, s space.Shrunk, limit int64, b Bound) ([]Draw, error) {
	if err := space.Validate(sp, s); err != nil {
		return nil, fmt.Errorf("enumerate children: %w", err)
	}
	if n := sp.Size(s); n.Cmp(big.NewInt(limit)) > 0 {
		return nil, fmt.Errorf("enumerate children: space %s has %s children, over the limit %d", sp.Name(), n, limit)
	}
	var draws []Draw
	sp.Enumerate(s, func(c space.Child) bool {
		if b.ok(c) {
			draws = append(draws, Draw{Child: c.Clone(), Point: -1})
		}
		return true
	})
	return draws, nil
}

// Evaluate returns the metric of every drawn child.
func Evaluate(m Metric, draws []Draw) ([]float64, error) {
	v := make([]float64, len(draws))
	for i, d := range draws {
		x, err := m.Child(d.Child)
		if err != nil {
			return nil, fmt.Errorf("%s of child %d: %w", m.Name(), i, err)
		}
		v[i] = x
	}
	return v, nil
}

// Aggregate averages the values of the draws per (choice point, op) of s (Eq. 3) and returns one
// OpScore per allowed op, ordered by choice point then op code.
func Aggregate(s space.Shrunk, draws []Draw, values []float64) ([]OpScore, error) {
	if len(values) != len(draws) {
		return nil, fmt.Errorf("aggregate scores: %d values for %d children", len(values), len(draws))
	}
	sum := make([][]float64, len(s.Allowed))
	cnt := make([][]int, len(s.Allowed))
	for p, ops := range s.Allowed {
		sum[p] = make([]float64, len(ops))
		cnt[p] = make([]int, len(ops))
	}
	add := func(p, o int, v float64) error {
		for i, a := range s.Allowed[p] {
			if a == o {
				sum[p][i] += v
				cnt[p][i]++
				return nil
			}
		}
		return fmt.Errorf("aggregate scores: op %d at choice point %d is not in the shrunk space", o, p)
	}
	for i, d := range draws {
		if len(d.Child) != len(s.Allowed) {
			return nil, fmt.Errorf("aggregate scores: child %d has %d choices, want %d", i, len(d.Child), len(s.Allowed))
		}
		if math.IsNaN(values[i]) {
			return nil, fmt.Errorf("aggregate scores: child %d has metric NaN", i)
		}
		if d.Point >= 0 {
			if d.Child[d.Point] != d.Op {
				return nil, fmt.Errorf("aggregate scores: child %d was drawn for op %d at choice point %d but takes %d", i, d.Op, d.Point, d.Child[d.Point])
			}
			if err := add(d.Point, d.Op, values[i]); err != nil {
				return nil, err
			}
			continue
		}
		for p, o := range d.Child {
			if err := add(p, o, values[i]); err != nil {
				return nil, err
			}
		}
	}
	var out []OpScore
	for p, ops := range s.Allowed {
		for i, o := range ops {
			sc := math.NaN()
			if cnt[p][i] > 0 {
				sc = sum[p][i] / float64(cnt[p][i])
			}
			out = append(out, OpScore{Point: p, Op: o, Score: sc, Samples: cnt[p][i]})
		}
	}
	return out, nil
}

// ErrNoChildren is returned when no child could be drawn.
var ErrNoChildren = errors.New("no child drawn")

// Run draws (sampled mode when exact is nil, else exact mode), evaluates and aggregates.
func Run(sp space.Space, s space.Shrunk, m Metric, sampled Sampled, exact *Exact) ([]OpScore, error) {
	var draws []Draw
	var err error
	if exact != nil {
		draws, err = DrawExact(sp, s, exact.Limit, exact.Bound)
	} else {
		draws, err = DrawSampled(sp, s, sampled)
	}
	if err != nil {
		return nil, err
	}
	if len(draws) == 0 {
		return nil, fmt.Errorf("score %s: %w", sp.Name(), ErrNoChildren)
	}
	v, err := Evaluate(m, draws)
	if err != nil {
		return nil, err
	}
	return Aggregate(s, draws, v)
}

// Exact configures exact scoring: every child of the space within the bound, if the space has at
// most Limit children.
type Exact struct {
	Limit int64
	Bound Bound
}
