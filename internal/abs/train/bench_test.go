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
