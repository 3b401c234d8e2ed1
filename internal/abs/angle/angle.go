// Package angle computes the angle-based metric of ABS: the angle between the weight vector of a
// child model under the base (initial) weights and under the current weights of a supernet,
//
//	θ = arccos(<V0,V> / (‖V0‖·‖V‖)),
//
// where V0 and V are built by Algorithm 1 of the paper: for every searchable cell (or the single
// chain of a MobileNet-like net), for every path from the cell input to its output that crosses no
// `none` op, the weights of the ops on the path are concatenated; pooling contributes a constant
// [C_out,k,k] tensor filled with 1/k², identity contributes nothing; every fixed (non-searchable)
// trainable parameter is appended once. A larger angle means a better child.
//
// Because V0 and V are concatenations, <V0,V>, ‖V0‖² and ‖V‖² are sums over (cell, edge, op) of the
// per-op inner product and squared norms, each multiplied by the number of uncut paths through the
// edge. Stats computes the per-op terms once per weight pair; each child then costs O(paths·edges).
// Naive builds the vectors literally and is the reference the fast path is tested against.
//
// Weights are read by name as docs/weights.md says. The package does no I/O.
//
// References:
//
//	Hu, Y. et al. Angle-based Search Space Shrinking for Neural Architecture Search. ECCV 2020,
//	Algorithm 1 and Eq. (1)-(2).
package angle

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Graph is the path structure of one kind of searchable unit (a cell, or the chain of layers).
// Units of a Net that share the same *Graph are summed into one table by Stats, so give all cells
// of one kind the same pointer.
type Graph struct {
	// Edges names each edge's parameter component ("edge3", "layer7") and the choice point of the
	// child that sets its op.
	Edges []Edge
	// Paths lists every input-to-output path as edge indices.
	Paths [][]int
}

// Edge is one edge of a Graph.
type Edge struct {
	Name string // parameter name component, e.g. "edge5" or "layer4"
	Slot int    // index into space.Child
}

// Unit is one searchable cell or chain of the network.
type Unit struct {
	// Prefix is the parameter-name prefix of the unit ("cell3"); empty for MobileNet-like layers,
	// whose parameters are named "layer{l}.{op}.{part}". The weights of op o on edge e are all
	// parameters named Prefix + "." + e.Name + "." + o.Name + "." + part (without the leading
	// Prefix + "." when Prefix is empty).
	Prefix string
	// Channels is the unit's output channel count C_out, the size of the pooling tensor [C_out,k,k].
	Channels int
	Graph    *Graph
}

// Net describes a supernet to the angle metric: its operators (in code order, from the space) and
// its searchable units in forward order. Everything else in a param.Set is a fixed weight.
type Net struct {
	Ops   []space.Op
	Units []Unit
}

// NB201 returns the Net of an NB201 supernet with C channels in the first stage and n cells per
// stage: 3n cells named cell0 … cell{3n-1}, the cells of stage s having C·2^s channels, all reading
// the same child.
func NB201(c, n int) Net {
	g := &Graph{Paths: space.NB201Paths}
	for e := range 6 {
		g.Edges = append(g.Edges, Edge{Name: fmt.Sprintf("edge%d", e), Slot: e})
	}
	net := Net{Ops: space.NB201{}.Ops()}
	for i := range 3 * n {
		net.Units = append(net.Units, Unit{Prefix: fmt.Sprintf("cell%d", i), Channels: c << (i / n), Graph: g})
	}
	return net
}

// DARTS returns the Net of a DARTS search supernet with c channels in the first cells and the
// given number of cells (the authors' CIFAR-10 supernet: c=16, 8 cells): cells cell0 … laid out
// as space.DARTSCell says (normal, or reduce cells that double the width), all running the
// child's one 14-edge cell, so they share one Graph. The 16 paths of each cell run from an input
// node through increasing intermediate nodes to node 5 (space.DARTSPaths). Weights found under an
// op without weights of its own, such as the FactorizedReduce of skip_connect on a stride-2 edge,
// are appended like any other op weights.
func DARTS(c, layers int) Net {
	g := &Graph{Paths: space.DARTSPaths}
	for e := range space.DARTSEdges {
		g.Edges = append(g.Edges, Edge{Name: fmt.Sprintf("edge%d", e), Slot: e})
	}
	net := Net{Ops: space.DARTS{}.Ops()}
	w := c
	for i := range layers {
		if space.DARTSCell(i, layers) {
			w *= 2
		}
		net.Units = append(net.Units, Unit{Prefix: fmt.Sprintf("cell%d", i), Channels: w, Graph: g})
	}
	return net
}

// Mobile returns the Net of a MobileNet-like supernet (ProxylessNAS or FairNAS): one chain whose
// edges are the layers, named "layer{l}" with no prefix, and a single path through all of them, so
// each MBConv appends its parts (expand, dw, project) and identity appends nothing. The stem, the
// fixed first block, the last 1×1 conv and the classifier are fixed weights.
func Mobile(m space.Mobile) Net {
	g := &Graph{}
	path := make([]int, m.Points())
	for l := range m.Points() {
		g.Edges = append(g.Edges, Edge{Name: fmt.Sprintf("layer%d", l), Slot: l})
		path[l] = l
	}
	g.Paths = [][]int{path}
	return Net{Ops: m.Ops(), Units: []Unit{{Graph: g}}}
}

// Product holds the three sums the angle needs: Dot = <V0,V>, Base = ‖V0‖², Cur = ‖V‖².
type Product struct {
	Dot, Base, Cur float64
}

// Angle returns arccos(Dot/√(Base·Cur)) in radians, the cosine clamped to [-1,1] against rounding.
// If either vector is zero (no fixed weights and every path cut by `none`, or all weights zero) the
// angle is undefined; Angle then returns 0, the smallest angle, so such a child ranks last.
func (p Product) Angle() float64 {
	if p.Base == 0 || p.Cur == 0 {
		return 0
	}
	c := p.Dot / math.Sqrt(p.Base*p.Cur)
	return math.Acos(max(-1, min(1, c)))
}

func (p *Product) add(q Product, k float64) {
	p.Dot += k * q.Dot
	p.Base += k * q.Base
	p.Cur += k * q.Cur
}

var searchable = regexp.MustCompile(`^(cell|layer)[0-9]`)

// isFixed reports whether a parameter is a fixed weight that is always appended.
func isFixed(name string) bool {
	return !searchable.MatchString(name) && !strings.HasPrefix(name, "buffer.") && !strings.HasPrefix(name, "momentum.")
}

func ignored(name string) bool {
	return strings.HasPrefix(name, "buffer.") || strings.HasPrefix(name, "momentum.")
}

func opPrefix(u Unit, e Edge, op space.Op) string {
	if u.Prefix == "" {
		return e.Name + "." + op.Name + "."
	}
	return u.Prefix + "." + e.Name + "." + op.Name + "."
}

func checkPair(base, cur param.Set) error {
	for name, t0 := range base {
		if ignored(name) {
			continue
		}
		t, ok := cur[name]
		if !ok {
			return fmt.Errorf("parameter %q is in the base weights but not in the current weights", name)
		}
		if len(t.Data) != len(t0.Data) {
			return fmt.Errorf("parameter %q has %d base values but %d current values", name, len(t0.Data), len(t.Data))
		}
	}
	for name := range cur {
		if _, ok := base[name]; !ok && !ignored(name) {
			return fmt.Errorf("parameter %q is in the current weights but not in the base weights", name)
		}
	}
	return nil
}

func product(a, b []float32) Product {
	var p Product
	for i, x := range a {
		x0, x1 := float64(x), float64(b[i])
		p.Dot += x0 * x1
		p.Base += x0 * x0
		p.Cur += x1 * x1
	}
	return p
}

// poolProduct is the contribution of the constant [c,k,k] tensor of 1/k², identical in V0 and V:
// c·k² entries of 1/k² give c/k² for the inner product and both squared norms.
func poolProduct(c, k int) Product {
	v := float64(c) / float64(k*k)
	return Product{Dot: v, Base: v, Cur: v}
}

// Stats holds the per-op terms of one (base, current) weight pair; it is read-only after Compute
// and safe for concurrent use.
type Stats struct {
	ops    []space.Op
	fixed  Product
	groups []group
	slots  int // smallest valid child length
}

type group struct {
	g     *Graph
	terms [][]Product // [edge][op], summed over the units sharing g
}

// Compute returns the per-op terms of net for the weights base (V0) and cur (V). It fails if the
// two sets do not hold the same parameters with the same sizes, if a parameter named like a
// searchable weight matches no (unit, edge, op) of net, or if an op with weights has none.
func Compute(net Net, base, cur param.Set) (*Stats, error) {
	if err := checkPair(base, cur); err != nil {
		return nil, fmt.Errorf("angle stats: %w", err)
	}
	type where struct{ g, e, o int }
	index := map[string]where{}
	s := &Stats{ops: net.Ops}
	gi := map[*Graph]int{}
	for _, u := range net.Units {
		k, ok := gi[u.Graph]
		if !ok {
			k = len(s.groups)
			gi[u.Graph] = k
			terms := make([][]Product, len(u.Graph.Edges))
			for e := range terms {
				terms[e] = make([]Product, len(net.Ops))
			}
			s.groups = append(s.groups, group{g: u.Graph, terms: terms})
			for _, e := range u.Graph.Edges {
				s.slots = max(s.slots, e.Slot+1)
			}
		}
		for e, edge := range u.Graph.Edges {
			for o, op := range net.Ops {
				index[opPrefix(u, edge, op)] = where{k, e, o}
				if op.Kind == space.Pool {
					s.groups[k].terms[e][o].add(poolProduct(u.Channels, op.Kernel), 1)
				}
			}
		}
	}
	found := map[string]bool{}
	// Summed in name order: floating-point addition is not associative, and map order is random,
	// so any other order would change the last bits of the angles from run to run.
	for _, name := range slices.Sorted(maps.Keys(base)) {
		if ignored(name) {
			continue
		}
		p := product(base[name].Data, cur[name].Data)
		if isFixed(name) {
			s.fixed.add(p, 1)
			continue
		}
		var w where
		ok := false
		for i := 0; i < len(name) && !ok; i++ {
			if name[i] == '.' {
				w, ok = index[name[:i+1]]
				if ok {
					found[name[:i+1]] = true
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("angle stats: parameter %q matches no searchable op of the net", name)
		}
		s.groups[w.g].terms[w.e][w.o].add(p, 1)
	}
	for _, u := range net.Units {
		for _, edge := range u.Graph.Edges {
			for _, op := range net.Ops {
				if pre := opPrefix(u, edge, op); op.Kind == space.Conv && !found[pre] {
					return nil, fmt.Errorf("angle stats: no weights named %s* for op %s", pre, op.Name)
				}
			}
		}
	}
	return s, nil
}

// cut reports whether op code o cuts the paths through its edge.
func (s *Stats) cut(o int) bool { return s.ops[o].Kind == space.Zero }

// Product returns <V0,V>, ‖V0‖² and ‖V‖² of child c. It fails if c is too short or holds an op
// code outside the net's ops.
func (s *Stats) Product(c space.Child) (Product, error) {
	if len(c) < s.slots {
		return Product{}, fmt.Errorf("angle: child has %d choices, net reads %d", len(c), s.slots)
	}
	for _, o := range c {
		if o < 0 || o >= len(s.ops) {
			return Product{}, fmt.Errorf("angle: child %v has op code %d outside 0..%d", c, o, len(s.ops)-1)
		}
	}
	p := s.fixed
	var buf [64]int
	for gi := range s.groups {
		g := &s.groups[gi]
		n := len(g.g.Edges)
		var count []int
		if n <= len(buf) {
			count = buf[:n]
			clear(count)
		} else {
			count = make([]int, n)
		}
	paths:
		for _, path := range g.g.Paths {
			for _, e := range path {
				if s.cut(c[g.g.Edges[e].Slot]) {
					continue paths
				}
			}
			for _, e := range path {
				count[e]++
			}
		}
		for e, k := range count {
			if k > 0 {
				p.add(g.terms[e][c[g.g.Edges[e].Slot]], float64(k))
			}
		}
	}
	return p, nil
}

// Angle returns the angle of child c; see Product.Angle for the degenerate case.
func (s *Stats) Angle(c space.Child) (float64, error) {
	p, err := s.Product(c)
	if err != nil {
		return 0, err
	}
	return p.Angle(), nil
}

// Naive builds V0 and V of child c literally, as Algorithm 1 describes, and returns their
// products. It is the slow reference for Stats: for each unit in order, for each path in order
// that no `none` op cuts, for each edge on the path, it appends the op's parameters in sorted name
// order (and the pooling constant for pooling ops); then it appends the fixed parameters in sorted
// name order.
func Naive(net Net, base, cur param.Set, c space.Child) (Product, error) {
	if err := checkPair(base, cur); err != nil {
		return Product{}, fmt.Errorf("naive angle: %w", err)
	}
	names := base.Names()
	var v0, v []float64
	appendParam := func(name string) {
		for _, x := range base[name].Data {
			v0 = append(v0, float64(x))
		}
		for _, x := range cur[name].Data {
			v = append(v, float64(x))
		}
	}
	for _, u := range net.Units {
		for _, path := range u.Graph.Paths {
			alive := true
			for _, e := range path {
				o := c[u.Graph.Edges[e].Slot]
				if net.Ops[o].Kind == space.Zero {
					alive = false
				}
			}
			if !alive {
				continue
			}
			for _, e := range path {
				edge := u.Graph.Edges[e]
				op := net.Ops[c[edge.Slot]]
				pre := opPrefix(u, edge, op)
				i := sort.SearchStrings(names, pre)
				for ; i < len(names) && strings.HasPrefix(names[i], pre); i++ {
					appendParam(names[i])
				}
				if op.Kind == space.Pool {
					n := u.Channels * op.Kernel * op.Kernel
					w := 1 / float64(op.Kernel*op.Kernel)
					for range n {
						v0 = append(v0, w)
						v = append(v, w)
					}
				}
			}
		}
	}
	for _, name := range names {
		if isFixed(name) {
			appendParam(name)
		}
	}
	var p Product
	for i := range v0 {
		p.Dot += v0[i] * v[i]
		p.Base += v0[i] * v0[i]
		p.Cur += v[i] * v[i]
	}
	return p, nil
}
