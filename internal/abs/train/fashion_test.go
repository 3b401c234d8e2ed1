package train

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/space"
)

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TestStandaloneFashion trains one fixed child from scratch on 640 real Fashion-MNIST images and
// checks that the loss falls and that test accuracy is far above chance (10 classes: 0.1).
func TestStandaloneFashion(t *testing.T) {
	train, test := fashion(t)
	opts := Defaults(80, 5)
	opts.Batch, opts.LR = 32, 0.1
	arch := []int{3, 2, 4, 1, 3, 2} // every op type
	res, err := Standalone(context.Background(), fashionConfig(4), arch, train.Sample(640, 5), test.Sample(500, 5), opts)
	if err != nil {
		t.Fatal(err)
	}
	first, last := mean(res.Losses[:10]), mean(res.Losses[len(res.Losses)-10:])
	t.Logf("loss %.3f → %.3f, test accuracy %.3f", first, last, res.TestAccuracy)
	// ln 10 ≈ 2.30 is the loss of a uniform guess.
	if last > first-0.5 {
		t.Errorf("mean loss of the last 10 steps %.3f, want at most %.3f (first 10 steps %.3f minus 0.5)", last, first-0.5, first)
	}
	if len(res.Weights) == 0 || res.Weights["cell0.edge0.nor_conv_3x3.conv"].Shape == nil || res.Weights["cell0.edge0.nor_conv_1x1.conv"].Shape != nil {
		t.Errorf("stand-alone weights are not those of %v: %v", arch, res.Weights.Names())
	}
	if res.TestAccuracy < 0.5 {
		t.Errorf("test accuracy %.3f, want ≥ 0.5 (chance is 0.1)", res.TestAccuracy)
	}
}

// TestSupernetFashion trains a small supernet with uniform sampling over a shrunk space (skip and
// the two convolutions on every edge) on real data and evaluates children with inherited weights,
// with and without Re-BN.
func TestSupernetFashion(t *testing.T) {
	train, test := fashion(t)
	opts := Defaults(60, 6)
	opts.Batch, opts.LR = 32, 0.1
	trainSet, testSet := train.Sample(640, 6), test.Sample(300, 6)
	sp := space.NB201{}
	shrunk := space.Shrunk{Allowed: [][]int{{1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}}}
	u, err := space.NewUniform(sp, shrunk, 6)
	if err != nil {
		t.Fatal(err)
	}
	var sampled [][]int
	sample := func() []int {
		c := u.Next()
		sampled = append(sampled, c)
		return c
	}
	tr, err := NewTrainer(fashionConfig(4), trainSet, sample, opts)
	if err != nil {
		t.Fatal(err)
	}
	losses, err := tr.Run(context.Background(), opts.Steps)
	if err != nil {
		t.Fatal(err)
	}
	first, last := mean(losses[:10]), mean(losses[len(losses)-10:])
	// 60 steps over changing children train a supernet far less than one child (the stand-alone
	// test reaches a loss near 1 in 80 steps): the PyTorch network of scripts/bench-train.py, in the
	// same setting, went from 2.44 to 2.27 and 2.41 to 2.26 (seeds 1, 2). We ask only that the loss
	// clearly falls.
	if last > first-0.1 {
		t.Errorf("supernet mean loss of the last 10 steps %.3f, want at most %.3f", last, first-0.1)
	}
	if tr.State.Samples != opts.Steps {
		t.Errorf("%d children drawn for %d steps; the shrunk space has no disconnected child", tr.State.Samples, opts.Steps)
	}
	for _, c := range sampled {
		for e, op := range c {
			if !shrunk.Has(e, op) {
				t.Fatalf("trained child %v outside the shrunk space", c)
			}
		}
	}
	archs := [][]int{{3, 3, 3, 3, 3, 3}, {1, 2, 3, 2, 3, 1}, {2, 1, 1, 3, 1, 1}}
	before := nn.CloneStats(tr.Net.RunningStats())
	plain, err := Evaluate(context.Background(), tr.Net, archs, trainSet, testSet, EvalOptions{Batch: 100, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	rebn := EvalOptions{Batch: 64, ReBN: 3, Seed: 1, Workers: 1}
	re1, err := Evaluate(context.Background(), tr.Net, archs, trainSet, testSet, rebn)
	if err != nil {
		t.Fatal(err)
	}
	rebn.Workers = 3
	re3, err := Evaluate(context.Background(), tr.Net, archs, trainSet, testSet, rebn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f → %.3f; accuracy without Re-BN %v, with Re-BN %v", first, last, plain, re1)
	for i := range archs {
		if re1[i] != re3[i] {
			t.Errorf("child %v: Re-BN accuracy %v with 1 worker, %v with 3", archs[i], re1[i], re3[i])
		}
		for _, a := range []float64{plain[i], re1[i]} {
			// Accuracies are multiples of 1/300 in [0, 1].
			if a < 0 || a > 1 || math.Abs(a*300-math.Round(a*300)) > 1e-9 {
				t.Errorf("child %v: accuracy %v is not k/300", archs[i], a)
			}
		}
	}
	for name, st := range tr.Net.RunningStats() {
		if b := before[name]; !slices.Equal(b.Mean, st.Mean) || !slices.Equal(b.Var, st.Var) {
			t.Fatalf("evaluation changed the supernet's running statistics of %s", name)
		}
	}
}

// TestReBNStatistics checks the recomputed statistics against their definition: after Re-BN over a
// single batch, evaluating that batch with the recomputed running statistics must give the logits of
// the training-mode pass, up to the unbiased-variance factor n/(n−1) (n ≥ 8·49 values per channel, so
// a relative difference of order 1e-3 at most over the network's 9 batch norms).
func TestReBNStatistics(t *testing.T) {
	train, _ := fashion(t)
	set := train.Sample(8, 7)
	tr, err := NewTrainer(fashionConfig(4), set, uniform(t, 7), Defaults(1, 7))
	if err != nil {
		t.Fatal(err)
	}
	net := tr.Net
	arch := []int{3, 1, 2, 4, 3, 2}
	in, err := net.Input(set.Images, set.N)
	if err != nil {
		t.Fatal(err)
	}
	stats := nn.CloneStats(net.RunningStats())
	for _, st := range stats {
		*st = *nn.NewStats(len(st.Mean))
	}
	trainLogits, err := net.Logits(arch, in, nn.BNRecompute, stats)
	if err != nil {
		t.Fatal(err)
	}
	evalLogits, err := net.Logits(arch, in, nn.BNEval, stats)
	if err != nil {
		t.Fatal(err)
	}
	for i := range trainLogits {
		if d := math.Abs(trainLogits[i] - evalLogits[i]); d > 1e-2*math.Max(1, math.Abs(trainLogits[i])) {
			t.Errorf("logit %d: %.6f in the Re-BN pass, %.6f evaluated with its statistics", i, trainLogits[i], evalLogits[i])
		}
	}
	// Without recomputation the fresh statistics (mean 0, var 1) give different logits.
	fresh := nn.CloneStats(stats)
	for _, st := range fresh {
		*st = *nn.NewStats(len(st.Mean))
	}
	freshLogits, err := net.Logits(arch, in, nn.BNEval, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(freshLogits[0]-trainLogits[0]) < 1e-3 {
		t.Errorf("logits with fresh statistics equal the Re-BN logits; the test cannot tell them apart")
	}
}
