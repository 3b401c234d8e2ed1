package space

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Sampler yields the children a single-path supernet trains on, one per step.
type Sampler interface {
	Next() Child
}

// NewRand returns the generator every seeded function of the ABS packages uses: PCG seeded with
// (seed, a fixed stream constant). The same seed always yields the same sequence.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// connecter is implemented by spaces whose children can be disconnected (NB201).
type connecter interface {
	Connected(Child) bool
	CanConnect(Shrunk) bool
}

// productSpace is implemented by spaces whose children pick exactly one allowed op per choice
// point (NB201, MobileNet-like); the fair sampler needs this.
type productSpace interface {
	product()
}

func (NB201) product() {}

// Uniform samples children of a shrunk space uniformly. For NB201 it rejects disconnected children
// (no path 0→3 without `none`), as the authors' supernet training does, so it is uniform over the
// connected children.
type Uniform struct {
	sp   Space
	s    Shrunk
	r    *rand.Rand
	conn connecter
}

// NewUniform returns a uniform sampler over s seeded with seed. It fails if s is not a shrunk
// version of sp or, for NB201, if s has no connected child.
func NewUniform(sp Space, s Shrunk, seed uint64) (*Uniform, error) {
	if err := Validate(sp, s); err != nil {
		return nil, fmt.Errorf("uniform sampler: %w", err)
	}
	u := &Uniform{sp: sp, s: s.Clone(), r: NewRand(seed)}
	if c, ok := sp.(connecter); ok {
		if !c.CanConnect(s) {
			return nil, fmt.Errorf("uniform sampler: space %s: every child of the shrunk space is disconnected", sp.Name())
		}
		u.conn = c
	}
	return u, nil
}

// Next returns the next child.
func (u *Uniform) Next() Child {
	for {
		c := u.sp.Sample(u.s, u.r)
		if u.conn == nil || u.conn.Connected(c) {
			return c
		}
	}
}

// Fair is the FairNAS strict-fairness sampler: children come in rounds of m, m being the largest
// number of allowed ops at any choice point. Within a round, every choice point runs through a
// fresh random permutation of its allowed ops, so every allowed op of every choice point is active
// in exactly one child of the round. A choice point with k < m allowed ops concatenates
// ⌈m/k⌉ independent permutations and keeps the first m entries: each of its ops is active at least
// once and at most ⌈m/k⌉ times per round, and the counts differ by at most one. It does not reject
// disconnected NB201 children, since that would break the per-round guarantee.
//
// References:
//
//	Chu, X. et al. FairNAS: Rethinking Evaluation Fairness of Weight Sharing NAS, Algorithm 1.
type Fair struct {
	s     Shrunk
	r     *rand.Rand
	m     int
	round []Child
	next  int
}

// NewFair returns a strict-fairness sampler over s seeded with seed. The space must pick one op
// per choice point (NB201, ProxylessNAS, FairNAS); DARTS is refused.
func NewFair(sp Space, s Shrunk, seed uint64) (*Fair, error) {
	if _, ok := sp.(productSpace); !ok {
		return nil, fmt.Errorf("fair sampler: space %s does not pick one op per choice point", sp.Name())
	}
	if err := Validate(sp, s); err != nil {
		return nil, fmt.Errorf("fair sampler: %w", err)
	}
	m := 0
	for _, l := range s.Allowed {
		m = max(m, len(l))
	}
	return &Fair{s: s.Clone(), r: NewRand(seed), m: m}, nil
}

// RoundSize returns m, the number of children in one round.
func (f *Fair) RoundSize() int { return f.m }

// Next returns the next child of the current round, starting a new round when it is used up.
func (f *Fair) Next() Child {
	if f.next == len(f.round) {
		f.newRound()
	}
	c := f.round[f.next]
	f.next++
	return c.Clone()
}

func (f *Fair) newRound() {
	f.round = make([]Child, f.m)
	for i := range f.round {
		f.round[i] = make(Child, len(f.s.Allowed))
	}
	seq := make([]int, 0, 2*f.m)
	for p, l := range f.s.Allowed {
		seq = seq[:0]
		for len(seq) < f.m {
			for _, j := range f.r.Perm(len(l)) {
				seq = append(seq, l[j])
			}
		}
		for i := range f.round {
			f.round[i][p] = seq[i]
		}
	}
	f.next = 0
}

// PerCell samples NB201 supernet paths the way the NB201 authors' search cell does in forward_urs,
// the sampling the ABS authors trained their NB201 supernet with: every cell of the network draws
// its own ops at every step. Within a cell, node i = 1, 2, 3 draws one allowed op uniformly for
// each incoming edge (i←0 … i←i−1) and draws them all again while every one of them is `none`, so
// edge 1←0 is never `none` and every node depends on the input. A node whose incoming edges allow
// nothing but `none` keeps `none` on all of them (the authors' code would loop forever there).
// Next returns the cells' children concatenated: 6 op codes per cell, cell by cell.
//
// The probability of an op therefore differs from uniform: on the full space, P(none) on an edge
// into node 2 is 4/24 and every other op 5/24; into node 3, 24/124 and 25/124.
type PerCell struct {
	s     Shrunk
	cells int
	r     *rand.Rand
}

// NewPerCell returns a per-cell sampler over the shrunk NB201 space s for a network of cells
// searchable cells, seeded with seed.
func NewPerCell(s Shrunk, cells int, seed uint64) (*PerCell, error) {
	if err := Validate(NB201{}, s); err != nil {
		return nil, fmt.Errorf("per-cell sampler: %w", err)
	}
	if cells < 1 {
		return nil, fmt.Errorf("per-cell sampler: %d cells, want ≥ 1", cells)
	}
	return &PerCell{s: s.Clone(), cells: cells, r: NewRand(seed)}, nil
}

// nb201NodeEdges lists, per node 1..3, the range [first, last) of its incoming edges in NB201Edges.
var nb201NodeEdges = [3][2]int{{0, 1}, {1, 3}, {3, 6}}

// Next returns the ops of every cell, 6 per cell.
func (p *PerCell) Next() Child {
	c := make(Child, 0, 6*p.cells)
	for cell := 0; cell < p.cells; cell++ {
		for _, ed := range nb201NodeEdges {
			canLive := false
			for e := ed[0]; e < ed[1]; e++ {
				canLive = canLive || slices.ContainsFunc(p.s.Allowed[e], func(op int) bool { return op != NB201None })
			}
			start := len(c)
			for {
				c = c[:start]
				live := false
				for e := ed[0]; e < ed[1]; e++ {
					a := p.s.Allowed[e]
					op := a[p.r.IntN(len(a))]
					c = append(c, op)
					live = live || op != NB201None
				}
				if live || !canLive {
					break
				}
			}
		}
	}
	return c
}
