// Package search runs a neural architecture search over a (shrunk) search space with a black-box
// child metric: in the ABS pipeline the supernet accuracy of a child with inherited weights and
// re-computed BN statistics, in tests the NAS-Bench-201 ground truth. The ABS paper (Sect. 4)
// shrinks the space first and then hands it to a NAS algorithm; this package provides the ones that
// need nothing but a metric value per child:
//
//   - exhaustive search, which evaluates every child of a small enough space;
//   - random search, which evaluates children drawn uniformly without replacement;
//   - regularized (aging) evolution.
//
// All three evaluate a child at most once (a cache answers repeats), never evaluate more than
// Config.MaxEvals children, skip children over a FLOPs bound, and return every evaluated candidate
// in evaluation order. Only valid children are searched: those that Space.Check accepts and, for
// spaces whose children can be disconnected (NB201), that are connected, since a disconnected
// cell's output does not depend on its input and the supernet never trains one. The package does no
// I/O; randomness comes from Config.Seed, and the same inputs and seed give the same result.
//
// References:
//
//	Hu, Y. et al. Angle-based Search Space Shrinking for Neural Architecture Search. ECCV 2020, Sect. 4.
//	Real, E., Aggarwal, A., Huang, Y., Le, Q.V. Regularized Evolution for Image Classifier
//	  Architecture Search. AAAI 2019, Algorithm 1.
//	Li, L., Talwalkar, A. Random Search and Reproducibility for Neural Architecture Search. UAI 2019.
package search

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"

	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Algorithm names a search algorithm.
type Algorithm string

// The algorithms.
const (
	Exhaustive Algorithm = "exhaustive"
	Random     Algorithm = "random"
	Evolution  Algorithm = "evolution"
)

// Algorithms lists every algorithm.
var Algorithms = []Algorithm{Exhaustive, Random, Evolution}

// ParseAlgorithm returns the algorithm named name.
func ParseAlgorithm(name string) (Algorithm, error) {
	for _, a := range Algorithms {
		if string(a) == name {
			return a, nil
		}
	}
	return "", fmt.Errorf("search %q: want one of exhaustive, random, evolution", name)
}

// UnmarshalText sets a to the algorithm named text; an unknown name is an error listing the
// valid ones.
func (a *Algorithm) UnmarshalText(text []byte) error {
	v, err := ParseAlgorithm(string(text))
	if err == nil {
		*a = v
	}
	return err
}

// Config configures a search. MaxEvals is the budget of every algorithm: the most children whose
// metric is computed.
//
//   - Exhaustive fails unless the space has at most MaxEvals children (Space.Size, counting invalid
//     ones too) and then evaluates every valid child within the bound, in Space.Enumerate order.
//   - Random evaluates MaxEvals distinct valid children within the bound, drawn uniformly without
//     replacement, or all of them if the space has fewer.
//   - Evolution is regularized evolution (Real et al., Algorithm 1): Population children drawn as by
//     Random, then Cycles cycles, each sampling SampleSize members of the population uniformly with
//     replacement, mutating the best of them, evaluating the mutant, adding it to the population
//     and removing the oldest member. It stops early when MaxEvals children have been evaluated.
type Config struct {
	Algorithm Algorithm
	// MaxEvals is the evaluation budget; it must be positive.
	MaxEvals int
	// Seed seeds every random choice (unused by Exhaustive).
	Seed uint64
	// Bound excludes children over a FLOPs budget; the zero value excludes nothing.
	Bound score.Bound
	// Population (P), SampleSize (S, 1 ≤ S ≤ P) and Cycles (C ≥ 1) configure Evolution; P must not
	// exceed MaxEvals. The other algorithms ignore them.
	Population, SampleSize, Cycles int
	// Progress, when not nil, is called after every new evaluation with the number of children
	// evaluated so far and MaxEvals.
	Progress func(evals, budget int)
}

// Candidate is one evaluated child.
type Candidate struct {
	Child space.Child
	// Text is the child's encoding by Space.Format.
	Text string
	// Value is the metric of the child; larger is better.
	Value float64
	// Iteration says when the child was evaluated: its position in enumeration order (Exhaustive)
	// or draw order (Random), both from 0; for Evolution 0 for the initial population and c for the
	// mutant of cycle c (1 ≤ c ≤ Cycles).
	Iteration int
	// Best marks the best candidate of the search: the largest value, the earliest on ties.
	Best bool
}

// Result is the outcome of a search.
type Result struct {
	Algorithm Algorithm
	// Metric is the metric's Name.
	Metric string
	// Candidates lists every evaluated child once, in evaluation order; len(Candidates) is the
	// number of metric evaluations.
	Candidates []Candidate
	// Best is the index in Candidates of the best candidate.
	Best int
	// CacheHits counts the children asked for again and answered from the cache (Evolution only:
	// a mutant equal to a child evaluated before).
	CacheHits int
}

// BestCandidate returns Candidates[Best].
func (r Result) BestCandidate() Candidate { return r.Candidates[r.Best] }

// Run searches the shrunk space s of sp for the child with the largest metric m. It fails on an
// invalid configuration or shrunk space, when the metric fails or returns NaN (the error names the
// child), when ctx is done, and when no valid child within the bound exists.
func Run(ctx context.Context, sp space.Space, s space.Shrunk, m score.Metric, cfg Config) (Result, error) {
	if err := check(cfg); err != nil {
		return Result{}, err
	}
	if err := space.Validate(sp, s); err != nil {
		return Result{}, fmt.Errorf("%s search: %w", cfg.Algorithm, err)
	}
	e := &evaluator{ctx: ctx, sp: sp, s: s, m: m, cfg: cfg, seen: map[string]int{}}
	if c, ok := sp.(connecter); ok {
		e.conn = c
	}
	var err error
	switch cfg.Algorithm {
	case Exhaustive:
		err = e.exhaustive()
	case Random:
		err = e.random(cfg.MaxEvals, space.NewRand(cfg.Seed), false, func(space.Child, float64) {})
	case Evolution:
		err = e.evolve()
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s search: %w", cfg.Algorithm, err)
	}
	if len(e.cands) == 0 {
		return Result{}, fmt.Errorf("%s search: space %s has no valid child within the FLOPs bound", cfg.Algorithm, sp.Name())
	}
	e.cands[e.best].Best = true
	return Result{Algorithm: cfg.Algorithm, Metric: m.Name(), Candidates: e.cands, Best: e.best, CacheHits: e.hits}, nil
}

func check(cfg Config) error {
	if _, err := ParseAlgorithm(string(cfg.Algorithm)); err != nil {
		return err
	}
	if cfg.MaxEvals <= 0 {
		return fmt.Errorf("%s search: evaluation budget %d, want > 0", cfg.Algorithm, cfg.MaxEvals)
	}
	if cfg.Algorithm != Evolution {
		return nil
	}
	switch {
	case cfg.Population < 1 || cfg.Population > cfg.MaxEvals:
		return fmt.Errorf("evolution search: population %d, want 1..%d (the evaluation budget)", cfg.Population, cfg.MaxEvals)
	case cfg.SampleSize < 1 || cfg.SampleSize > cfg.Population:
		return fmt.Errorf("evolution search: sample size %d, want 1..%d (the population)", cfg.SampleSize, cfg.Population)
	case cfg.Cycles < 1:
		return fmt.Errorf("evolution search: %d cycles, want ≥ 1", cfg.Cycles)
	}
	return nil
}

// connecter is implemented by spaces whose children can be disconnected (NB201).
type connecter interface {
	Connected(space.Child) bool
}

// evaluator evaluates children at most once each and records them.
type evaluator struct {
	ctx   context.Context
	sp    space.Space
	s     space.Shrunk
	m     score.Metric
	cfg   Config
	conn  connecter
	seen  map[string]int // key(child) → index in cands
	cands []Candidate
	best  int
	hits  int
	key   []byte
}

// valid reports whether c may be searched: a child of the shrunk space, connected, within the bound.
func (e *evaluator) valid(c space.Child) bool {
	if e.sp.Check(e.s, c) != nil {
		return false
	}
	if e.conn != nil && !e.conn.Connected(c) {
		return false
	}
	return e.cfg.Bound.FLOPs == nil || e.cfg.Bound.FLOPs(c) <= e.cfg.Bound.Max
}

func (e *evaluator) childKey(c space.Child) string {
	e.key = e.key[:0]
	for _, o := range c {
		e.key = binary.AppendVarint(e.key, int64(o))
	}
	return string(e.key)
}

// exhausted reports whether the budget is spent.
func (e *evaluator) exhausted() bool { return len(e.cands) >= e.cfg.MaxEvals }

// eval returns the metric of c, from the cache if c was evaluated before. It must not be called for
// a new child once the budget is spent.
func (e *evaluator) eval(c space.Child, iter int) (float64, error) {
	k := e.childKey(c)
	if i, ok := e.seen[k]; ok {
		e.hits++
		return e.cands[i].Value, nil
	}
	if e.exhausted() {
		panic("search: evaluation over budget") // a bug in this package
	}
	text := e.sp.Format(c)
	if err := e.ctx.Err(); err != nil {
		return 0, err
	}
	v, err := e.m.Child(c)
	if err != nil {
		return 0, fmt.Errorf("%s of child %s: %w", e.m.Name(), text, err)
	}
	if math.IsNaN(v) {
		return 0, fmt.Errorf("%s of child %s is NaN", e.m.Name(), text)
	}
	e.seen[k] = len(e.cands)
	e.cands = append(e.cands, Candidate{Child: c.Clone(), Text: text, Value: v, Iteration: iter})
	if v > e.cands[e.best].Value {
		e.best = len(e.cands) - 1
	}
	if e.cfg.Progress != nil {
		e.cfg.Progress(len(e.cands), e.cfg.MaxEvals)
	}
	return v, nil
}

func (e *evaluator) exhaustive() error {
	if n := e.sp.Size(e.s); n.Cmp(big.NewInt(int64(e.cfg.MaxEvals))) > 0 {
		return fmt.Errorf("space %s has %s children, over the limit %d", e.sp.Name(), n, e.cfg.MaxEvals)
	}
	var err error
	i := 0
	e.sp.Enumerate(e.s, func(c space.Child) bool {
		if e.valid(c) {
			_, err = e.eval(c, i)
		}
		i++
		return err == nil
	})
	return err
}

// Random search draws from a list of all valid children when the space is small, and by rejection
// otherwise. enumFactor and enumMin set the switch: a space of at most max(enumFactor·n, enumMin)
// children is listed, so rejection only runs where fewer than 1 draw in enumFactor repeats a child
// already drawn. maxMisses bounds a run of rejected draws.
const (
	enumFactor = 16
	enumMin    = 1 << 16
	maxMisses  = 100000
)

// random evaluates n distinct valid children drawn uniformly without replacement (all of them if
// there are fewer), calling got for each in draw order; the i-th has Iteration i, or 0 when
// initial is set (the initial population of evolution).
func (e *evaluator) random(n int, r *rand.Rand, initial bool, got func(space.Child, float64)) error {
	iter := func(i int) int {
		if initial {
			return 0
		}
		return i
	}
	limit := big.NewInt(max(enumFactor*int64(n), enumMin))
	if e.sp.Size(e.s).Cmp(limit) <= 0 {
		var all []space.Child
		e.sp.Enumerate(e.s, func(c space.Child) bool {
			if e.valid(c) {
				all = append(all, c.Clone())
			}
			return true
		})
		// A partial Fisher–Yates shuffle: all[i] is drawn uniformly from the children not yet drawn.
		for i := 0; i < n && i < len(all); i++ {
			j := i + r.IntN(len(all)-i)
			all[i], all[j] = all[j], all[i]
			v, err := e.eval(all[i], iter(i))
			if err != nil {
				return err
			}
			got(all[i], v)
		}
		return nil
	}
	drawn := map[string]bool{}
	misses := 0
	for i := 0; i < n; {
		c := e.sp.Sample(e.s, r)
		k := e.childKey(c)
		if drawn[k] || !e.valid(c) {
			if misses++; misses == maxMisses {
				return fmt.Errorf("space %s: %d draws in a row were invalid, over the FLOPs bound or drawn before, after %d children", e.sp.Name(), maxMisses, i)
			}
			continue
		}
		misses = 0
		drawn[k] = true
		v, err := e.eval(c, iter(i))
		if err != nil {
			return err
		}
		got(c, v)
		i++
	}
	return nil
}

type member struct {
	child space.Child
	value float64
}

// evolve runs regularized evolution. The population is a queue, oldest first.
func (e *evaluator) evolve() error {
	r := space.NewRand(e.cfg.Seed)
	var pop []member
	if err := e.random(e.cfg.Population, r, true, func(c space.Child, v float64) {
		pop = append(pop, member{c.Clone(), v})
	}); err != nil {
		return err
	}
	if len(pop) == 0 {
		return nil // no valid child; Run reports it
	}
	darts := false
	switch e.sp.(type) {
	case space.DARTS, *space.DARTS:
		darts = true
	}
	for cycle := 1; cycle <= e.cfg.Cycles && !e.exhausted(); cycle++ {
		parent := pop[r.IntN(len(pop))]
		for range e.cfg.SampleSize - 1 {
			if m := pop[r.IntN(len(pop))]; m.value > parent.value {
				parent = m
			}
		}
		child := e.mutate(parent.child, r, darts)
		v, err := e.eval(child, cycle)
		if err != nil {
			return err
		}
		pop = append(pop, member{child, v})
		if len(pop) > e.cfg.Population {
			pop = pop[1:]
		}
	}
	return nil
}

// mutateTries bounds the draws of one mutation.
const mutateTries = 100

// mutate returns a valid child that differs from parent at one choice point: an op mutation gives
// one choice point that the parent uses another op allowed there, uniformly (in DARTS, an input
// edge of a node, not one whose op is none). In the DARTS space half of the mutations are instead
// input mutations (Real et al.'s hidden-state mutation): one node of the cell replaces one of its
// two input edges by an edge from another earlier node, keeping the edge's op when the new edge
// allows it and drawing an allowed non-none op otherwise; the old edge becomes none. An invalid
// result is drawn again; after mutateTries failed draws (a space with no valid neighbour of
// parent) the parent itself is returned.
func (e *evaluator) mutate(parent space.Child, r *rand.Rand, darts bool) space.Child {
	var points []int
	for p, o := range parent {
		if !(darts && o == space.DARTSNone) && len(e.s.Allowed[p]) > 1 {
			points = append(points, p)
		}
	}
	c := parent.Clone()
	for range mutateTries {
		copy(c, parent)
		ok := false
		if darts && r.IntN(2) == 1 {
			ok = e.mutateInput(c, r)
		} else if len(points) > 0 {
			p := points[r.IntN(len(points))]
			l := e.s.Allowed[p]
			i := r.IntN(len(l) - 1)
			if l[i] >= c[p] {
				i++ // skip the current op
			}
			c[p] = l[i]
			ok = true
		}
		if ok && e.valid(c) {
			return c
		}
	}
	return parent.Clone()
}

// mutateInput moves one input edge of a random DARTS node; it returns false when the node has no
// other edge to move to.
func (e *evaluator) mutateInput(c space.Child, r *rand.Rand) bool {
	node := 2 + r.IntN(4)
	var kept, free []int
	for in := range node {
		p := space.DARTSEdge(in, node)
		if c[p] == space.DARTSNone {
			if len(e.s.Allowed[p]) > 1 { // a list with none holds none first
				free = append(free, p)
			}
		} else {
			kept = append(kept, p)
		}
	}
	if len(free) == 0 || len(kept) == 0 {
		return false
	}
	from := kept[r.IntN(len(kept))]
	to := free[r.IntN(len(free))]
	op := c[from]
	if l := e.s.Allowed[to]; !slices.Contains(l, op) {
		l = l[1:] // its non-none ops
		op = l[r.IntN(len(l))]
	}
	c[from], c[to] = space.DARTSNone, op
	return true
}
