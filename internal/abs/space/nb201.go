package space

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
)

// NB201 op codes, in the benchmark's order.
const (
	NB201None = iota
	NB201Skip
	NB201Conv1x1
	NB201Conv3x3
	NB201AvgPool
)

// nb201Ops are the NAS-Bench-201 operators in code order.
var nb201Ops = []Op{
	{Name: "none", Kind: Zero},
	{Name: "skip_connect", Kind: Identity},
	{Name: "nor_conv_1x1", Kind: Conv, Kernel: 1},
	{Name: "nor_conv_3x3", Kind: Conv, Kernel: 3},
	{Name: "avg_pool_3x3", Kind: Pool, Kernel: 3},
}

// NB201Edges lists the 6 edges of an NB201 cell as (to, from) node pairs, in the order of the
// benchmark's arch string and of Child: (1←0),(2←0),(2←1),(3←0),(3←1),(3←2).
var NB201Edges = [6][2]int{{1, 0}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {3, 2}}

// NB201Paths lists the 4 paths from node 0 to node 3 as edge indices: 0→3, 0→2→3, 0→1→2→3, 0→1→3.
var NB201Paths = [][]int{{3}, {1, 5}, {0, 2, 5}, {0, 4}}

// NB201 is the NAS-Bench-201 cell space: 6 edges, 5 ops each, 15 625 children. A child is the 6 op
// codes of the edges in NB201Edges order; every cell of the network uses the same child.
type NB201 struct{}

// Name returns "nb201".
func (NB201) Name() string { return "nb201" }

// Ops returns none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3 (codes 0..4).
func (NB201) Ops() []Op { return nb201Ops }

// Points returns 6.
func (NB201) Points() int { return 6 }

// PointName returns "edge{p}".
func (NB201) PointName(p int) string { return "edge" + strconv.Itoa(p) }

// Full returns all 5 ops on all 6 edges.
func (NB201) Full() Shrunk {
	a := make([][]int, 6)
	for i := range a {
		a[i] = []int{0, 1, 2, 3, 4}
	}
	return Shrunk{Allowed: a}
}

// Size returns the product of the allowed-op counts.
func (NB201) Size(s Shrunk) *big.Int { return productSize(s) }

// Sample picks one allowed op per edge uniformly; it may return a disconnected child (see Connected).
func (NB201) Sample(s Shrunk, r *rand.Rand) Child { return productSample(s, r) }

// SampleAt draws uniformly among the children of s that take op on edge p.
func (NB201) SampleAt(s Shrunk, p, op int, r *rand.Rand) Child { return productSampleAt(s, p, op, r) }

// Enumerate visits all children, the last edge varying fastest.
func (NB201) Enumerate(s Shrunk, fn func(Child) bool) { productEnumerate(s, fn) }

// Check returns an error unless c takes an allowed op on every edge.
func (sp NB201) Check(s Shrunk, c Child) error { return productCheck(sp, s, c) }

// Connected reports whether some path from node 0 to node 3 has no `none` edge, that is whether the
// cell output depends on its input.
func (NB201) Connected(c Child) bool {
	for _, path := range NB201Paths {
		ok := true
		for _, e := range path {
			if c[e] == NB201None {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// CanConnect reports whether s has at least one connected child.
func (sp NB201) CanConnect(s Shrunk) bool {
	c := make(Child, 6)
	for p, l := range s.Allowed {
		c[p] = l[len(l)-1] // the largest code is never none unless none is the only op
	}
	return sp.Connected(c)
}

// Format writes the arch string exactly as the benchmark does, e.g.
// |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|.
func (NB201) Format(c Child) string {
	var b strings.Builder
	e := 0
	for node := 1; node <= 3; node++ {
		if node > 1 {
			b.WriteByte('+')
		}
		b.WriteByte('|')
		for in := 0; in < node; in++ {
			b.WriteString(nb201Ops[c[e]].Name)
			b.WriteByte('~')
			b.WriteString(strconv.Itoa(in))
			b.WriteByte('|')
			e++
		}
	}
	return b.String()
}

// Parse reads an arch string written as by Format.
func (sp NB201) Parse(text string) (Child, error) {
	nodes := strings.Split(text, "+")
	if len(nodes) != 3 {
		return nil, fmt.Errorf("nb201 arch string %q: got %d node groups, want 3", text, len(nodes))
	}
	c := make(Child, 0, 6)
	for i, g := range nodes {
		if len(g) < 2 || g[0] != '|' || g[len(g)-1] != '|' {
			return nil, fmt.Errorf("nb201 arch string %q: node %d group %q not enclosed in |", text, i+1, g)
		}
		ins := strings.Split(g[1:len(g)-1], "|")
		if len(ins) != i+1 {
			return nil, fmt.Errorf("nb201 arch string %q: node %d has %d inputs, want %d", text, i+1, len(ins), i+1)
		}
		for j, in := range ins {
			name, idx, ok := strings.Cut(in, "~")
			if !ok || idx != strconv.Itoa(j) {
				return nil, fmt.Errorf("nb201 arch string %q: node %d input %q, want op~%d", text, i+1, in, j)
			}
			code, err := OpCode(sp, name)
			if err != nil {
				return nil, fmt.Errorf("nb201 arch string %q: %w", text, err)
			}
			c = append(c, code)
		}
	}
	return c, nil
}

// NB201Net is the macro structure of an NB201 network: stem conv3×3 (3→C) + BN, N cells at C
// channels, a ResNet reduction block (C→2C, stride 2), N cells, a reduction block (2C→4C), N cells,
// BN+ReLU, global average pooling and a linear classifier. The official benchmark uses C=16, N=5 on
// 32×32 CIFAR images.
type NB201Net struct {
	C, N       int // channels of the first stage and cells per stage
	Resolution int // input height = width
	InChannels int // image channels (3 for CIFAR)
	Classes    int
}

// FLOPs returns the multiply-accumulate count of one forward pass of child c on one image,
// counting convolutions and the classifier only (BN, ReLU, pooling and additions are free), with
// every op of the cell counted whether or not its output reaches the cell output:
//
//	stem: 9·In·C·H²; per cell at width w and side h: Σ_edges w²·k²·h² over the edges whose op is
//	nor_conv_k×k; reduction block w→2w to side h/2: (9·w·2w + 9·2w·2w + w·2w)·(h/2)²
//	(conv_a, conv_b, 1×1 shortcut after a 2×2 average pool); classifier 4C·Classes.
func (n NB201Net) FLOPs(c Child) int64 {
	h := int64(n.Resolution)
	w := int64(n.C)
	total := 9 * int64(n.InChannels) * w * h * h
	var cell int64 // per unit w²h²
	for _, op := range c {
		switch op {
		case NB201Conv1x1:
			cell++
		case NB201Conv3x3:
			cell += 9
		}
	}
	for stage := 0; stage < 3; stage++ {
		if stage > 0 {
			h2 := (h + 1) / 2
			total += (9*w*2*w + 9*2*w*2*w + w*2*w) * h2 * h2
			w, h = 2*w, h2
		}
		total += int64(n.N) * cell * w * w * h * h
	}
	return total + w*int64(n.Classes)
}
