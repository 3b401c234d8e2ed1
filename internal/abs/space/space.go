// Package space defines the search spaces ABS shrinks: NAS-Bench-201, DARTS and the MobileNet-like
// spaces of ProxylessNAS (GPU) and FairNAS. A space names its operators, says which operators each
// choice point (an edge of a cell, or a layer) may take, counts and samples its children, encodes
// them, and counts their FLOPs. It does no I/O.
//
// References:
//
//	Hu, Y. et al. Angle-based Search Space Shrinking for Neural Architecture Search. ECCV 2020.
//	Dong, X., Yang, Y. NAS-Bench-201: Extending the Scope of Reproducible NAS. ICLR 2020.
//	Liu, H. et al. DARTS: Differentiable Architecture Search. ICLR 2019.
//	Cai, H. et al. ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware. ICLR 2019.
//	Chu, X. et al. FairNAS: Rethinking Evaluation Fairness of Weight Sharing NAS. ICCV 2021.
package space

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
)

// OpKind says how an operator enters the angle metric (Algorithm 1 of the ABS paper).
type OpKind int

const (
	// Zero is the `none` operator: it outputs zeros and cuts every path through its edge.
	Zero OpKind = iota
	// Identity has no weights and keeps paths (skip_connect, identity).
	Identity
	// Conv has trainable weights.
	Conv
	// Pool is average or max pooling: no weights, a constant kernel of 1/k² in the angle.
	Pool
)

// Op is one candidate operator of a space.
type Op struct {
	Name   string
	Kind   OpKind
	Kernel int // kernel size k; 0 for Zero and Identity
}

// Child is one architecture of a space: Child[i] is the op code chosen at choice point i.
type Child []int

// Clone returns a copy of c.
func (c Child) Clone() Child { return slices.Clone(c) }

// Shrunk is a (possibly shrunk) search space: Allowed[i] lists, in increasing order, the op codes
// that choice point i may still take. Every list is non-empty.
type Shrunk struct {
	Allowed [][]int
}

// Clone returns a deep copy of s.
func (s Shrunk) Clone() Shrunk {
	a := make([][]int, len(s.Allowed))
	for i, l := range s.Allowed {
		a[i] = slices.Clone(l)
	}
	return Shrunk{Allowed: a}
}

// Has reports whether choice point p may take op.
func (s Shrunk) Has(p, op int) bool {
	_, ok := slices.BinarySearch(s.Allowed[p], op)
	return ok
}

// NumOps returns the total number of (choice point, op) pairs still allowed.
func (s Shrunk) NumOps() int {
	n := 0
	for _, l := range s.Allowed {
		n += len(l)
	}
	return n
}

// Space is a search space.
type Space interface {
	// Name is the space's short name ("nb201", "darts", "proxyless-gpu", "fairnas").
	Name() string
	// Ops lists the operators in code order.
	Ops() []Op
	// Points is the number of choice points (edges or layers); a Child has this length.
	Points() int
	// PointName names choice point p ("edge3", "layer4").
	PointName(p int) string
	// Full returns the unshrunk space.
	Full() Shrunk
	// Size returns the number of distinct children of s.
	Size(s Shrunk) *big.Int
	// Sample draws a child of s at random using r: uniformly, unless the space documents the
	// rule of its authors' code (DARTS draws and repairs).
	Sample(s Shrunk, r *rand.Rand) Child
	// SampleAt draws a child of s that takes op at choice point p, by the rule of Sample
	// conditioned on p; op must be allowed at p. It returns nil when no child of s takes op at p
	// (possible only in DARTS).
	SampleAt(s Shrunk, p, op int, r *rand.Rand) Child
	// Enumerate calls fn for every child of s in a fixed order until fn returns false. The child
	// passed to fn is reused; clone it to keep it.
	Enumerate(s Shrunk, fn func(Child) bool)
	// Check returns an error unless c is a child of s.
	Check(s Shrunk, c Child) error
	// Format encodes a child as text; Parse decodes it.
	Format(c Child) string
	Parse(text string) (Child, error)
}

// OpCode returns the code of the op named name in sp, or an error.
func OpCode(sp Space, name string) (int, error) {
	for i, op := range sp.Ops() {
		if op.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("space %s has no op %q", sp.Name(), name)
}

// feasibler is implemented by spaces in which some shrunk spaces have no child (DARTS).
type feasibler interface {
	Feasible(Shrunk) error
}

// Validate returns an error unless s is a shrunk version of sp's full space: one non-empty,
// increasing list per choice point, each a subset of the full space's list, and, for spaces whose
// lists can rule out every child (DARTS), at least one child.
func Validate(sp Space, s Shrunk) error {
	full := sp.Full()
	if len(s.Allowed) != len(full.Allowed) {
		return fmt.Errorf("space %s: shrunk space has %d choice points, want %d", sp.Name(), len(s.Allowed), len(full.Allowed))
	}
	for p, l := range s.Allowed {
		if len(l) == 0 {
			return fmt.Errorf("space %s: %s has no allowed op", sp.Name(), sp.PointName(p))
		}
		for i, op := range l {
			if i > 0 && op <= l[i-1] {
				return fmt.Errorf("space %s: %s: allowed ops %v not strictly increasing", sp.Name(), sp.PointName(p), l)
			}
			if !full.Has(p, op) {
				return fmt.Errorf("space %s: %s: op code %d is not allowed there in the full space", sp.Name(), sp.PointName(p), op)
			}
		}
	}
	if f, ok := sp.(feasibler); ok {
		return f.Feasible(s)
	}
	return nil
}

// productSize is the size of a space whose children pick one allowed op per choice point.
func productSize(s Shrunk) *big.Int {
	n := big.NewInt(1)
	for _, l := range s.Allowed {
		n.Mul(n, big.NewInt(int64(len(l))))
	}
	return n
}

func productSample(s Shrunk, r *rand.Rand) Child {
	c := make(Child, len(s.Allowed))
	for p, l := range s.Allowed {
		c[p] = l[r.IntN(len(l))]
	}
	return c
}

func productSampleAt(s Shrunk, p, op int, r *rand.Rand) Child {
	c := productSample(s, r)
	c[p] = op
	return c
}

// productEnumerate visits all children in odometer order, the last choice point varying fastest.
func productEnumerate(s Shrunk, fn func(Child) bool) {
	n := len(s.Allowed)
	idx := make([]int, n)
	c := make(Child, n)
	for p := range c {
		c[p] = s.Allowed[p][0]
	}
	for {
		if !fn(c) {
			return
		}
		p := n - 1
		for ; p >= 0; p-- {
			idx[p]++
			if idx[p] < len(s.Allowed[p]) {
				c[p] = s.Allowed[p][idx[p]]
				break
			}
			idx[p] = 0
			c[p] = s.Allowed[p][0]
		}
		if p < 0 {
			return
		}
	}
}

func productCheck(sp Space, s Shrunk, c Child) error {
	if len(c) != len(s.Allowed) {
		return fmt.Errorf("space %s: child has %d choices, want %d", sp.Name(), len(c), len(s.Allowed))
	}
	for p, op := range c {
		if !s.Has(p, op) {
			return fmt.Errorf("space %s: %s: op code %d not allowed", sp.Name(), sp.PointName(p), op)
		}
	}
	return nil
}
