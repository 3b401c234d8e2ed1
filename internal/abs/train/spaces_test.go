package train

import (
	"context"
	"math"
	"testing"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/family"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

// dartsShrunk allows none, max_pool_3x3, skip_connect and sep_conv_3x3 on every edge: a shrunk
// DARTS space with a pool, an identity and a conv on every edge.
func dartsShrunk() space.Shrunk {
	s := space.DARTS{}.Full()
	for p := range s.Allowed {
		s.Allowed[p] = []int{space.DARTSNone, space.DARTSMaxPool, space.DARTSSkip, space.DARTSSepConv3}
	}
	return s
}

func sampler(t testing.TB, sp space.Space, s space.Shrunk, seed uint64) Sampler {
	t.Helper()
	u, err := space.NewUniform(sp, s, seed)
	if err != nil {
		t.Fatal(err)
	}
	return func() []int { return u.Next() }
}

// supernetCase is a supernet of another space with a sampler over a shrunk space of it (sample)
// and one over a space shrunk further, to two ops per choice point (narrow).
type supernetCase struct {
	name           string
	spec           func(set *data.Set) supernet.Spec
	sample, narrow func(t testing.TB, seed uint64) Sampler
	angle          angle.Net
}

// twoOps keeps the ops a and b (and identity where allowed) on every layer of m.
func twoOps(m space.Mobile, a, b int) space.Shrunk {
	s := m.Full()
	for p, ops := range s.Allowed {
		keep := []int{a, b}
		if ops[len(ops)-1] == space.MobileIdentity {
			keep = append(keep, space.MobileIdentity)
		}
		s.Allowed[p] = keep
	}
	return s
}

func supernetCases(t testing.TB) []supernetCase {
	spec := func(name family.Name, c family.Net) func(*data.Set) supernet.Spec {
		return func(set *data.Set) supernet.Spec {
			f, err := family.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			s, err := f.Spec(c, family.Image{C: set.C, H: set.H, W: set.W, Classes: set.Classes})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	px, fn := space.ProxylessGPU(), space.FairNAS()
	return []supernetCase{
		{"darts", spec(family.DARTS, family.Net{Width: 4, Cells: 3}),
			func(t testing.TB, seed uint64) Sampler { return sampler(t, space.DARTS{}, dartsShrunk(), seed) },
			func(t testing.TB, seed uint64) Sampler {
				s := space.DARTS{}.Full()
				for p := range s.Allowed {
					s.Allowed[p] = []int{space.DARTSNone, space.DARTSSkip, space.DARTSSepConv3} // none: the edges that are not inputs
				}
				return sampler(t, space.DARTS{}, s, seed)
			},
			angle.DARTS(4, 3)},
		{"proxyless-gpu", spec(family.ProxylessGPU, family.Net{WidthMult: 0.25}),
			func(t testing.TB, seed uint64) Sampler { return sampler(t, px, px.Full(), seed) },
			func(t testing.TB, seed uint64) Sampler { return sampler(t, px, twoOps(px, 0, 2), seed) },
			angle.Mobile(px)},
		{"fairnas", spec(family.FairNAS, family.Net{WidthMult: 0.25}),
			func(t testing.TB, seed uint64) Sampler { return sampler(t, fn, fn.Full(), seed) },
			func(t testing.TB, seed uint64) Sampler { return sampler(t, fn, twoOps(fn, 0, 2), seed) },
			angle.Mobile(fn)},
	}
}

// TestSpacesDeterministicAndResume checks, for the DARTS and MobileNet-like supernets, that two
// runs with the same seed give the same bytes, that another seed does not, and that a run resumed
// from a checkpoint equals the uninterrupted run.
func TestSpacesDeterministicAndResume(t *testing.T) {
	train, _ := fashion(t)
	small := train.Sample(40, 2) // 16-image batches: an epoch ends every 3 batches
	for _, c := range supernetCases(t) {
		t.Run(c.name, func(t *testing.T) {
			opts := Defaults(6, 3)
			opts.Batch = 16
			run := func(seed uint64, steps int) *Trainer {
				o := opts
				o.Seed = seed
				tr, err := NewTrainer(c.spec(small), small, c.sample(t, seed), o)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tr.Run(context.Background(), steps); err != nil {
					t.Fatal(err)
				}
				return tr
			}
			full := run(3, opts.Steps).Checkpoint()
			if again := run(3, opts.Steps).Checkpoint(); !equalSets(full.Weights, again.Weights) || full.State != again.State {
				t.Errorf("two runs with seed 3 differ")
			}
			if other := run(4, opts.Steps).Checkpoint(); equalSets(full.Weights, other.Weights) {
				t.Errorf("runs with seeds 3 and 4 are identical")
			}
			ck := run(3, 2).Checkpoint()
			resumed, err := Resume(ck.clone(), c.spec(small), small, c.sample(t, 3), opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := resumed.Run(context.Background(), opts.Steps); err != nil {
				t.Fatal(err)
			}
			got := resumed.Checkpoint()
			if got.State != full.State || !equalSets(got.Weights, full.Weights) {
				t.Errorf("resumed run (state %+v) differs from the uninterrupted run (state %+v)", got.State, full.State)
			}
		})
	}
}

// TestSpacesTrainFashion trains each supernet for 80 steps on real Fashion-MNIST images with
// children sampled from a space shrunk to two ops per choice point, and checks that the loss falls,
// that the angle metric reads the trained weights (every sampled child's angle against the initial
// weights is positive) and, for DARTS, that children evaluated with inherited weights and Re-BN
// beat chance (0.1). The MobileNet-like supernets, 23 layers deep with a different op per layer at
// every step, are still near chance after 80 steps (Re-BN accuracy 0.05–0.15 measured), while one
// fixed child trained the same way reaches about 0.57; their accuracy needs far longer training than a
// unit test affords.
func TestSpacesTrainFashion(t *testing.T) {
	train, test := fashion(t)
	trainSet, testSet := train.Sample(960, 8), test.Sample(200, 8)
	for _, c := range supernetCases(t) {
		t.Run(c.name, func(t *testing.T) {
			opts := Defaults(80, 8)
			opts.Batch, opts.LR = 32, 0.1
			sample := c.narrow(t, 8)
			tr, err := NewTrainer(c.spec(trainSet), trainSet, sample, opts)
			if err != nil {
				t.Fatal(err)
			}
			base := tr.Net.Set()
			losses, err := tr.Run(context.Background(), opts.Steps)
			if err != nil {
				t.Fatal(err)
			}
			first, last := mean(losses[:15]), mean(losses[len(losses)-15:])
			var children [][]int
			for len(children) < 3 {
				if ch := sample(); tr.Net.Check(ch) == nil {
					children = append(children, ch)
				}
			}
			accs, err := Evaluate(context.Background(), tr.Net, children, trainSet, testSet, EvalOptions{Batch: 100, ReBN: 3, Seed: 8, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("loss %.3f → %.3f, Re-BN accuracy of 3 children %.3f", first, last, accs)
			// Measured: DARTS 2.34 → 1.92 (one shared cell), ProxylessNAS 2.96 → 2.64, FairNAS 2.92 → 2.54.
			if last > first-0.25 {
				t.Errorf("mean loss of the last 15 steps %.3f, want at most %.3f (first 15 steps %.3f minus 0.25)", last, first-0.25, first)
			}
			// Measured for DARTS: 0.23, 0.34, 0.32 (one shared cell).
			if m := mean(accs); c.name == "darts" && m < 0.18 {
				t.Errorf("mean Re-BN accuracy %.3f, want ≥ 0.18 (chance is 0.1)", m)
			}
			st, err := angle.Compute(c.angle, base, tr.Net.Set())
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range children {
				a, err := st.Angle(ch)
				if err != nil {
					t.Fatal(err)
				}
				if !(a > 0 && a < math.Pi/2) {
					t.Errorf("child %v: angle %g, want in (0, π/2) after 80 steps", ch, a)
				}
			}
		})
	}
}
