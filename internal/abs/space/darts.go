package space

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"slices"
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

// DARTS is the DARTS cell space as the ABS authors' code searches it (DARTS/shrinking:
// shrinking.py, train.py, utils/nas_utils.py check_cand): a child is ONE cell of 14 edges, each with
// one of the 8 ops, and every cell of the network, normal and reduce alike, runs it. A shrunk space
// is 14 op lists shared by all cells. An edge whose op is `none` is not an input of its node, and
// every intermediate node of a child keeps exactly two non-`none` inputs (all its other edges
// carry `none`), as check_cand repairs the children the authors draw.
//
// Because node 2 has only the two input edges (2←0) and (2←1), `none` never appears on them in a
// child: the ops (edge0, none) and (edge1, none) of the full space have no children, no score, and
// are the first ops the one-per-edge rule drops. An edge whose list no longer holds `none` must be
// an input of its node, and an edge whose list holds only `none` cannot be one; a shrunk space in
// which some node has more than two of the first kind or fewer than two edges that can be inputs
// has no child, and Validate refuses it (Feasible says which node); shrink.Step never makes a drop
// that leads there.
type DARTS struct{}

// Name returns "darts".
func (DARTS) Name() string { return "darts" }

// Ops returns the 8 DARTS ops in PRIMITIVES order.
func (DARTS) Ops() []Op { return dartsOps }

// Points returns 14.
func (DARTS) Points() int { return DARTSEdges }

// PointName returns "edge{e}".
func (DARTS) PointName(p int) string { return "edge" + strconv.Itoa(p) }

// Full allows all 8 ops on all 14 edges.
func (DARTS) Full() Shrunk {
	a := make([][]int, DARTSEdges)
	for i := range a {
		a[i] = []int{0, 1, 2, 3, 4, 5, 6, 7}
	}
	return Shrunk{Allowed: a}
}

// dartsNode is what the op lists of one intermediate node j allow: for each of its j input edges
// (edge DARTSEdge(i, j)), whether it may be `none` (not an input) and how many non-`none` ops it
// may take.
type dartsNode struct {
	j       int
	canNone []bool
	ops     []int // non-none op count per input i
}

func dartsNodeOf(s Shrunk, j int) dartsNode {
	n := dartsNode{j: j, canNone: make([]bool, j), ops: make([]int, j)}
	for i := 0; i < j; i++ {
		for _, o := range s.Allowed[DARTSEdge(i, j)] {
			if o == DARTSNone {
				n.canNone[i] = true
			} else {
				n.ops[i]++
			}
		}
	}
	return n
}

// pin restricts input i of the node to op alone.
func (n dartsNode) pin(i, op int) {
	n.canNone[i] = op == DARTSNone
	n.ops[i] = 0
	if op != DARTSNone {
		n.ops[i] = 1
	}
}

// count returns the number of ways the node keeps exactly two non-none inputs:
// Σ over input pairs {a, b} such that every other input may be none of ops(a)·ops(b).
func (n dartsNode) count() int64 {
	var sum int64
	for a := 0; a < n.j; a++ {
		for b := a + 1; b < n.j; b++ {
			if n.pairOK(a, b) {
				sum += int64(n.ops[a] * n.ops[b])
			}
		}
	}
	return sum
}

// pairOK reports whether inputs a and b can be the node's two inputs: both can take a non-none op
// and every other input can be none.
func (n dartsNode) pairOK(a, b int) bool {
	if n.ops[a] == 0 || n.ops[b] == 0 {
		return false
	}
	for i := 0; i < n.j; i++ {
		if i != a && i != b && !n.canNone[i] {
			return false
		}
	}
	return true
}

// feasible returns an error unless the node can keep two non-none inputs: at most two of its
// edges must be inputs (their lists lack none) and at least two can be (their lists hold another op).
func (n dartsNode) feasible() error {
	must, can := 0, 0
	for i := 0; i < n.j; i++ {
		if !n.canNone[i] {
			must++
		}
		if n.ops[i] > 0 {
			can++
		}
	}
	if must > 2 || can < 2 {
		return fmt.Errorf("space darts: node %d: %d of its input edges have no none and %d can take another op, want at most 2 and at least 2 (each node keeps exactly two non-none inputs)", n.j, must, can)
	}
	return nil
}

// Feasible returns an error naming the first node of s that cannot keep exactly two non-none
// inputs; s has children exactly when it returns nil. Validate calls it.
func (DARTS) Feasible(s Shrunk) error {
	for j := 2; j <= 5; j++ {
		if err := dartsNodeOf(s, j).feasible(); err != nil {
			return err
		}
	}
	return nil
}

// Size returns Π_nodes Σ_{a<b} n(a)·n(b) over the input pairs {a, b} of each node such that every
// other input edge allows none, n(i) being the number of non-none ops the edge from node i allows.
// The full space has 49⁴·(1·3·6·10) = 1 037 664 180 children; an infeasible space has 0. This is
// the number of distinct repaired children, not the product of the list lengths (8¹⁴ for the full
// space), which counts the draws before repair; the shrink threshold compares with it.
func (DARTS) Size(s Shrunk) *big.Int {
	n := big.NewInt(1)
	for j := 2; j <= 5; j++ {
		n.Mul(n, big.NewInt(dartsNodeOf(s, j).count()))
	}
	return n
}

// Sample draws a child by the authors' rule (check_cand): every edge draws one of its allowed ops
// uniformly, then each node 2..5 in turn is repaired to exactly two non-none inputs. A node with
// k > 2 non-none inputs sets k−2 of them to none, chosen uniformly among those whose list allows
// none; a node with k < 2 picks 2−k of its none edges uniformly among those whose list holds
// another op, and each draws one of its non-none ops uniformly. The result is a child of s, but
// not uniform over the children of s. s must pass Validate (Sample panics on a node that cannot
// be repaired, a programmer error).
func (sp DARTS) Sample(s Shrunk, r *rand.Rand) Child {
	c := sp.draw(s, -1, 0, r)
	if c == nil {
		panic("space darts: Sample on a space that fails Validate")
	}
	return c
}

// SampleAt draws a child by the rule of Sample with edge p fixed to op: p takes op in the first
// draw and the repair never changes it. It returns nil when no child of s takes op at p (always
// for none on the edges of node 2, whose two inputs are both needed).
func (sp DARTS) SampleAt(s Shrunk, p, op int, r *rand.Rand) Child { return sp.draw(s, p, op, r) }

func (DARTS) draw(s Shrunk, p, op int, r *rand.Rand) Child {
	c := make(Child, DARTSEdges)
	for e := range c {
		c[e] = s.Allowed[e][r.IntN(len(s.Allowed[e]))]
	}
	if p >= 0 {
		c[p] = op
	}
	var cands []int
	for j := 2; j <= 5; j++ {
		n := dartsNodeOf(s, j)
		if p >= DARTSEdge(0, j) && p < DARTSEdge(0, j)+j {
			n.pin(p-DARTSEdge(0, j), op)
		}
		if n.feasible() != nil {
			return nil
		}
		k := 0
		for i := 0; i < j; i++ {
			if c[DARTSEdge(i, j)] != DARTSNone {
				k++
			}
		}
		cands = cands[:0]
		for i := 0; i < j; i++ {
			e := DARTSEdge(i, j)
			switch {
			case e == p:
			case k > 2 && c[e] != DARTSNone && n.canNone[i]:
				cands = append(cands, e)
			case k < 2 && c[e] == DARTSNone && n.ops[i] > 0:
				cands = append(cands, e)
			}
		}
		perm := r.Perm(len(cands))
		switch {
		case k > 2:
			for _, x := range perm[:k-2] {
				c[cands[x]] = DARTSNone
			}
		case k < 2:
			for _, x := range perm[:2-k] {
				e := cands[x]
				l := s.Allowed[e][1:] // lists are increasing and this one holds none (code 0) first
				c[e] = l[r.IntN(len(l))]
			}
		}
	}
	return c
}

// Enumerate visits every child, node by node (node 2 first), input pairs in increasing order, ops
// in allowed order; the edges of a node that are not its two inputs carry none.
func (DARTS) Enumerate(s Shrunk, fn func(Child) bool) {
	c := make(Child, DARTSEdges)
	nodes := make([]dartsNode, 6)
	for j := 2; j <= 5; j++ {
		nodes[j] = dartsNodeOf(s, j)
	}
	nonNone := func(e int) []int {
		l := s.Allowed[e]
		if len(l) > 0 && l[0] == DARTSNone {
			return l[1:]
		}
		return l
	}
	var rec func(j int) bool
	rec = func(j int) bool {
		if j == 6 {
			return fn(c)
		}
		n := nodes[j]
		for a := 0; a < j; a++ {
			for b := a + 1; b < j; b++ {
				if !n.pairOK(a, b) {
					continue
				}
				for i := 0; i < j; i++ {
					c[DARTSEdge(i, j)] = DARTSNone
				}
				ea, eb := DARTSEdge(a, j), DARTSEdge(b, j)
				for _, x := range nonNone(ea) {
					for _, y := range nonNone(eb) {
						c[ea], c[eb] = x, y
						if !rec(j + 1) {
							return false
						}
					}
				}
			}
		}
		return true
	}
	rec(2)
}

// Check returns an error unless c has 14 ops allowed by s and every node keeps exactly two
// non-none inputs.
func (sp DARTS) Check(s Shrunk, c Child) error {
	if len(c) != DARTSEdges {
		return fmt.Errorf("space darts: child has %d choices, want %d (one cell of 14 edges shared by every cell)", len(c), DARTSEdges)
	}
	for p, o := range c {
		if !s.Has(p, o) {
			return fmt.Errorf("space darts: %s: op code %d not allowed", sp.PointName(p), o)
		}
	}
	for j := 2; j <= 5; j++ {
		k := 0
		for i := 0; i < j; i++ {
			if c[DARTSEdge(i, j)] != DARTSNone {
				k++
			}
		}
		if k != 2 {
			return fmt.Errorf("space darts: node %d has %d non-none inputs, want 2", j, k)
		}
	}
	return nil
}

// Format writes the child as a DARTS genotype, the notation of DARTS' genotypes.py, the normal and
// the reduce cell both being the child's one cell; each node lists its non-none inputs in
// increasing order:
// Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), …], normal_concat=[2, 3, 4, 5], reduce=[…the same…], reduce_concat=[2, 3, 4, 5]).
func (DARTS) Format(c Child) string {
	var cell strings.Builder
	first := true
	for j := 2; j <= 5; j++ {
		for i := 0; i < j; i++ {
			o := c[DARTSEdge(i, j)]
			if o == DARTSNone {
				continue
			}
			if !first {
				cell.WriteString(", ")
			}
			first = false
			fmt.Fprintf(&cell, "('%s', %d)", dartsOps[o].Name, i)
		}
	}
	l := cell.String()
	return "Genotype(normal=[" + l + "], normal_concat=[2, 3, 4, 5], reduce=[" + l + "], reduce_concat=[2, 3, 4, 5])"
}

var (
	genotypeRE = regexp.MustCompile(`^\s*Genotype\(\s*normal\s*=\s*\[(.*?)\]\s*,\s*normal_concat\s*=\s*(range\(\s*2\s*,\s*6\s*\)|\[\s*2\s*,\s*3\s*,\s*4\s*,\s*5\s*\])\s*,\s*reduce\s*=\s*\[(.*?)\]\s*,\s*reduce_concat\s*=\s*(range\(\s*2\s*,\s*6\s*\)|\[\s*2\s*,\s*3\s*,\s*4\s*,\s*5\s*\])\s*\)\s*$`)
	pairRE     = regexp.MustCompile(`^\(\s*'([a-z0-9_]+)'\s*,\s*([0-9]+)\s*\)$`)
)

// Parse reads a DARTS genotype: each cell lists 8 (op, input) pairs, two per node 2..5 in node
// order, in any order within a node, none of them `none`; the concat must be [2, 3, 4, 5] or
// range(2, 6). The reduce cell must be the normal cell (as sets of pairs per node), since a child
// of this space is one cell used by every cell; a genotype with a reduce cell of its own is an
// error.
func (sp DARTS) Parse(text string) (Child, error) {
	m := genotypeRE.FindStringSubmatch(text)
	if m == nil {
		return nil, fmt.Errorf("darts genotype %q: want Genotype(normal=[...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])", text)
	}
	var cells [2]Child
	for cell, list := range []string{m[1], m[3]} {
		name := []string{"normal", "reduce"}[cell]
		c := make(Child, DARTSEdges) // all none
		items := splitPairs(list)
		if len(items) != 8 {
			return nil, fmt.Errorf("darts genotype: %s cell has %d (op, input) pairs, want 8", name, len(items))
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
			if op == DARTSNone {
				return nil, fmt.Errorf("darts genotype: %s node %d has a none input, want two non-none inputs", name, j)
			}
			in, _ := strconv.Atoi(pm[2])
			if in >= j {
				return nil, fmt.Errorf("darts genotype: %s node %d reads node %d, want an earlier node", name, j, in)
			}
			p := DARTSEdge(in, j)
			if c[p] != DARTSNone {
				return nil, fmt.Errorf("darts genotype: %s node %d reads node %d twice", name, j, in)
			}
			c[p] = op
		}
		cells[cell] = c
	}
	if !slices.Equal(cells[0], cells[1]) {
		return nil, fmt.Errorf("darts genotype: reduce cell %s differs from normal cell %s: this space's child is one cell used by every cell, normal and reduce alike", sp.Format(cells[1]), sp.Format(cells[0]))
	}
	return cells[0], nil
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

// DARTSCell reports whether cell l of a DARTS network of cells cells is a reduce cell, the one
// place the layout is computed: the cells at cells/3 and 2·cells/3 are reduce cells (DARTS' rule),
// which double the width and halve the side. Every cell, normal or reduce, runs the child's one
// 14-edge cell.
func DARTSCell(l, cells int) (reduce bool) { return l == cells/3 || l == 2*cells/3 }

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
// stride-2 edge (FactorizedReduce) w²·h²; none, pooling and stride-1 skip 0. Every cell runs the
// child's one cell.
func (n DARTSNet) FLOPs(c Child) int64 {
	cs := int64(3 * n.C)
	h := int64(n.Resolution)
	total := 9 * int64(n.InChannels) * cs * h * h
	cpp, cp, w := cs, cs, int64(n.C)
	hpp := h // side of s0
	redPrev := false
	for l := 0; l < n.Layers; l++ {
		red := DARTSCell(l, n.Layers)
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
				o := c[DARTSEdge(i, j)]
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
