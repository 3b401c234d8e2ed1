package train

import (
	"context"
	"testing"

	"github.com/abs-nas/abs/internal/abs/family"
)

// BenchmarkPresetEpoch trains each preset supernet for one epoch of 2000 Fashion-MNIST training
// images (batch 64: 32 steps, the last batch of 16 images) per iteration, children drawn uniformly
// from the full space (disconnected ones rejected), and reports seconds per epoch:
//
//	go test ./internal/abs/train -run '^$' -bench PresetEpoch -benchtime 1x
func BenchmarkPresetEpoch(b *testing.B) {
	train, _ := fashion(b)
	set := train.Sample(2000, 1)
	for _, name := range family.PresetNames() {
		f, n, err := family.Preset(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			spec, err := f.Spec(n, family.Image{C: set.C, H: set.H, W: set.W, Classes: set.Classes})
			if err != nil {
				b.Fatal(err)
			}
			sp := f.Space
			steps := (set.N + 63) / 64
			for i := 0; i < b.N; i++ {
				opts := Defaults(steps, uint64(i+1))
				tr, err := NewTrainer(spec, set, sampler(b, sp, sp.Full(), uint64(i+1)), opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tr.Run(context.Background(), steps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/epoch")
		})
	}
}
