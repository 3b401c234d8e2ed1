package train

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
)

var (
	fashionOnce               sync.Once
	fashionTrain, fashionTest *data.Set
	fashionErr                error
)

// fashion returns the real Fashion-MNIST train and test splits, loaded once per test binary, or
// skips the test where Debian's dataset-fashion-mnist package is not installed.
func fashion(t testing.TB) (train, test *data.Set) {
	t.Helper()
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST not installed at %s (Debian package dataset-fashion-mnist)", data.FashionMNISTDir)
	}
	fashionOnce.Do(func() {
		fashionTrain, fashionErr = data.FashionMNIST(data.FashionMNISTDir, "train")
		if fashionErr == nil {
			fashionTest, fashionErr = data.FashionMNIST(data.FashionMNISTDir, "test")
		}
	})
	if fashionErr != nil {
		t.Fatal(fashionErr)
	}
	return fashionTrain, fashionTest
}

func fashionConfig(c int) nn.Config { return nn.Config{C: c, N: 1, InC: 1, H: 28, W: 28, Classes: 10} }

// uniform returns a uniform sampler over the full NB201 space (disconnected children rejected).
func uniform(t testing.TB, seed uint64) Sampler {
	t.Helper()
	sp := space.NB201{}
	u, err := space.NewUniform(sp, sp.Full(), seed)
	if err != nil {
		t.Fatal(err)
	}
	return func() []int { return u.Next() }
}

func fair(t testing.TB, seed uint64) Sampler {
	t.Helper()
	sp := space.NB201{}
	f, err := space.NewFair(sp, sp.Full(), seed)
	if err != nil {
		t.Fatal(err)
	}
	return func() []int { return f.Next() }
}

func equalSets(a, b param.Set) bool {
	if len(a) != len(b) {
		return false
	}
	for name, t := range a {
		u, ok := b[name]
		if !ok || !slices.Equal(t.Shape, u.Shape) || !slices.Equal(t.Data, u.Data) {
			return false
		}
	}
	return true
}

func TestSupernetDeterministic(t *testing.T) {
	train, _ := fashion(t)
	small := train.Sample(96, 1)
	run := func(seed uint64, sampler func(testing.TB, uint64) Sampler) Checkpoint {
		opts := Defaults(8, seed)
		opts.Batch = 16
		tr, err := NewTrainer(fashionConfig(4), small, sampler(t, seed), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Run(context.Background(), opts.Steps); err != nil {
			t.Fatal(err)
		}
		return tr.Checkpoint()
	}
	a, b := run(1, uniform), run(1, uniform)
	if !equalSets(a.Weights, b.Weights) || a.State != b.State {
		t.Errorf("two runs with seed 1 differ")
	}
	if c := run(2, uniform); equalSets(a.Weights, c.Weights) {
		t.Errorf("runs with seeds 1 and 2 are identical")
	}
	f1, f2 := run(1, fair), run(1, fair)
	if !equalSets(f1.Weights, f2.Weights) {
		t.Errorf("two fair runs with seed 1 differ")
	}
	if equalSets(a.Weights, f1.Weights) {
		t.Errorf("uniform and fair runs are identical")
	}
}

func TestResume(t *testing.T) {
	train, _ := fashion(t)
	small := train.Sample(40, 2) // 16-image batches: an epoch ends every 3 batches
	opts := Defaults(10, 3)
	opts.Batch = 16
	cfg := fashionConfig(4)
	full, err := NewTrainer(cfg, small, uniform(t, 3), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := full.Run(context.Background(), opts.Steps); err != nil {
		t.Fatal(err)
	}

	first, err := NewTrainer(cfg, small, uniform(t, 3), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Run(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	ck := first.Checkpoint()
	for _, prefix := range []string{"momentum.stem.conv", "buffer.stem.bn.running_mean", "stem.conv"} {
		if _, ok := ck.Weights[prefix]; !ok {
			t.Errorf("checkpoint lacks %s", prefix)
		}
	}
	resumed, err := Resume(ck.clone(), cfg, small, uniform(t, 3), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resumed.Run(context.Background(), opts.Steps); err != nil {
		t.Fatal(err)
	}
	got, want := resumed.Checkpoint(), full.Checkpoint()
	if got.State != want.State {
		t.Errorf("resumed state %+v, want %+v", got.State, want.State)
	}
	if !equalSets(got.Weights, want.Weights) {
		t.Errorf("resumed run's weights differ from the uninterrupted run's")
	}
	if equalSets(got.Weights, ck.Weights) {
		t.Errorf("resumed run did not train")
	}
}

func (c Checkpoint) clone() Checkpoint { return Checkpoint{Weights: c.Weights.Clone(), State: c.State} }
