package space

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
)

// DARTS op codes, in the order of DARTS' PRIMITIVES.
const (
	DARTSNone = iota
	DARTSMaxPool
	DARTSAvgPool
	DARTSSkip
	DARTSSepConv3
	DARTSSepConv5
	DARTSDilConv3
	DARTSDilConv5
)

var dartsOps = []Op{
	{Name: "none", Kind: Zero},
	{Name: "max_pool_3x3", Kind: Pool, Kernel: 3},
	{Name: "avg_pool_3x3", Kind: Pool, Kernel: 3},
	{Name: "skip_connect", Kind: Identity},
	{Name: "sep_conv_3x3", Kind: Conv, Kernel: 3},
	{Name: "sep_conv_5x5", Kind: Conv, Kernel: 5},
	{Name: "dil_conv_3x3", Kind: Conv, Kernel: 3},
	{Name: "dil_conv_5x5", Kind: Conv, Kernel: 5},
}

// DARTSEdges is the number of edges of a DARTS cell: node j ∈ 2..5 reads every earlier node.
const DARTSEdges = 14

// dartsFirst[j] is the index of the edge (j←0); edge (j←i) is dartsFirst[j]+i.
var dartsFirst = [6]int{-1, -1, 0, 2, 5, 9}

// DARTSEdge returns the index of the edge from node i into node j (0 ≤ i < j, 2 ≤ j ≤ 5), in the
// order node 2's inputs 0,1, node 3's inputs 0,1,2, and so on.
func DARTSEdge(i, j int) int { return dartsFirst[j] + i }

// DARTSPaths lists the 16 paths of a DARTS cell as edge indices: from input node 0 or 1 through
// increasing intermediate nodes to node 5 (0→2→3→4→5, 0→2→3→5, …, 0→5, then the same from 1).
var DARTSPaths = dartsPaths()

func dartsPaths() [][]int {
	var paths [][]int
	for in := 0; in < 2; in++ {
		// Subsets of {2,3,4} in the order the design lists them: 234, 23, 24, 2, 34, 3, 4, ∅.
		for _, mid := range [][]int{{2, 3, 4}, {2, 3}, {2, 4}, {2}, {3, 4}, {3}, {4}, {}} {
			nodes := append(append([]int{in}, mid...), 5)
			var p []int
			for k := 1; k < len(nodes); k++ {
				p = append(p, DARTSEdge(nodes[k-1], nodes[k]))
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// DARTS is the DARTS cell space: a normal and a reduce cell, each with 14 edges and 8 ops; in a
// child every intermediate node keeps exactly 2 of its input edges, each with one op. A child has
// 28 choice points, the 14 edges of the normal cell then the 14 of the reduce cell; an edge that its
// node does not keep is Absent. The two cell types are shrunk separately, so a shrunk space holds
// 28 allowed-op lists. `none` is an ordinary op here: a kept edge may carry it when it is allowed.
type DARTS struct{}

// Name returns "darts".
func (DARTS) Name() string { return "darts" }

// Ops returns the 8 DARTS ops in PRIMITIVES order.
func (DARTS) Ops() []Op { return dartsOps }

// Points returns 28.
func (DARTS) Points() int { return 2 * DARTSEdges }

// PointName returns "normal.edge{e}" or "reduce.edge{e}".
func (DARTS) PointName(p int) string {
	if p < DARTSEdges {
		return "normal.edge" + strconv.Itoa(p)
	}
	return "reduce.edge" + strconv.Itoa(p-DARTSEdges)
}

// Full allows all 8 ops on all 28 edges.
func (DARTS) Full() Shrunk {
	a := make([][]int, 2*DARTSEdges)
	for i := range a {
		a[i] = []int{0, 1, 2, 3, 4, 5, 6, 7}
	}
	return Shrunk{Allowed: a}
}

// Size returns Π_cells Π_nodes Σ_{i<i'} |A(i)|·|A(i')|, A(i) being the allowed ops of the edge from
// node i. The full space has (8⁸·1·3·6·10)² = 3 019 898 880² ≈ 9.12·10¹⁸ children, and
// (7⁸·180)² ≈ 1.08·10¹⁸ without `none`.
func (DARTS) Size(s Shrunk) *big.Int {
	n := big.NewInt(1)
	for cell := 0; cell < 2; cell++ {
		for j := 2; j <= 5; j++ {
			var sum int64
			for i := 0; i < j; i++ {
				for k := i + 1; k < j; k++ {
					sum += int64(len(s.Allowed[cell*DARTSEdges+DARTSEdge(i, j)]) * len(s.Allowed[cell*DARTSEdges+DARTSEdge(k, j)]))
				}
			}
			n.Mul(n, big.NewInt(sum))
		}
	}
	return n
}

// Sample draws a child uniformly: for every node, a pair of inputs with probability proportional
// to the number of op combinations it allows, then an allowed op per kept edge.
func (sp DARTS) Sample(s Shrunk, r *rand.Rand) Child { return sp.SampleAt(s, -1, 0, r) }

// SampleAt draws uniformly among the children of s that keep edge p with op: the node of p picks
// one of the input pairs containing p, weighted by the op count of the other edge; every other
// node samples as in Sample. A negative p conditions on nothing.
func (DARTS) SampleAt(s Shrunk, p, op int, r *rand.Rand) Child {
	c := make(Child, 2*DARTSEdges)
	for i := range c {
		c[i] = Absent
	}
	for cell := 0; cell < 2; cell++ {
		off := cell * DARTSEdges
		for j := 2; j <= 5; j++ {
			// fixed is the edge of this node that must be kept, or -1.
			fixed := -1
			if p >= off+DARTSEdge(0, j) && p < off+DARTSEdge(0, j)+j {
				fixed = p
			}
			count := func(e int) int {
				if e == fixed {
					return 1
				}
				return len(s.Allowed[e])
			}
			var sum int
			for i := 0; i < j; i++ {
				for k := i + 1; k < j; k++ {
					ei, ek := off+DARTSEdge(i, j), off+DARTSEdge(k, j)
					if fixed < 0 || ei == fixed || ek == fixed {
						sum += count(ei) * count(ek)
					}
				}
			}
			x := r.IntN(sum)
		pick:
			for i := 0; i < j; i++ {
				for k := i + 1; k < j; k++ {
					ei, ek := off+DARTSEdge(i, j), off+DARTSEdge(k, j)
					if fixed >= 0 && ei != fixed && ek != fixed {
						continue
					}
					a, b := s.Allowed[ei], s.Allowed[ek]
					if ei == fixed {
						a = []int{op}
					}
					if ek == fixed {
						b = []int{op}
					}
					if x < len(a)*len(b) {
						c[off+DARTSEdge(i, j)] = a[r.IntN(len(a))]
						c[off+DARTSEdge(k, j)] = b[r.IntN(len(b))]
						break pick
					}
					x -= len(a) * len(b)
				}
			}
		}
	}
	return c
}

// Enumerate visits every child, node by node (normal node 2 first), input pairs in increasing
// order, ops in allowed order.
func (DARTS) Enumerate(s Shrunk, fn func(Child) bool) {
	c := make(Child, 2*DARTSEdges)
	for i := range c {
		c[i] = Absent
	}
	var rec func(node int) bool // node 0..7: cell node/4, intermediate node 2+node%4
	rec = func(node int) bool {
		if node == 8 {
			return fn(c)
		}
		off, j := (node/4)*DARTSEdges, 2+node%4
		for i := 0; i < j; i++ {
			for k := i + 1; k < j; k++ {
				ei, ek := off+DARTSEdge(i, j), off+DARTSEdge(k, j)
				for _, a := range s.Allowed[ei] {
					for _, b := range s.Allowed[ek] {
						c[ei], c[ek] = a, b
						if !rec(node + 1) {
							return false
						}
					}
				}
				c[ei], c[ek] = Absent, Absent
			}
		}
		return true
	}
	rec(0)
}

// Check returns an error unless every node of both cells keeps exactly 2 inputs with allowed ops.
func (sp DARTS) Check(s Shrunk, c Child) error {
	if len(c) != 2*DARTSEdges {
		return fmt.Errorf("space darts: child has %d choices, want %d", len(c), 2*DARTSEdges)
	}
	for cell := 0; cell < 2; cell++ {
		for j := 2; j <= 5; j++ {
			kept := 0
			for i := 0; i < j; i++ {
				p := cell*DARTSEdges + DARTSEdge(i, j)
				if c[p] == Absent {
					continue
				}
				kept++
				if !s.Has(p, c[p]) {
					return fmt.Errorf("space darts: %s: op code %d not allowed", sp.PointName(p), c[p])
				}
			}
			if kept != 2 {
				return fmt.Errorf("space darts: %s node %d keeps %d inputs, want 2", []string{"normal", "reduce"}[cell], j, kept)
			}
		}
	}
	return nil
}

// Format writes the child as a DARTS genotype, the form of DARTS' genotypes.py, each node's two
// inputs in increasing order:
// Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), …], normal_concat=range(2, 6), reduce=[…], reduce_concat=range(2, 6)).
func (DARTS) Format(c Child) string {
	var b strings.Builder
	b.WriteString("Genotype(")
	for cell, name := range []string{"normal", "reduce"} {
		if cell > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name + "=[")
		first := true
		for j := 2; j <= 5; j++ {
			for i := 0; i < j; i++ {
				o := c[cell*DARTSEdges+DARTSEdge(i, j)]
				if o == Absent {
					continue
				}
				if !first {
					b.WriteString(", ")
				}
				first = false
				fmt.Fprintf(&b, "('%s', %d)", dartsOps[o].Name, i)
			}
		}
		b.WriteString("], " + name + "_concat=range(2, 6)")
	}
	b.WriteString(")")
	return b.String()
}

var (
	genotypeRE = regexp.MustCompile(`^\s*Genotype\(\s*normal\s*=\s*\[(.*?)\]\s*,\s*normal_concat\s*=\s*(range\(\s*2\s*,\s*6\s*\)|\[\s*2\s*,\s*3\s*,\s*4\s*,\s*5\s*\])\s*,\s*reduce\s*=\s*\[(.*?)\]\s*,\s*reduce_concat\s*=\s*(range\(\s*2\s*,\s*6\s*\)|\[\s*2\s*,\s*3\s*,\s*4\s*,\s*5\s*\])\s*\)\s*$`)
	pairRE     = regexp.MustCompile(`^\(\s*'([a-z0-9_]+)'\s*,\s*([0-9]+)\s*\)$`)
)

// Parse reads a DARTS genotype: each cell lists 8 (op, input) pairs, two per node 2..5 in node
// order, in any order within a node; the concat must be range(2, 6) or [2, 3, 4, 5].
func (sp DARTS) Parse(text string) (Child, error) {
	m := genotypeRE.FindStringSubmatch(text)
	if m == nil {
		return nil, fmt.Errorf("darts genotype %q: want Genotype(normal=[...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))", text)
	}
	c := make(Child, 2*DARTSEdges)
	for i := range c {
		c[i] = Absent
	}
	for cell, list := range []string{m[1], m[3]} {
		items := splitPairs(list)
		if len(items) != 8 {
			return nil, fmt.Errorf("darts genotype: %s cell has %d (op, input) pairs, want 8", []string{"normal", "reduce"}[cell], len(items))
		}
		for k, it := range items {
			pm := pairRE.FindStringSubmatch(it)
			if pm == nil {
				return nil, fmt.Errorf("darts genotype: pair %q, want ('op', input)", it)
			}
			op, err := OpCode(sp, pm[1])
			if err != nil {
				return nil, fmt.Errorf("darts genotype: %w", err)
			}
			j := 2 + k/2
			in, _ := strconv.Atoi(pm[2])
			if in >= j {
				return nil, fmt.Errorf("darts genotype: node %d reads node %d, want an earlier node", j, in)
			}
			p := cell*DARTSEdges + DARTSEdge(in, j)
			if c[p] != Absent {
				return nil, fmt.Errorf("darts genotype: node %d reads node %d twice", j, in)
			}
			c[p] = op
		}
	}
	return c, nil
}

// splitPairs splits "('a', 0), ('b', 1)" into its parenthesised items.
func splitPairs(s string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range s {
		switch r {
		case '(':
			if depth == 0 {
				start = i
			}
			depth++
		case ')':
			depth--
			if depth == 0 && start >= 0 {
				out = append(out, s[start:i+1])
				start = -1
			}
		}
	}
	return out
}

// DARTSCell is the layout of cell l of a DARTS network of cells cells, the one place it is
// computed: the cells at cells/3 and 2·cells/3 are reduce cells (DARTS' rule), which double the
// width and halve the side; First is the child's first choice point the cell reads (its edge e
// reads First+e): 0 for a normal cell, DARTSEdges for a reduce cell.
func DARTSCell(l, cells int) (reduce bool, first int) {
	if l == cells/3 || l == 2*cells/3 {
		return true, DARTSEdges
	}
	return false, 0
}

// DARTSNet is the evaluation network a DARTS genotype is trained in (DARTS' NetworkCIFAR without
// the auxiliary head): a stem conv3×3 In→3C + BN, Layers cells of which those DARTSCell names
// are reduce cells that double the width and halve the resolution, global average
// pooling and a linear classifier on the last cell's 4·width outputs.
type DARTSNet struct {
	C, Layers  int
	Resolution int // input side; must be divisible by 4
	InChannels int
	Classes    int
}

// FLOPs returns the multiply-accumulates of one forward pass on one image, counting convolutions
// and the classifier (BN, ReLU, pooling, additions free). Per cell at width w, with h the side of
// the cell output: preprocessing 1×1 convs (w_in·w·h_in² each; FactorizedReduce w_in·w·h² after a
// reduce cell); sep_conv_k 2·(w·k² + w²)·h²; dil_conv_k (w·k² + w²)·h²; skip_connect on a
// stride-2 edge (FactorizedReduce) w²·h²; none, pooling and stride-1 skip 0. Absent edges cost 0.
func (n DARTSNet) FLOPs(c Child) int64 {
	cs := int64(3 * n.C)
	h := int64(n.Resolution)
	total := 9 * int64(n.InChannels) * cs * h * h
	cpp, cp, w := cs, cs, int64(n.C)
	hpp := h // side of s0
	redPrev := false
	for l := 0; l < n.Layers; l++ {
		red, off := DARTSCell(l, n.Layers)
		if red {
			w *= 2
		}
		if redPrev {
			total += cpp * w * h * h // FactorizedReduce from hpp = 2h to h
		} else {
			total += cpp * w * hpp * hpp
		}
		total += cp * w * h * h
		ho := h
		if red {
			ho = h / 2
		}
		for j := 2; j <= 5; j++ {
			for i := 0; i < j; i++ {
				o := c[off+DARTSEdge(i, j)]
				stride2 := red && i < 2
				switch o {
				case DARTSSepConv3, DARTSSepConv5:
					k := int64(dartsOps[o].Kernel)
					total += 2 * (w*k*k + w*w) * ho * ho
				case DARTSDilConv3, DARTSDilConv5:
					k := int64(dartsOps[o].Kernel)
					total += (w*k*k + w*w) * ho * ho
				case DARTSSkip:
					if stride2 {
						total += w * w * ho * ho
					}
				}
			}
		}
		hpp = h
		h = ho
		cpp, cp = cp, 4*w
		redPrev = red
	}
	return total + cp*int64(n.Classes)
}
