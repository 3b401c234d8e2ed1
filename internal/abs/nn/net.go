// Package nn holds the supernets on gorgonia: the NAS-Bench-201 network (this file), the DARTS
// search supernet (darts.go) and the MobileNet-like supernets of ProxylessNAS and FairNAS
// (mobile.go), all behind the Supernet interface. Weights are held outside any graph and a fresh
// graph is built per sampled child over those shared weights; the ops gorgonia lacks or gets wrong
// are ours, with gradients checked by finite differences (pooling, batch normalisation, depthwise
// and dilated convolution, 1×1 convolution, ReLU6, FactorizedReduce's subsampling); weight
// initialisation and SGD with Nesterov momentum complete it.
//
// The NB201 network follows NAS-Bench-201's TinyNetwork (Dong & Yang, "NAS-Bench-201: Extending the
// Scope of Reproducible Neural Architecture Search", ICLR 2020): a 3×3 stem convolution to C channels with
// batch norm, N cells, a ResNet reduction block, N cells at 2C, a reduction block, N cells at 4C,
// batch norm and ReLU, global average pooling and a linear classifier. Cell batch norms have no
// affine parameters, as in the supernet of the ABS authors (Hu et al., "Angle-based Search Space
// Shrinking for Neural Architecture Search", ECCV 2020).
package nn

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Ops are the NB201 operator names by code, as space.NB201 lists them.
var Ops = func() (names [5]string) {
	for i, op := range (space.NB201{}).Ops() {
		names[i] = op.Name
	}
	return names
}()

// Operator codes of the NB201 space (space.NB201's).
const (
	OpNone    = space.NB201None
	OpSkip    = space.NB201Skip
	OpConv1x1 = space.NB201Conv1x1
	OpConv3x3 = space.NB201Conv3x3
	OpAvgPool = space.NB201AvgPool
)

// Edges is the number of edges of an NB201 cell.
const Edges = len(space.NB201Edges)

// EdgeFrom and EdgeTo give the source and target node of each cell edge in space.NB201Edges
// order: (1←0),(2←0),(2←1),(3←0),(3←1),(3←2).
var EdgeFrom, EdgeTo = func() (from, to [Edges]int) {
	for e, ft := range space.NB201Edges {
		to[e], from[e] = ft[0], ft[1]
	}
	return from, to
}()

// ErrDisconnected is returned for a cell whose output node is unreachable from its input node.
var ErrDisconnected = errors.New("output node is disconnected from the input")

// Live reports which edges of the cell arch contribute to its output: the op is not none, its source
// node is reachable from the input node 0 and its target node reaches the output node 3. It returns
// an error if arch is not 6 codes in [0,5) or if the output is disconnected from the input.
func Live(arch []int) ([Edges]bool, error) {
	var live [Edges]bool
	if len(arch) != Edges {
		return live, fmt.Errorf("arch has %d ops, want %d", len(arch), Edges)
	}
	for e, op := range arch {
		if op < 0 || op >= len(Ops) {
			return live, fmt.Errorf("arch edge %d has op code %d, want 0..%d", e, op, len(Ops)-1)
		}
	}
	var fwd, bwd [4]bool
	fwd[0], bwd[3] = true, true
	for e := 0; e < Edges; e++ { // edges are sorted by target node
		if arch[e] != OpNone && fwd[EdgeFrom[e]] {
			fwd[EdgeTo[e]] = true
		}
	}
	for e := Edges - 1; e >= 0; e-- { // and, reversed, by source node
		if arch[e] != OpNone && bwd[EdgeTo[e]] {
			bwd[EdgeFrom[e]] = true
		}
	}
	if !fwd[3] {
		return live, fmt.Errorf("arch %v: %w", arch, ErrDisconnected)
	}
	for e := 0; e < Edges; e++ {
		live[e] = arch[e] != OpNone && fwd[EdgeFrom[e]] && bwd[EdgeTo[e]]
	}
	return live, nil
}

// Config is the shape of an NB201 network.
type Config struct {
	// C is the channel count of the first stage (NB201: 16); N the cells per stage (NB201: 5).
	C, N int
	// InC, H and W describe the input images; H and W must be multiples of 4.
	InC, H, W int
	// Classes is the number of output classes.
	Classes int
}

// Validate returns an error naming the first field that is out of range.
func (c Config) Validate() error {
	switch {
	case c.C < 1:
		return fmt.Errorf("net config: C = %d, want ≥ 1", c.C)
	case c.N < 1:
		return fmt.Errorf("net config: N = %d, want ≥ 1", c.N)
	case c.InC < 1:
		return fmt.Errorf("net config: InC = %d, want ≥ 1", c.InC)
	case c.H < 4 || c.H%4 != 0 || c.W < 4 || c.W%4 != 0:
		return fmt.Errorf("net config: H×W = %d×%d, want positive multiples of 4", c.H, c.W)
	case c.Classes < 2:
		return fmt.Errorf("net config: Classes = %d, want ≥ 2", c.Classes)
	}
	return nil
}

// Net holds the weights of the NB201 supernet: every parameter of every candidate op, shared by
// all children, and the running statistics of every batch-normalisation layer. A graph is built per
// child and batch by Graph; the weights live outside any graph.
type Net struct {
	Config Config
	// body's Stats are keyed by batch-normalisation layer name (a parameter prefix plus ".bn",
	// e.g. "stem.bn", "cell0.edge3.nor_conv_3x3.bn").
	body
}

// cellChannels returns the channel count of searchable cell c.
func (c Config) cellChannels(cell int) int { return c.C << (cell / c.N) }

// New returns a supernet with weights initialised by init from seed. Parameters are drawn in sorted
// name order, so the result depends only on cfg, dt, init and seed.
func New(cfg Config, dt tensor.Dtype, init Init, seed uint64) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("net dtype %v, want float32 or float64", dt)
	}
	n := &Net{Config: cfg, body: newBody(dt, Shape{InC: cfg.InC, H: cfg.H, W: cfg.W, Classes: cfg.Classes})}
	n.arch = n
	shapes := map[string][]int{}
	bn := func(name string, c int, affine bool) {
		n.Stats[name] = NewStats(c)
		if affine {
			shapes[name+".weight"] = []int{c}
			shapes[name+".bias"] = []int{c}
		}
	}
	C := cfg.C
	shapes["stem.conv"] = []int{C, cfg.InC, 3, 3}
	bn("stem.bn", C, true)
	for cell := 0; cell < 3*cfg.N; cell++ {
		c := cfg.cellChannels(cell)
		for e := 0; e < Edges; e++ {
			for _, op := range []int{OpConv1x1, OpConv3x3} {
				k := 1
				if op == OpConv3x3 {
					k = 3
				}
				p := fmt.Sprintf("cell%d.edge%d.%s", cell, e, Ops[op])
				shapes[p+".conv"] = []int{c, c, k, k}
				bn(p+".bn", c, false)
			}
		}
	}
	for r := 1; r <= 2; r++ {
		in, out := C<<(r-1), C<<r
		p := fmt.Sprintf("reduce%d", r)
		shapes[p+".conv_a"] = []int{out, in, 3, 3}
		bn(p+".bn_a", out, true)
		shapes[p+".conv_b"] = []int{out, out, 3, 3}
		bn(p+".bn_b", out, true)
		shapes[p+".shortcut"] = []int{out, in, 1, 1}
	}
	bn("lastact.bn", 4*C, true)
	shapes["classifier.weight"] = []int{cfg.Classes, 4 * C}
	shapes["classifier.bias"] = []int{cfg.Classes}

	n.Params = initParams(shapes, dt, init, seed)
	return n, nil
}

func newParam(dt tensor.Dtype, shape []int, v []float64) *tensor.Dense {
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}

// cells returns the number of searchable cells, 3N.
func (c Config) cells() int { return 3 * c.N }

// cellArchs splits child arch into one architecture per searchable cell, with its live edges: arch
// is either 6 op codes used by every cell, or 6 codes per cell, cell by cell (per-cell sampling,
// space.PerCell). A cell whose output is disconnected from its input is an error wrapping
// ErrDisconnected.
func (n *Net) cellArchs(arch []int) ([][]int, [][Edges]bool, error) {
	cells := n.Config.cells()
	if len(arch) != Edges && len(arch) != Edges*cells {
		return nil, nil, fmt.Errorf("arch has %d ops, want %d (one cell for all) or %d (%d cells)", len(arch), Edges, Edges*cells, cells)
	}
	archs := make([][]int, cells)
	lives := make([][Edges]bool, cells)
	for c := range archs {
		a := arch
		if len(arch) > Edges {
			a = arch[Edges*c : Edges*(c+1)]
		}
		if c > 0 && len(arch) == Edges {
			archs[c], lives[c] = archs[0], lives[0]
			continue
		}
		live, err := Live(a)
		if err != nil {
			if len(arch) > Edges {
				err = fmt.Errorf("cell %d: %w", c, err)
			}
			return nil, nil, err
		}
		archs[c], lives[c] = a, live
	}
	return archs, lives, nil
}

// ChildParams returns the names of the parameters that child arch uses, in sorted order: the fixed
// parameters and the convolutions on its live edges.
func (n *Net) ChildParams(arch []int) ([]string, error) {
	archs, lives, err := n.cellArchs(arch)
	if err != nil {
		return nil, err
	}
	var names []string
	for name := range n.Params {
		var cell, e int
		var op string
		if k, _ := fmt.Sscanf(name, "cell%d.edge%d.%s", &cell, &e, &op); k == 3 {
			if !lives[cell][e] || op != Ops[archs[cell][e]]+".conv" {
				continue
			}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// graphMu serialises graph construction, differentiation and compilation: gorgonia v0.9.18 keeps
// unsynchronised global state there (a group counter, shared constant nodes). Running compiled
// graphs needs no lock, so children can be evaluated in parallel.
var graphMu sync.Mutex

// Graph is the computation graph of one child on one batch.
type Graph struct {
	G *gorgonia.ExprGraph
	// Logits is the B×Classes output; Loss the mean cross-entropy (nil without labels).
	Logits, Loss *gorgonia.Node
	// Params maps the names of the parameters the child uses to their input nodes.
	Params map[string]*gorgonia.Node
}

// Graph builds a fresh graph of child arch (6 op codes used by every cell, or 6 per cell; see
// cellArchs) over the shared
// weights for the batch x (B×InC×H×W, of the net's dtype). With labels it adds the loss. Batch
// norms run in mode and read and update the running statistics in stats (usually n.Stats; a copy
// for Re-BN). Edges that do not contribute to the output are left out, so every parameter node
// reaches the logits; an arch whose output is disconnected is an error.
func (n *Net) Graph(arch []int, x *tensor.Dense, labels []int, mode BNMode, stats map[string]*Stats) (*Graph, error) {
	archs, lives, err := n.cellArchs(arch)
	if err != nil {
		return nil, err
	}
	cfg := n.Config
	if s := x.Shape(); s.Dims() != 4 || s[1] != cfg.InC || s[2] != cfg.H || s[3] != cfg.W {
		return nil, fmt.Errorf("input shape %v, want [B %d %d %d]", s, cfg.InC, cfg.H, cfg.W)
	}
	graphMu.Lock()
	defer graphMu.Unlock()
	b := newBuilder(n.Dtype, n.Params, stats, mode)
	in := gorgonia.NewTensor(b.g, n.Dtype, 4, gorgonia.WithShape(x.Shape()...), gorgonia.WithName("input"), gorgonia.WithValue(x))

	h := b.bn(b.conv(in, "stem.conv", 1, 1), "stem.bn", true)
	cell := 0
	for stage := 0; stage < 3; stage++ {
		if stage > 0 {
			h = b.reduce(h, fmt.Sprintf("reduce%d", stage))
		}
		for i := 0; i < cfg.N; i++ {
			h = b.cell(h, cell, archs[cell], lives[cell])
			cell++
		}
	}
	h = b.relu(b.bn(h, "lastact.bn", true))
	h = b.must(GlobalAvgPool(h))
	w := b.param("classifier.weight")
	h = b.must(gorgonia.Mul(h, b.must(gorgonia.Transpose(w))))
	logits := b.must(gorgonia.BroadcastAdd(h, b.param("classifier.bias"), nil, []byte{0}))
	return b.graph(logits, labels, arch)
}

// graph finishes a child's graph at its logits, adding the loss when there are labels, or returns
// the first error the builder met.
func (b *builder) graph(logits *gorgonia.Node, labels []int, child []int) (*Graph, error) {
	if b.err != nil {
		return nil, fmt.Errorf("build graph of %v: %w", child, b.err)
	}
	gr := &Graph{G: b.g, Logits: logits, Params: b.params}
	if labels != nil {
		var err error
		if gr.Loss, err = CrossEntropy(logits, labels); err != nil {
			return nil, err
		}
	}
	return gr, nil
}

// builder adds layers to a graph over shared weights, keeping the first error.
type builder struct {
	dtype   tensor.Dtype
	weights map[string]*tensor.Dense
	stats   map[string]*Stats
	mode    BNMode
	g       *gorgonia.ExprGraph
	params  map[string]*gorgonia.Node
	err     error
}

func newBuilder(dt tensor.Dtype, weights map[string]*tensor.Dense, stats map[string]*Stats, mode BNMode) *builder {
	return &builder{dtype: dt, weights: weights, stats: stats, mode: mode, g: gorgonia.NewGraph(), params: map[string]*gorgonia.Node{}}
}

func (b *builder) must(n *gorgonia.Node, err error) *gorgonia.Node {
	if err != nil && b.err == nil {
		b.err = err
	}
	return n
}

func (b *builder) param(name string) *gorgonia.Node {
	if p, ok := b.params[name]; ok {
		return p
	}
	t := b.weights[name]
	if t == nil {
		panic("nn: missing parameter " + name) // the builder only asks for names New created
	}
	// A shallow clone shares the data but not the header, which gorgonia's machines write to
	// (engine), so graphs of several goroutines may read one weight at once.
	p := gorgonia.NewTensor(b.g, b.dtype, t.Dims(), gorgonia.WithShape(t.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(t.ShallowClone()))
	b.params[name] = p
	return p
}

func (b *builder) conv(x *gorgonia.Node, name string, stride, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.must(Conv2d(x, b.param(name), stride, pad, false))
}

// reluConvBN is a size-keeping convolution (padding pad, stride 1) of relu(x) followed by a batch
// norm without affine parameters, fused into one op.
func (b *builder) reluConvBN(x *gorgonia.Node, conv, bn string, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	st := b.stats[bn]
	if st == nil {
		b.err = fmt.Errorf("no running statistics for %s", bn)
		return nil
	}
	return b.must(ConvBN(x, b.param(conv), pad, true, st, b.mode, bn))
}

// reluConv is conv of relu(x), fused into one op.
func (b *builder) reluConv(x *gorgonia.Node, name string, stride, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.must(Conv2d(x, b.param(name), stride, pad, true))
}

func (b *builder) relu(x *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.must(gorgonia.Rectify(x))
}

func (b *builder) bn(x *gorgonia.Node, name string, affine bool) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	st := b.stats[name]
	if st == nil {
		b.err = fmt.Errorf("no running statistics for %s", name)
		return nil
	}
	if affine {
		return b.must(BatchNormAffine(x, b.param(name+".weight"), b.param(name+".bias"), st, b.mode, name))
	}
	return b.must(BatchNorm(x, st, b.mode, name))
}

// reduce is NB201's ResNetBasicblock with stride 2: ReLU-conv3×3/2-BN, ReLU-conv3×3-BN, plus a
// shortcut of 2×2 average pooling and a 1×1 convolution.
func (b *builder) reduce(x *gorgonia.Node, p string) *gorgonia.Node {
	a := b.bn(b.reluConv(x, p+".conv_a", 2, 1), p+".bn_a", true)
	a = b.bn(b.reluConv(a, p+".conv_b", 1, 1), p+".bn_b", true)
	if b.err != nil {
		return nil
	}
	sc := b.conv(b.must(AvgPool(x, 2, 2, 0)), p+".shortcut", 1, 0)
	if b.err != nil {
		return nil
	}
	return b.must(gorgonia.Add(a, sc))
}

// cell builds searchable cell c: node j is the sum of op_e(node i) over its live incoming edges.
func (b *builder) cell(x *gorgonia.Node, c int, arch []int, live [Edges]bool) *gorgonia.Node {
	var nodes [4]*gorgonia.Node
	nodes[0] = x
	for e := 0; e < Edges && b.err == nil; e++ {
		if !live[e] {
			continue
		}
		src := nodes[EdgeFrom[e]]
		var y *gorgonia.Node
		p := fmt.Sprintf("cell%d.edge%d.%s", c, e, Ops[arch[e]])
		switch arch[e] {
		case OpSkip:
			y = src
		case OpConv1x1:
			y = b.reluConvBN(src, p+".conv", p+".bn", 0)
		case OpConv3x3:
			y = b.reluConvBN(src, p+".conv", p+".bn", 1)
		case OpAvgPool:
			y = b.must(AvgPool(src, 3, 1, 1))
		}
		if b.err != nil {
			return nil
		}
		t := EdgeTo[e]
		if nodes[t] == nil {
			nodes[t] = y
		} else {
			nodes[t] = b.must(gorgonia.Add(nodes[t], y))
		}
	}
	return nodes[3]
}

// paramSet returns float32 copies of params.
func paramSet(params map[string]*tensor.Dense) param.Set {
	s := make(param.Set, len(params))
	for name, t := range params {
		s[name] = param.Tensor{Shape: append([]int(nil), t.Shape()...), Data: toFloat32(t)}
	}
	return s
}

// loadParams copies s into params, which must have exactly the names and shapes of s.
func loadParams(params map[string]*tensor.Dense, s param.Set) error {
	for name, t := range params {
		v, ok := s[name]
		if !ok {
			return fmt.Errorf("load weights: parameter %s missing", name)
		}
		if !slices.Equal(v.Shape, []int(t.Shape())) || len(v.Data) != t.Shape().TotalSize() {
			return fmt.Errorf("load weights: parameter %s has shape %v (%d values), want %v", name, v.Shape, len(v.Data), t.Shape())
		}
	}
	for name := range s {
		if _, ok := params[name]; !ok {
			return fmt.Errorf("load weights: unknown parameter %s", name)
		}
	}
	for name, t := range params {
		fromFloat32(t, s[name].Data)
	}
	return nil
}

func toFloat32(t *tensor.Dense) []float32 {
	switch d := t.Data().(type) {
	case []float32:
		return append([]float32(nil), d...)
	case []float64:
		f := make([]float32, len(d))
		for i, v := range d {
			f[i] = float32(v)
		}
		return f
	}
	panic(fmt.Sprintf("nn: parameter dtype %v", t.Dtype())) // New only makes float32 and float64
}

func fromFloat32(t *tensor.Dense, v []float32) {
	switch d := t.Data().(type) {
	case []float32:
		copy(d, v)
	case []float64:
		for i, x := range v {
			d[i] = float64(x)
		}
	}
}

// CloneStats returns a deep copy of stats.
func CloneStats(stats map[string]*Stats) map[string]*Stats {
	c := make(map[string]*Stats, len(stats))
	for k, v := range stats {
		c[k] = v.Clone()
	}
	return c
}
