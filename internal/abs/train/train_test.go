package train

import (
	"context"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

var (
	fashionOnce               sync.Once
	fashionTrain, fashionTest *data.Set
	fashionErr                error
)

// fashion returns the real Fashion-MNIST train and test splits, loaded once per test binary, or
// skips the test where Debian's dataset-fashion-mnist package is not installed (fails in CI, which
// installs it).
func fashion(t testing.TB) (train, test *data.Set) {
	t.Helper()
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Fashion-MNIST not installed at %s (Debian package dataset-fashion-mnist), and CI is set", data.FashionMNISTDir)
		}
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

func fashionConfig(c int) supernet.NB201 {
	return supernet.NB201{C: c, N: 1, InC: 1, H: 28, W: 28, Classes: 10}
}

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

// perCell returns the authors' per-cell sampler over the full NB201 space for the 3 cells of
// fashionConfig.
func perCell(t testing.TB, seed uint64) Sampler {
	t.Helper()
	p, err := space.NewPerCell(space.NB201{}.Full(), 3, seed)
	if err != nil {
		t.Fatal(err)
	}
	return func() []int { return p.Next() }
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
	p1, p2 := run(1, perCell), run(1, perCell)
	if !equalSets(p1.Weights, p2.Weights) {
		t.Errorf("two per-cell runs with seed 1 differ")
	}
	if equalSets(a.Weights, p1.Weights) {
		t.Errorf("uniform and per-cell runs are identical")
	}
}

// TestThreadsSameBits: training on one thread and on several gives the same weights, bit for bit
// (the matrix multiplies spread over GOMAXPROCS goroutines without changing any sum's order).
func TestThreadsSameBits(t *testing.T) {
	train, _ := fashion(t)
	small := train.Sample(128, 3)
	run := func(procs int) Checkpoint {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		opts := Defaults(4, 1)
		opts.Batch = 32
		tr, err := NewTrainer(fashionConfig(8), small, uniform(t, 1), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Run(context.Background(), opts.Steps); err != nil {
			t.Fatal(err)
		}
		return tr.Checkpoint()
	}
	one := run(1)
	for _, procs := range []int{2, 3} {
		if c := run(procs); !equalSets(one.Weights, c.Weights) || one.State != c.State {
			t.Errorf("GOMAXPROCS=%d: weights differ from GOMAXPROCS=1", procs)
		}
	}
}

// TestResume checks that a run resumed from a checkpoint is bit-identical to the uninterrupted
// run, with whole-net sampling, and with per-cell sampling plus idle updates (whose set of idle
// parameters must survive the checkpoint).
func TestResume(t *testing.T) {
	t.Run("whole-net", func(t *testing.T) { testResume(t, uniform, false) })
	t.Run("per-cell-idle", func(t *testing.T) { testResume(t, perCell, true) })
}

func testResume(t *testing.T, sampler func(testing.TB, uint64) Sampler, idle bool) {
	uniform := sampler
	train, _ := fashion(t)
	small := train.Sample(40, 2) // 16-image batches: an epoch ends every 3 batches
	opts := Defaults(10, 3)
	opts.Batch = 16
	opts.IdleUpdates = idle
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

	for _, drop := range []string{"stem.conv", "buffer.stem.bn.running_var"} {
		bad := ck.clone()
		if drop == "stem.conv" {
			delete(bad.Weights, drop)
		} else {
			bad.Weights[drop] = param.Tensor{Shape: []int{1}, Data: []float32{1}}
		}
		if _, err := Resume(bad, cfg, small, uniform(t, 3), opts); err == nil {
			t.Errorf("Resume accepted a checkpoint with a bad %s", drop)
		}
	}
}

// TestIdleUpdates trains one child, then a second that does not use a convolution of the first,
// and checks that convolution by hand: without idle updates it stays as step 1 left it; with them
// it moves by SGD with a zero gradient, g = λ·w, b ← μ·b + g, w ← w − η·(g + μ·b), with b the
// momentum buffer after step 1 and η the cosine rate of step 2.
func TestIdleUpdates(t *testing.T) {
	train, _ := fashion(t)
	small := train.Sample(32, 5)
	archs := [][]int{{3, 0, 0, 0, 1, 0}, {2, 0, 0, 0, 1, 0}} // edge 0: nor_conv_3x3, then nor_conv_1x1
	const name = "cell1.edge0.nor_conv_3x3.conv"
	for _, idle := range []bool{false, true} {
		opts := Defaults(2, 5)
		opts.Batch = 16
		opts.IdleUpdates = idle
		i := 0
		tr, err := NewTrainer(fashionConfig(4), small, func() []int { i++; return archs[i-1] }, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Run(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		ck := tr.Checkpoint()
		w1, b1 := ck.Weights[name].Data, ck.Weights["momentum."+name].Data
		if _, err := tr.Run(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		w2 := tr.Checkpoint().Weights[name].Data
		lr, mu, wd := float32(nn.Cosine(opts.LR, opts.LRMin, 1, 2)), float32(opts.Momentum), float32(opts.WeightDecay)
		for k := range w1 {
			want := w1[k]
			if idle {
				g := wd * w1[k]
				b := mu*b1[k] + g
				want = w1[k] - lr*(g+mu*b)
			}
			if d := w2[k] - want; d > 1e-7 || d < -1e-7 {
				t.Fatalf("idle %v: %s[%d] = %v after step 2, want %v", idle, name, k, w2[k], want)
			}
		}
		if idle && slices.Equal(w1, w2) {
			t.Errorf("idle updates left %s unchanged", name)
		}
	}
}

func (c Checkpoint) clone() Checkpoint { return Checkpoint{Weights: c.Weights.Clone(), State: c.State} }

func TestSamplerRejection(t *testing.T) {
	train, _ := fashion(t)
	small := train.Sample(16, 4)
	opts := Defaults(2, 4)
	opts.Batch = 8
	seq := [][]int{{0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 0}, {2, 1, 1, 1, 1, 1}}
	i := 0
	tr, err := NewTrainer(fashionConfig(2), small, func() []int { c := seq[i%len(seq)]; i++; return c }, opts)
	if err != nil {
		t.Fatal(err)
	}
	var trained [][]int
	for range 2 {
		arch, _, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		trained = append(trained, arch)
	}
	if want := [][]int{seq[1], seq[3]}; !slices.EqualFunc(trained, want, slices.Equal) || tr.State.Samples != 4 {
		t.Errorf("trained %v after %d draws, want %v after 4 (disconnected children skipped)", trained, tr.State.Samples, want)
	}
	if _, _, err := tr.Step(); err == nil {
		t.Errorf("a third step of a 2-step run succeeded")
	}

	bad, err := NewTrainer(fashionConfig(2), small, func() []int { return []int{1, 1, 7, 1, 1, 1} }, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bad.Step(); err == nil || bad.State.Samples != 1 {
		t.Errorf("invalid child: err %v after %d draws, want an error after 1", err, bad.State.Samples)
	}
}
