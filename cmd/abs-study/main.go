// Command abs-study measures how well the angle metric ranks NB201 models trained stand-alone on
// Fashion-MNIST: it trains n connected architectures drawn uniformly (seeded) from scratch, takes
// each one's angle between its initial and trained weights (Algorithm 1 and Eq. 2 of the ABS
// paper, on the model's own weights) and its test accuracy, and prints both with their Kendall tau.
// The paper reports τ ≈ 0.82–0.83 for stand-alone NB201 models on CIFAR (Hu et al., ECCV 2020).
//
// Usage:
//
//	abs-study [-n 24] [-epochs 2] [-train 2000] [-width 8] [-seed 1] [-markdown]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/rank"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/train"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "abs-study:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("abs-study", flag.ContinueOnError)
	n := fs.Int("n", 24, "architectures to train")
	epochs := fs.Int("epochs", 2, "training epochs per architecture")
	trainN := fs.Int("train", 2000, "training images (Fashion-MNIST training split)")
	testN := fs.Int("test", 2000, "test images (Fashion-MNIST test split)")
	width := fs.Int("width", 8, "channels C of the first stage")
	cells := fs.Int("cells", 1, "cells N per stage")
	seed := fs.Uint64("seed", 1, "seed of the architecture draw, the data subsets and the initialisations")
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	full, err := data.FashionMNIST(data.FashionMNISTDir, "train")
	if err != nil {
		return err
	}
	test, err := data.FashionMNIST(data.FashionMNISTDir, "test")
	if err != nil {
		return err
	}
	tr := full.Sample(*trainN, int64(*seed))
	te := test.Sample(*testN, int64(*seed))
	mean, std := tr.ChannelStats()
	tr.Normalize(mean, std)
	te.Normalize(mean, std)
	cfg := nn.Config{C: *width, N: *cells, InC: tr.C, H: tr.H, W: tr.W, Classes: tr.Classes}
	sampler, err := space.NewUniform(space.NB201{}, space.NB201{}.Full(), *seed)
	if err != nil {
		return err
	}
	net := angle.NB201(*width, *cells)
	steps := *epochs * ((tr.N + 63) / 64)
	var angles, accs []float64
	if *markdown {
		fmt.Fprintln(out, "| # | architecture | angle (rad) | test accuracy (%) | seconds |")
		fmt.Fprintln(out, "|---|---|---|---|---|")
	}
	for i := 0; i < *n; i++ {
		arch := sampler.Next()
		opts := train.Defaults(steps, *seed+uint64(i))
		start := time.Now()
		res, err := train.Standalone(ctx, cfg, arch, tr, te, opts)
		if err != nil {
			return err
		}
		// Standalone initialises the network from opts.Seed: rebuild those initial weights.
		init, err := nn.New(cfg, tensor.Float32, opts.Init, opts.Seed)
		if err != nil {
			return err
		}
		stats, err := angle.Compute(net, init.Set(), res.Trainer.Net.Set())
		if err != nil {
			return err
		}
		a, err := stats.Angle(arch)
		if err != nil {
			return err
		}
		angles, accs = append(angles, a), append(accs, 100*res.TestAccuracy)
		text := space.NB201{}.Format(arch)
		secs := time.Since(start).Seconds()
		if *markdown {
			// A | inside a table cell must be escaped, even in a code span.
			fmt.Fprintf(out, "| %d | `%s` | %.4f | %.2f | %.0f |\n", i, strings.ReplaceAll(text, "|", `\|`), a, 100*res.TestAccuracy, secs)
		} else {
			fmt.Fprintf(out, "%2d %s angle %.4f test %.2f%% (%.0f s)\n", i, text, a, 100*res.TestAccuracy, secs)
		}
	}
	fmt.Fprintf(out, "\nKendall tau(angle, test accuracy) over %d models: %.3f; Spearman rho: %.3f\n",
		len(angles), rank.KendallTau(angles, accs), rank.Spearman(angles, accs))
	return nil
}
