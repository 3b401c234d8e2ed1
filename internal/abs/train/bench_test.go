package train

import (
	"context"
	"testing"
)

// BenchmarkSupernetStep measures supernet training throughput as scripts/bench-train.sh reports it:
// C=8, one cell per stage, 28×28×1 Fashion-MNIST images, batch 64, children drawn uniformly from the
// full NB201 space (disconnected ones rejected), one SGD step per child. It reports images/s.
func BenchmarkSupernetStep(b *testing.B) {
	train, _ := fashion(b)
	opts := Defaults(b.N, 1)
	tr, err := NewTrainer(fashionConfig(8), train.Sample(6400, 1), uniform(b, 1), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := tr.Run(context.Background(), b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*opts.Batch)/b.Elapsed().Seconds(), "img/s")
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
	train, _ := fashion(b)
	opts := Defaults(b.N, 1)
	tr, err := NewTrainer(fashionConfig(c), train.Sample(6400, 1), sample, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := tr.Run(context.Background(), b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*opts.Batch)/b.Elapsed().Seconds(), "img/s")
}
