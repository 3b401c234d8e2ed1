// Package train trains the supernets of package supernet (NB201, DARTS, MobileNet-like): the
// weight-sharing supernet with single-path sampling (Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform
// Sampling", ECCV 2020), the children evaluated with inherited weights with and without recomputed
// batch-norm statistics (Re-BN), and fixed architectures trained from scratch. It does no artifact
// I/O: weights go in and out as param.Set.
//
// Everything is deterministic: the same data, sampler, options and seed give bit-identical weights,
// and a run resumed from a checkpoint continues exactly as the uninterrupted run would.
package train

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

// Options configures SGD training. The zero value is not usable; Defaults gives the settings the
// ABS authors used on NB201.
type Options struct {
	// Steps is the total number of steps T of the run; the cosine schedule reaches LRMin at T.
	Steps int
	// Batch is the mini-batch size.
	Batch int
	// LR and LRMin are the initial and final learning rates of the cosine schedule.
	LR, LRMin float64
	// Momentum (Nesterov) and WeightDecay (L2, added to the gradient).
	Momentum, WeightDecay float64
	// Init selects the weight initialisation.
	Init nn.Init
	// IdleUpdates keeps updating every parameter that an earlier step trained on the steps whose
	// child does not use it, with a zero gradient: weight decay and momentum still move it. This is
	// what PyTorch 1.x does after zero_grad() (gradients zeroed, not dropped) and so what the ABS
	// authors' NB201 supernet training did; their DARTS code drops all-zero gradients, which is
	// IdleUpdates false (a parameter is touched only by the steps that use it).
	IdleUpdates bool
	// Seed drives initialisation and the batch order.
	Seed uint64
}

// Defaults returns the authors' NB201 supernet settings for a run of steps steps: SGD with
// Nesterov momentum 0.9, learning rate 0.025 annealed by cosine to 0.001, weight decay 5e-4, batch
// 64, Kaiming-normal initialisation.
func Defaults(steps int, seed uint64) Options {
	return Options{Steps: steps, Batch: 64, LR: 0.025, LRMin: 0.001, Momentum: 0.9, WeightDecay: 5e-4, Init: nn.KaimingNormal, Seed: seed}
}

func (o Options) validate() error {
	switch {
	case o.Steps < 1:
		return fmt.Errorf("train options: Steps = %d, want ≥ 1", o.Steps)
	case o.Batch < 1:
		return fmt.Errorf("train options: Batch = %d, want ≥ 1", o.Batch)
	case o.LR <= 0 || o.LRMin < 0 || o.LRMin > o.LR:
		return fmt.Errorf("train options: LR = %g, LRMin = %g, want 0 ≤ LRMin ≤ LR, LR > 0", o.LR, o.LRMin)
	case o.Momentum < 0 || o.Momentum >= 1:
		return fmt.Errorf("train options: Momentum = %g, want [0, 1)", o.Momentum)
	case o.WeightDecay < 0:
		return fmt.Errorf("train options: WeightDecay = %g, want ≥ 0", o.WeightDecay)
	}
	return nil
}

// Sampler returns the architecture of the next child to train: one op code per choice point of the
// net's space (6 for NB201, 14 for DARTS, one cell that every cell runs, one per layer for
// MobileNet-like nets). The caller seeds it. The trainer calls it once per step and again while the child it returns is disconnected
// (output unreachable from the input), up to maxDraws times: disconnected children are rejected as
// in the authors' supernet training. Any other invalid child is an error.
type Sampler func() []int

// maxDraws bounds the draws per step spent rejecting disconnected children.
const maxDraws = 1000

// State is the progress of a run, saved in a checkpoint beside the weights.
type State struct {
	// Step counts the optimisation steps done.
	Step int
	// Batches counts the calls made to the data loader (including the end-of-epoch calls).
	Batches int
	// Samples counts the calls made to the sampler.
	Samples int
}

// Trainer trains a network by SGD on one data set, one sampled child per step.
type Trainer struct {
	Net   *supernet.Net
	Opt   *nn.SGD
	Opts  Options
	State State

	set    *data.Set
	loader *data.Loader
	sample Sampler
	used   map[string]bool          // parameters some step has updated
	zeros  map[string]*tensor.Dense // zero gradients of idle parameters (Options.IdleUpdates)
}

// NewTrainer returns a trainer of a freshly initialised network of shape cfg (supernet.NB201,
// supernet.DARTS or supernet.Mobile; input shape and classes must match set) that trains on
// set with children drawn from sample. The initial weights, the base weights of the angle metric,
// are t.Net.Set() before the first step.
func NewTrainer(cfg supernet.Spec, set *data.Set, sample Sampler, opts Options) (*Trainer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if set.N < 1 {
		return nil, fmt.Errorf("data set is empty")
	}
	net, err := supernet.New(cfg, tensor.Float32, opts.Init, opts.Seed)
	if err != nil {
		return nil, err
	}
	if s := net.Shape(); set.C != s.InC || set.H != s.H || set.W != s.W || set.Classes != s.Classes {
		return nil, fmt.Errorf("data set %d×%d×%d with %d classes, net expects %d×%d×%d with %d", set.C, set.H, set.W, set.Classes, s.InC, s.H, s.W, s.Classes)
	}
	return &Trainer{
		Net: net, Opt: nn.NewSGD(opts.Momentum, opts.WeightDecay), Opts: opts,
		set: set, loader: data.NewLoader(set, opts.Batch, true, data.Augment{}, int64(opts.Seed)), sample: sample,
		zeros: map[string]*tensor.Dense{},
	}, nil
}

// Step trains one child on one batch and returns its architecture and loss.
func (t *Trainer) Step() ([]int, float64, error) {
	if t.State.Step >= t.Opts.Steps {
		return nil, 0, fmt.Errorf("train step %d: run has %d steps", t.State.Step+1, t.Opts.Steps)
	}
	var arch []int
	for tries := 0; ; tries++ {
		if tries == maxDraws {
			return nil, 0, fmt.Errorf("train step %d: %d sampled children in a row are disconnected", t.State.Step+1, maxDraws)
		}
		arch = t.sample()
		t.State.Samples++
		err := t.Net.Check(arch)
		if err == nil {
			break
		}
		if !errors.Is(err, supernet.ErrDisconnected) {
			return nil, 0, fmt.Errorf("train step %d: sampler: %w", t.State.Step+1, err)
		}
	}
	x, y, ok := t.loader.Next()
	t.State.Batches++
	if !ok {
		x, y, _ = t.loader.Next()
		t.State.Batches++
	}
	in, err := t.Net.Input(x, len(y))
	if err != nil {
		return nil, 0, err
	}
	loss, grads, err := t.Net.Backward(arch, in, y, t.Net.RunningStats())
	if err != nil {
		return nil, 0, fmt.Errorf("train step %d: %w", t.State.Step+1, err)
	}
	lr := nn.Cosine(t.Opts.LR, t.Opts.LRMin, t.State.Step, t.Opts.Steps)
	if t.Opts.IdleUpdates {
		grads = t.withIdle(grads)
	}
	if err := t.Opt.Step(lr, t.Net.Weights(), grads); err != nil {
		return nil, 0, fmt.Errorf("train step %d: %w", t.State.Step+1, err)
	}
	if t.used == nil {
		t.used = map[string]bool{}
	}
	for name := range grads {
		t.used[name] = true
	}
	t.State.Step++
	return arch, loss, nil
}

// withIdle returns grads plus a zero gradient for every parameter that has a momentum buffer (an
// earlier step updated it, in this run or before the checkpoint it resumed from) but no gradient
// in grads. The zero tensors are shared across steps: SGD only reads gradients.
func (t *Trainer) withIdle(grads map[string]*tensor.Dense) map[string]*tensor.Dense {
	if len(t.Opt.Buffers) == 0 {
		return grads
	}
	all := make(map[string]*tensor.Dense, len(t.Opt.Buffers))
	for name, g := range grads {
		all[name] = g
	}
	for name, b := range t.Opt.Buffers {
		if all[name] != nil {
			continue
		}
		z := t.zeros[name]
		if z == nil {
			z = tensor.New(tensor.Of(b.Dtype()), tensor.WithShape(b.Shape()...))
			t.zeros[name] = z
		}
		all[name] = z
	}
	return all
}

// Run trains until step n (or the end of the run, if sooner) and returns the losses of the steps it
// made. It stops early, with ctx's error, when ctx is done.
func (t *Trainer) Run(ctx context.Context, n int) ([]float64, error) {
	n = min(n, t.Opts.Steps)
	var losses []float64
	for t.State.Step < n {
		if err := ctx.Err(); err != nil {
			return losses, err
		}
		_, loss, err := t.Step()
		if err != nil {
			return losses, err
		}
		losses = append(losses, loss)
	}
	return losses, nil
}

// Checkpoint is everything needed to continue a run: Weights holds the parameters under their own
// names, the momentum buffers under "momentum.<name>" and the batch-norm running statistics under
// "buffer.<layer>.running_mean" and "buffer.<layer>.running_var".
type Checkpoint struct {
	Weights param.Set
	State   State
}

// Checkpoint returns a copy of the trainer's state.
func (t *Trainer) Checkpoint() Checkpoint {
	w := t.Net.Set()
	for name, b := range t.Opt.Buffers {
		w["momentum."+name] = param.Tensor{Shape: append([]int(nil), b.Shape()...), Data: append([]float32(nil), b.Data().([]float32)...)}
	}
	for name, st := range t.Net.RunningStats() {
		w["buffer."+name+".running_mean"] = statTensor(st.Mean)
		w["buffer."+name+".running_var"] = statTensor(st.Var)
	}
	return Checkpoint{Weights: w, State: t.State}
}

func statTensor(v []float64) param.Tensor {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return param.Tensor{Shape: []int{len(v)}, Data: f}
}

// Resume returns a trainer that continues the run saved in ck. set, sample and opts must be those
// of the original run, with sample freshly seeded as it was then: Resume replays the sampler and the
// data loader up to the saved position, so the resumed run is bit-identical to an uninterrupted one.
func Resume(ck Checkpoint, cfg supernet.Spec, set *data.Set, sample Sampler, opts Options) (*Trainer, error) {
	t, err := NewTrainer(cfg, set, sample, opts)
	if err != nil {
		return nil, err
	}
	params := param.Set{}
	for name, v := range ck.Weights {
		switch {
		case strings.HasPrefix(name, "momentum."):
			p := strings.TrimPrefix(name, "momentum.")
			w := t.Net.Weights()[p]
			if w == nil || w.Shape().TotalSize() != len(v.Data) {
				return nil, fmt.Errorf("resume: momentum buffer %s does not match a parameter", name)
			}
			t.Opt.Buffers[p] = tensor.New(tensor.WithShape(w.Shape()...), tensor.WithBacking(append([]float32(nil), v.Data...)))
		case strings.HasPrefix(name, "buffer."):
			layer, stat, ok := strings.Cut(strings.TrimPrefix(name, "buffer."), ".running_")
			st := t.Net.RunningStats()[layer]
			if !ok || st == nil || len(st.Mean) != len(v.Data) || (stat != "mean" && stat != "var") {
				return nil, fmt.Errorf("resume: %s is not the running mean or var of a batch norm of %d channels", name, len(v.Data))
			}
			dst := st.Mean
			if stat == "var" {
				dst = st.Var
			}
			for i, x := range v.Data {
				dst[i] = float64(x)
			}
		default:
			params[name] = v
		}
	}
	if err := t.Net.Load(params); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	s := ck.State
	if s.Step > opts.Steps || s.Step < 0 || s.Samples < 0 || s.Batches < 0 {
		return nil, fmt.Errorf("resume: state %+v does not fit a run of %d steps", s, opts.Steps)
	}
	for i := 0; i < s.Samples; i++ {
		t.sample()
	}
	for i := 0; i < s.Batches; i++ {
		t.loader.Next()
	}
	t.State = s
	return t, nil
}
