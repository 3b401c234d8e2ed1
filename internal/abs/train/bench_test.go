package train

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/abs-nas/abs/internal/abs/family"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

// BenchmarkSupernetStep measures supernet training throughput as scripts/bench-train.sh reports it:
// C=8, one cell per stage, 28×28×1 Fashion-MNIST images, batch 64, children drawn uniformly from the
// full NB201 space (disconnected ones rejected), one SGD step per child. It reports images/s.
func BenchmarkSupernetStep(b *testing.B) {
	benchStep(b, 8, uniform(b, 1))
}

// BenchmarkFixedStep is BenchmarkSupernetStep with one fixed child, |nor_conv_3x3~0|+|nor_conv_1x1~0|
// avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2| (every op type but none), at every
// step: scripts/bench-train.sh compares it with bench-train.py --arch 3,2,4,1,3,2.
func BenchmarkFixedStep(b *testing.B) {
	benchStep(b, 8, func() []int { return []int{3, 2, 4, 1, 3, 2} })
}

// BenchmarkSupernetStepC16 is BenchmarkSupernetStep at C=16 (NB201's width):
// scripts/bench-train.sh compares it with bench-train.py --c 16.
func BenchmarkSupernetStepC16(b *testing.B) {
	benchStep(b, 16, uniform(b, 1))
}

func benchStep(b *testing.B, c int, sample Sampler) {
	timeSteps(b, fashionConfig(c), sample, Defaults(b.N, 1))
}

// timeSteps trains b.N steps of spec on 6 400 Fashion-MNIST training images, timing only the
// steps, and reports images/s.
func timeSteps(b *testing.B, spec supernet.Spec, sample Sampler, opts Options) {
	train, _ := fashion(b)
	tr, err := NewTrainer(spec, train.Sample(6400, 1), sample, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := tr.Run(context.Background(), b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*opts.Batch)/b.Elapsed().Seconds(), "img/s")
}

// dartsSmall returns the DARTS family, the size of its darts-small preset (width 8, 5 cells:
// cells 1 and 3 reduce, sides 28→14→7) and the supernet spec on 28×28×1 images with 10 classes,
// through the API the pipeline's supernet step uses.
func dartsSmall(t testing.TB) (*family.Family, family.Net, supernet.Spec) {
	t.Helper()
	f, n, err := family.Preset("darts-small")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := f.Spec(n, family.Image{C: 1, H: 28, W: 28, Classes: 10})
	if err != nil {
		t.Fatal(err)
	}
	return f, n, spec
}

// dartsOptions returns the trainer settings of a DARTS supernet run of steps steps, as the
// pipeline's defaults give them: Defaults with the family's initialisation and idle-update rule
// (the authors' DARTS code: kaiming-uniform convolutions, no update of parameters a step's child
// does not use).
func dartsOptions(t testing.TB, f *family.Family, steps int) Options {
	t.Helper()
	opts := Defaults(steps, 1)
	init, err := f.InitOf(family.InitAuthors)
	if err != nil {
		t.Fatal(err)
	}
	opts.Init, opts.IdleUpdates = init, f.IdleOf(family.IdleAuthors)
	return opts
}

// BenchmarkDARTSStep measures DARTS supernet training throughput as scripts/bench-train.sh
// reports it (case darts): the darts-small preset (width 8, 5 cells), 28×28×1 Fashion-MNIST images,
// batch 64, children drawn by the family's sampler over the full space (the authors' rule: every
// edge draws an op, then each node is repaired to two non-none inputs), one SGD step per child
// computing its live ops only. It reports images/s.
func BenchmarkDARTSStep(b *testing.B) {
	f, n, spec := dartsSmall(b)
	s, err := f.Sampler(family.SamplingAuthors, n, f.Space.Full(), 1)
	if err != nil {
		b.Fatal(err)
	}
	timeSteps(b, spec, func() []int { return s.Next() }, dartsOptions(b, f, b.N))
}

// dartsCountChild is the child whose live parameters TestDARTSBenchCounts counts: node 2 reads
// sep_conv_3x3 from node 0 and skip_connect from node 1 (a FactorizedReduce in reduce cells),
// node 3 dil_conv_3x3 from 0 and sep_conv_5x5 from 2, node 4 max_pool_3x3 from 1 and
// dil_conv_5x5 from 3, node 5 avg_pool_3x3 from 0 and skip_connect from 4: every op but none.
var dartsCountChild = []int{4, 3, 6, 0, 5, 0, 1, 0, 7, 2, 0, 0, 0, 3}

// TestDARTSBenchCounts checks the parameter counts of BenchmarkDARTSStep's net, in total and
// those one step of dartsCountChild updates, against the counts of the PyTorch net of
// scripts/bench-train.py --space darts (an independent implementation of the same net), and logs
// them in the line scripts/bench-train.sh compares with that script's own output.
func TestDARTSBenchCounts(t *testing.T) {
	train, _ := fashion(t)
	f, _, spec := dartsSmall(t)
	tr, err := NewTrainer(spec, train.Sample(64, 1), func() []int { return dartsCountChild }, dartsOptions(t, f, 1))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range tr.Net.Set() {
		total += len(p.Data)
	}
	if _, err := tr.Run(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// Without idle updates, the momentum buffers after one step are exactly the parameters that
	// step's child uses.
	live := 0
	for name, p := range tr.Checkpoint().Weights {
		if strings.HasPrefix(name, "momentum.") {
			live += len(p.Data)
		}
	}
	child := make([]string, len(dartsCountChild))
	for i, o := range dartsCountChild {
		child[i] = strconv.Itoa(o)
	}
	t.Logf("darts net: params %d, live %d (child %s)", total, live, strings.Join(child, ","))
	// From /usr/bin/python3 scripts/bench-train.py --space darts --count (PyTorch 1.13.0a0):
	// sum(p.numel()) over the net, and over the parameters with a gradient after one backward pass
	// of the child.
	const wantTotal, wantLive = 393778, 42242
	if total != wantTotal || live != wantLive {
		t.Errorf("params %d, live %d; want %d, %d (the PyTorch net's)", total, live, wantTotal, wantLive)
	}
}
