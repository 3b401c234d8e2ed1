package space

import (
	"fmt"
	"math/rand/v2"
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
