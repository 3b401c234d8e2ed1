package train

import (
	"context"
	"fmt"
	"sync"

	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/supernet"
)

// EvalOptions configures the evaluation of children with inherited weights.
type EvalOptions struct {
	// Batch is the mini-batch size of evaluation and of Re-BN.
	Batch int
	// ReBN is the number K of training batches over which each child's batch-norm statistics are
	// recomputed before it is evaluated (the "Re-BN" of the ABS paper, §4.2). With K = 0 the
	// children use the supernet's running statistics.
	ReBN int
	// Seed drives the order of the Re-BN batches; every child sees the same K batches.
	Seed uint64
	// Workers is the number of children evaluated at once (at least 1). The result does not
	// depend on it.
	Workers int
}

// Evaluate returns the top-1 accuracy on test of each child in archs, using the weights of net
// unchanged. With opts.ReBN > 0 each child's batch-norm running statistics are first recomputed as
// the mean of the batch statistics over opts.ReBN batches of train (in a private copy; net's own
// statistics are untouched); otherwise the statistics accumulated during supernet training are used.
// Children are evaluated in parallel by opts.Workers goroutines, which have all finished when
// Evaluate returns.
func Evaluate(ctx context.Context, net *supernet.Net, archs [][]int, train, test *data.Set, opts EvalOptions) ([]float64, error) {
	if opts.Batch < 1 || opts.Workers < 1 || opts.ReBN < 0 {
		return nil, fmt.Errorf("eval options: Batch = %d, Workers = %d, ReBN = %d, want ≥ 1, ≥ 1, ≥ 0", opts.Batch, opts.Workers, opts.ReBN)
	}
	if test.N < 1 || (opts.ReBN > 0 && (train == nil || train.N < 1)) {
		return nil, fmt.Errorf("eval: empty data set")
	}
	for i, arch := range archs {
		if err := net.Check(arch); err != nil {
			return nil, fmt.Errorf("eval child %d: %w", i, err)
		}
	}
	acc := make([]float64, len(archs))
	errs := make([]error, len(archs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				acc[i], errs[i] = evalChild(ctx, net, archs[i], train, test, opts)
			}
		}()
	}
	for i := range archs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("eval child %d %v: %w", i, archs[i], err)
		}
	}
	return acc, nil
}

func evalChild(ctx context.Context, net *supernet.Net, arch []int, train, test *data.Set, opts EvalOptions) (float64, error) {
	stats := net.RunningStats()
	if opts.ReBN > 0 {
		stats = make(map[string]*nn.Stats, len(stats))
		for name, st := range net.RunningStats() {
			stats[name] = nn.NewStats(len(st.Mean))
		}
		l := data.NewLoader(train, opts.Batch, true, data.Augment{}, int64(opts.Seed))
		for k := 0; k < opts.ReBN; k++ {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			x, y, ok := l.Next()
			if !ok {
				x, y, _ = l.Next()
			}
			in, err := net.Input(x, len(y))
			if err != nil {
				return 0, err
			}
			if _, err := net.Logits(arch, in, nn.BNRecompute, stats); err != nil {
				return 0, err
			}
		}
	}
	return Accuracy(ctx, net, arch, test, opts.Batch, stats)
}

// Accuracy returns the fraction of test that child arch classifies correctly (ties to the lower
// class), with batch norms using the running statistics in stats.
func Accuracy(ctx context.Context, net *supernet.Net, arch []int, test *data.Set, batch int, stats map[string]*nn.Stats) (float64, error) {
	l := data.NewLoader(test, batch, false, data.Augment{}, 0)
	correct := 0
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		x, y, ok := l.Next()
		if !ok {
			break
		}
		in, err := net.Input(x, len(y))
		if err != nil {
			return 0, err
		}
		logits, err := net.Logits(arch, in, nn.BNEval, stats)
		if err != nil {
			return 0, err
		}
		k := net.Shape().Classes
		for b, label := range y {
			row := logits[b*k : (b+1)*k]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == label {
				correct++
			}
		}
	}
	return float64(correct) / float64(test.N), nil
}

// Result is the outcome of training one architecture from scratch.
type Result struct {
	// Trainer holds the trained network and the optimiser state.
	Trainer *Trainer
	// Losses holds the training loss of every step.
	Losses []float64
	// TestAccuracy is the top-1 accuracy on the test set with the running batch-norm statistics.
	TestAccuracy float64
	// Weights holds the trained parameters of the architecture: those its training updated, i.e.
	// the weights of a stand-alone model of arch (the network holds the whole space's).
	Weights param.Set
}

// Standalone trains the fixed architecture arch from scratch on train for opts.Steps steps and
// returns its accuracy on test: the engine of the retrain stage. The network holds the weights of
// the whole space, but only those of arch are trained (Result.Weights); the run is deterministic in
// opts.Seed.
func Standalone(ctx context.Context, cfg supernet.Spec, arch []int, train, test *data.Set, opts Options) (*Result, error) {
	a := append([]int(nil), arch...)
	tr, err := NewTrainer(cfg, train, func() []int { return a }, opts)
	if err != nil {
		return nil, fmt.Errorf("standalone: %w", err)
	}
	if err := tr.Net.Check(arch); err != nil {
		return nil, fmt.Errorf("standalone: %w", err)
	}
	losses, err := tr.Run(ctx, opts.Steps)
	if err != nil {
		return nil, fmt.Errorf("standalone %v: %w", arch, err)
	}
	acc, err := Accuracy(ctx, tr.Net, arch, test, opts.Batch, tr.Net.RunningStats())
	if err != nil {
		return nil, fmt.Errorf("standalone %v: %w", arch, err)
	}
	w := tr.Net.Set()
	for name := range w {
		if !tr.used[name] {
			delete(w, name)
		}
	}
	return &Result{Trainer: tr, Losses: losses, TestAccuracy: acc, Weights: w}, nil
}
