package nn

import (
	"errors"
	"github.com/abs-nas/abs/internal/abs/nn/gradcheck"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tinyShapes are the parameters of tinyLayers, a network small enough for every test that uses
// every layer of the Builder: a stem, a cell of fused 1×1 and 3×3 conv-BNs and pooling, a ResNet
// reduction, a dilated depthwise-pointwise pair beside max pooling, a FactorizedReduce and a
// classifier. Its batch norms and channel counts are tinyBNs.
var (
	tinyShapes = map[string][]int{
		"stem.conv": {4, 1, 3, 3}, "stem.bn.weight": {4}, "stem.bn.bias": {4},
		"a.conv": {4, 4, 1, 1}, "b.conv": {4, 4, 3, 3},
		"r.conv": {8, 4, 3, 3}, "r.bn.weight": {8}, "r.bn.bias": {8}, "r.shortcut": {8, 4, 1, 1},
		"d.dw": {8, 1, 3, 3}, "d.pw": {8, 8, 1, 1},
		"f.conv_1": {4, 8, 1, 1}, "f.conv_2": {4, 8, 1, 1},
		"classifier.weight": {3, 8}, "classifier.bias": {3},
	}
	tinyBNs = map[string]int{"stem.bn": 4, "a.bn": 4, "b.bn": 4, "r.bn": 8, "d.bn": 8, "m.bn": 8, "f.bn": 8}
)

// tinyLayers builds the network of tinyShapes on a B×1×8×8 input.
func tinyLayers(b *Builder, in *gorgonia.Node) *gorgonia.Node {
	h := b.BN(b.Conv(in, "stem.conv", 1, 1), "stem.bn", true)
	c := b.Add(b.ReLUConvBN(h, "a.conv", "a.bn", 0), b.ReLUConvBN(h, "b.conv", "b.bn", 1))
	c = b.Add(c, b.AvgPool(h, 3, 1, 1))
	r := b.BN(b.ReLUConv(c, "r.conv", 2, 1), "r.bn", true)
	r = b.Add(r, b.Conv(b.AvgPool(c, 2, 2, 0), "r.shortcut", 1, 0))
	d := b.BN(b.Pointwise(b.Depthwise(b.ReLU(r), "d.dw", 1, 2, 2), "d.pw"), "d.bn", false)
	m := b.BN(b.MaxPool(r, 3, 1, 1), "m.bn", false)
	s := b.ReLU(b.Add(d, m))
	f := b.BN(b.Concat(b.Pointwise(b.Subsample2(s, 0), "f.conv_1"), b.Pointwise(b.Subsample2(s, 1), "f.conv_2")), "f.bn", false)
	return b.Classifier(b.ReLU6(f))
}

func tinyStats() map[string]*Stats {
	st := map[string]*Stats{}
	for name, c := range tinyBNs {
		st[name] = NewStats(c)
	}
	return st
}

// TestGradBuilder checks the gradients of the loss of tinyLayers, every layer of the Builder in
// one graph, against central differences (h = 1e-6, float64) at three coordinates of every
// parameter, to 1e-5 relative (absolute below 1), each loss on fresh running statistics.
func TestGradBuilder(t *testing.T) {
	params := InitParams(tinyShapes, tensor.Float64, KaimingNormal, 5)
	x := randDense(rand.New(rand.NewPCG(2, 4)), 3, 1, 8, 8)
	labels := []int{1, 0, 2}
	gr, err := Build(tensor.Float64, params, tinyStats(), BNTrain, x, labels, tinyLayers)
	if err != nil {
		t.Fatal(err)
	}
	_, grads, err := gr.Backward()
	if err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		gr, err := Build(tensor.Float64, params, tinyStats(), BNTrain, x, labels, tinyLayers)
		if err != nil {
			t.Fatal(err)
		}
		m := gorgonia.NewTapeMachine(gr.G)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return scalar(gr.Loss.Value())
	}
	for name, p := range params {
		w := p.Data().([]float64)
		gradcheck.Central(t, name, w, grads[name].Data().([]float64), []int{0, len(w) / 2, len(w) - 1}, 1e-5, loss)
	}
}

// TestBuildErrors checks that a layer's error stops the build and is returned: a batch norm
// without running statistics, a failed op (Add of mismatched shapes) and Fail.
func TestBuildErrors(t *testing.T) {
	params := InitParams(tinyShapes, tensor.Float64, KaimingNormal, 7)
	x := randDense(rand.New(rand.NewPCG(2, 3)), 3, 1, 8, 8)
	stats := tinyStats()
	delete(stats, "d.bn")
	if _, err := Build(tensor.Float64, params, stats, BNTrain, x, nil, tinyLayers); err == nil || !strings.Contains(err.Error(), "d.bn") {
		t.Errorf("missing statistics of d.bn: error %v, want one naming d.bn", err)
	}
	_, err := Build(tensor.Float64, params, tinyStats(), BNTrain, x, nil, func(b *Builder, in *gorgonia.Node) *gorgonia.Node {
		h := b.Conv(in, "stem.conv", 1, 1)
		y := b.Add(h, b.Conv(in, "stem.conv", 2, 1)) // 8×8 plus 4×4
		if b.Err() == nil {
			t.Error("Add of 8×8 and 4×4 maps: no error")
		}
		if y != nil || b.Classifier(h) != nil {
			t.Error("layers after an error returned nodes")
		}
		return nil
	})
	if err == nil {
		t.Error("Build after a failed Add: no error")
	}
	want := errors.New("no such op")
	_, err = Build(tensor.Float64, params, tinyStats(), BNTrain, x, nil, func(b *Builder, in *gorgonia.Node) *gorgonia.Node {
		b.Fail(want)
		b.Fail(errors.New("second"))
		return nil
	})
	if !errors.Is(err, want) {
		t.Errorf("Build after Fail: error %v, want the first one, %v", err, want)
	}
}
