package nn

import (
	"fmt"
	"sync"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graphMu serialises graph construction, differentiation and compilation: gorgonia v0.9.18 keeps
// unsynchronised global state there (a group counter, shared constant nodes). Running compiled
// graphs needs no lock, so children can be evaluated in parallel.
var graphMu sync.Mutex

// Graph is the computation graph of one child of a network on one batch.
type Graph struct {
	G *gorgonia.ExprGraph
	// Logits is the B×Classes output; Loss the mean cross-entropy (nil without labels).
	Logits, Loss *gorgonia.Node
	// Params maps the names of the parameters the child uses to their input nodes.
	Params map[string]*gorgonia.Node
}

// Build returns a fresh graph over the shared weights params for the batch x (B×C×H×W, of dtype
// dt): layers adds the layers from the input node to the logits through b, with batch norms in
// mode reading and updating the running statistics in stats (a copy of them for Re-BN). With
// labels the graph also has the mean cross-entropy. The first error a layer met is returned.
// Build holds the lock that gorgonia's graph construction needs, so layers must not build other
// graphs.
func Build(dt tensor.Dtype, params map[string]*tensor.Dense, stats map[string]*Stats, mode BNMode, x *tensor.Dense, labels []int, layers func(b *Builder, in *gorgonia.Node) *gorgonia.Node) (*Graph, error) {
	graphMu.Lock()
	defer graphMu.Unlock()
	b := &Builder{dtype: dt, weights: params, stats: stats, mode: mode, g: gorgonia.NewGraph(), params: map[string]*gorgonia.Node{}}
	in := gorgonia.NewTensor(b.g, dt, 4, gorgonia.WithShape(x.Shape()...), gorgonia.WithName("input"), gorgonia.WithValue(x))
	logits := layers(b, in)
	if b.err != nil {
		return nil, b.err
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

// Builder adds layers to a graph over shared weights, keeping the first error: once a layer has
// failed, every method returns nil and Build returns that error. The layers take their parameters
// by name from the weights given to Build, each as one input node of the graph however often it
// is used.
type Builder struct {
	dtype   tensor.Dtype
	weights map[string]*tensor.Dense
	stats   map[string]*Stats
	mode    BNMode
	g       *gorgonia.ExprGraph
	params  map[string]*gorgonia.Node
	err     error
}

// Err returns the first error a layer met, or nil.
func (b *Builder) Err() error { return b.err }

// Fail records err as the builder's error unless it has one already.
func (b *Builder) Fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Must returns n, recording err (as Fail does) when it is not nil: it wraps an op of this package
// or of gorgonia, such as Must(gorgonia.Add(x, y)). Its operands must not be nil, so check Err
// first after a layer that may have failed.
func (b *Builder) Must(n *gorgonia.Node, err error) *gorgonia.Node {
	if err != nil {
		b.Fail(err)
	}
	return n
}

// Param returns the input node of the shared weight name. It panics if the weights have no such
// parameter: a network asks only for the names it declared.
func (b *Builder) Param(name string) *gorgonia.Node {
	if p, ok := b.params[name]; ok {
		return p
	}
	t := b.weights[name]
	if t == nil {
		panic("nn: missing parameter " + name)
	}
	// A shallow clone shares the data but not the header, which gorgonia's machines write to
	// (engine), so graphs of several goroutines may read one weight at once.
	p := gorgonia.NewTensor(b.g, b.dtype, t.Dims(), gorgonia.WithShape(t.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(t.ShallowClone()))
	b.params[name] = p
	return p
}

// Conv is the convolution of x with the kernel name (Conv2d, no bias).
func (b *Builder) Conv(x *gorgonia.Node, name string, stride, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(Conv2d(x, b.Param(name), stride, pad, false))
}

// ReLUConv is Conv of relu(x), fused into one op.
func (b *Builder) ReLUConv(x *gorgonia.Node, name string, stride, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(Conv2d(x, b.Param(name), stride, pad, true))
}

// ReLUConvBN is a size-keeping convolution (padding pad, stride 1) of relu(x) with the kernel conv
// followed by the batch norm bn without affine parameters, fused into one op (ConvBN).
func (b *Builder) ReLUConvBN(x *gorgonia.Node, conv, bn string, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	st := b.stats[bn]
	if st == nil {
		b.err = fmt.Errorf("no running statistics for %s", bn)
		return nil
	}
	return b.Must(ConvBN(x, b.Param(conv), pad, true, st, b.mode, bn))
}

// ReLU is max(x, 0).
func (b *Builder) ReLU(x *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(ReLU(x))
}

// ReLU6 is min(max(x, 0), 6).
func (b *Builder) ReLU6(x *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(ReLU6(x))
}

// BN is the batch norm name of x, with the parameters name.weight and name.bias if affine.
func (b *Builder) BN(x *gorgonia.Node, name string, affine bool) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	st := b.stats[name]
	if st == nil {
		b.err = fmt.Errorf("no running statistics for %s", name)
		return nil
	}
	if affine {
		return b.Must(BatchNormAffine(x, b.Param(name+".weight"), b.Param(name+".bias"), st, b.mode, name))
	}
	return b.Must(BatchNorm(x, st, b.mode, name))
}

// Pointwise is the 1×1 convolution of x with the kernel name.
func (b *Builder) Pointwise(x *gorgonia.Node, name string) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(Pointwise(x, b.Param(name)))
}

// Depthwise is the depthwise convolution of x with the kernel name.
func (b *Builder) Depthwise(x *gorgonia.Node, name string, stride, pad, dil int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(DepthwiseConv(x, b.Param(name), stride, pad, dil))
}

// AvgPool is the k×k average pooling of x (AvgPool).
func (b *Builder) AvgPool(x *gorgonia.Node, k, stride, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(AvgPool(x, k, stride, pad))
}

// MaxPool is the k×k max pooling of x.
func (b *Builder) MaxPool(x *gorgonia.Node, k, stride, pad int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(MaxPool(x, k, stride, pad))
}

// Subsample2 is Subsample2(x, off).
func (b *Builder) Subsample2(x *gorgonia.Node, off int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(Subsample2(x, off))
}

// Add is x + y.
func (b *Builder) Add(x, y *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(gorgonia.Add(x, y))
}

// Concat joins xs along the channel axis.
func (b *Builder) Concat(xs ...*gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	return b.Must(ConcatChannels(xs...))
}

// Classifier is global average pooling followed by the linear layer classifier.weight
// (Classes×C) and classifier.bias: the logits.
func (b *Builder) Classifier(x *gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	h := b.Must(GlobalAvgPool(x))
	if b.err != nil {
		return nil
	}
	h = b.Must(gorgonia.Mul(h, b.Must(gorgonia.Transpose(b.Param("classifier.weight")))))
	if b.err != nil {
		return nil
	}
	return b.Must(gorgonia.BroadcastAdd(h, b.Param("classifier.bias"), nil, []byte{0}))
}
