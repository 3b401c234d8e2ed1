// Command abs-study is the reproduction study's tool (docs/reproduction.md). `abs-study analyse`
// turns the runs scripts/study.sh made into results.parquet, tables.md and PNG plots (package
// internal/study). Without a subcommand it measures how well the angle metric ranks NB201 models trained stand-alone on
// Fashion-MNIST: it trains n connected architectures drawn uniformly (seeded) from scratch, takes
// each one's angle between its initial and trained weights (Algorithm 1 and Eq. 2 of the ABS
// paper, on the model's own weights) and its test accuracy, and prints both with their Kendall tau.
// The paper reports τ ≈ 0.82–0.83 for stand-alone NB201 models on CIFAR (Hu et al., ECCV 2020).
//
// Usage:
//
//	abs-study analyse -dir DIR [-out DIR/results] [-table CSV] [-authors JSON] [-search-seeds 10] [-search-budgets 10,50]
//	abs-study [-n 24] [-epochs 2] [-train 2000] [-width 8] [-seed 1] [-init pytorch] [-archs FILE [-shuffle]] [-out FILE] [-markdown]
//
// With -archs it trains the architectures listed in FILE (one a line, the six NB201 edges' op names
// separated by commas, edge order as in children.parquet; disconnected ones are skipped) instead of
// uniform draws; with -shuffle as well, the first n of them in a seeded random order. With -out it
// appends one JSON line per trained model to FILE and, run again, skips the models FILE already
// holds, so a long study resumes where it stopped.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/nn"
	"github.com/abs-nas/abs/internal/abs/rank"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/supernet"
	"github.com/abs-nas/abs/internal/abs/train"
	"github.com/abs-nas/abs/internal/study"
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
	if len(args) > 0 && args[0] == "analyse" {
		return analyse(ctx, args[1:], out)
	}
	fs := flag.NewFlagSet("abs-study", flag.ContinueOnError)
	n := fs.Int("n", 24, "architectures to train")
	epochs := fs.Int("epochs", 2, "training epochs per architecture")
	trainN := fs.Int("train", 2000, "training images (Fashion-MNIST training split)")
	testN := fs.Int("test", 2000, "test images (Fashion-MNIST test split)")
	width := fs.Int("width", 8, "channels C of the first stage")
	cells := fs.Int("cells", 1, "cells N per stage")
	seed := fs.Uint64("seed", 1, "seed of the architecture draw, the data subsets and the initialisations")
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	initName := fs.String("init", "pytorch", "weight initialisation of each model (pytorch: the authors' PyTorch default; kaiming, xavier, orthogonal)")
	archsFile := fs.String("archs", "", "file of the architectures to train (one a line: six op names separated by commas); empty: n uniform draws")
	shuffle := fs.Bool("shuffle", false, "with -archs: train the first -n of the file's connected architectures in a seeded random order, a uniform subset of the file rather than its first lines")
	outFile := fs.String("out", "", "JSON-lines file of the results: appended to, and the models it already holds are skipped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	initRule, err := nn.ParseInit(*initName)
	if err != nil {
		return fmt.Errorf("-init: %w", err)
	}
	var listed [][]int
	if *archsFile != "" {
		if listed, err = readArchs(*archsFile); err != nil {
			return err
		}
		if len(listed) < *n {
			return fmt.Errorf("-archs %s: %d architectures, want at least -n %d", *archsFile, len(listed), *n)
		}
		if *shuffle {
			shuffleArchs(listed, *seed)
		}
	} else if *shuffle {
		return errors.New("-shuffle needs -archs FILE")
	}
	done := map[int]Model{}
	if *outFile != "" {
		if done, err = readModels(*outFile); err != nil {
			return err
		}
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
	cfg := supernet.NB201{C: *width, N: *cells, InC: tr.C, H: tr.H, W: tr.W, Classes: tr.Classes}
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
		arch := sampler.Next() // drawn even when listed, so -n uniform draws do not depend on -archs
		if listed != nil {
			arch = listed[i]
		}
		text := space.NB201{}.Format(arch)
		m, ok := done[i]
		if ok && m.Arch != text {
			return fmt.Errorf("-out %s: model %d is %s, want %s (a file of another study?)", *outFile, i, m.Arch, text)
		}
		if !ok {
			opts := train.Defaults(steps, *seed+uint64(i))
			opts.Init = initRule
			start := time.Now()
			res, err := train.Standalone(ctx, cfg, arch, tr, te, opts)
			if err != nil {
				return err
			}
			// Standalone initialises the network from opts.Seed: rebuild those initial weights.
			init, err := supernet.New(cfg, tensor.Float32, opts.Init, opts.Seed)
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
			m = Model{Index: i, Arch: text, Ops: opNamesOf(arch), Angle: a, TestAcc: 100 * res.TestAccuracy,
				Steps: steps, Seconds: time.Since(start).Seconds()}
			if *outFile != "" {
				if err := appendModel(*outFile, m); err != nil {
					return err
				}
			}
		}
		a := m.Angle
		angles, accs = append(angles, a), append(accs, m.TestAcc)
		secs := m.Seconds
		if *markdown {
			// A | inside a table cell must be escaped, even in a code span.
			fmt.Fprintf(out, "| %d | `%s` | %.4f | %.2f | %.0f |\n", i, strings.ReplaceAll(text, "|", `\|`), a, m.TestAcc, secs)
		} else {
			fmt.Fprintf(out, "%2d %s angle %.4f test %.2f%% (%.0f s)\n", i, text, a, m.TestAcc, secs)
		}
	}
	fmt.Fprintf(out, "\nKendall tau(angle, test accuracy) over %d models: %.3f; Spearman rho: %.3f\n",
		len(angles), rank.KendallTau(angles, accs), rank.Spearman(angles, accs))
	return nil
}

// Model is one stand-alone model's result, a line of the -out file.
type Model struct {
	Index   int      `json:"index"`
	Arch    string   `json:"arch"`
	Ops     []string `json:"ops"`
	Angle   float64  `json:"angle"`
	TestAcc float64  `json:"test_acc"` // percent
	Steps   int      `json:"steps"`
	Seconds float64  `json:"seconds"`
}

func opNamesOf(arch []int) []string {
	ops := (space.NB201{}).Ops()
	names := make([]string, len(arch))
	for i, o := range arch {
		names[i] = ops[o].Name
	}
	return names
}

// shuffleArchs puts archs in a random order drawn from seed (Fisher–Yates, math/rand/v2's PCG), so
// that the first n of them are a uniform subset of the list.
func shuffleArchs(archs [][]int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5a))
	rng.Shuffle(len(archs), func(i, j int) { archs[i], archs[j] = archs[j], archs[i] })
}

// readArchs reads a file of architectures, one a line: the op names of the six edges, comma-separated.
func readArchs(path string) ([][]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-archs: %w", err)
	}
	defer f.Close()
	byName := map[string]int{}
	for i, o := range (space.NB201{}).Ops() {
		byName[o.Name] = i
	}
	var archs [][]int
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		names := strings.Split(t, ",")
		if len(names) != 6 {
			return nil, fmt.Errorf("-archs %s line %d: %d op names, want 6", path, line, len(names))
		}
		arch := make([]int, 6)
		for e, name := range names {
			o, ok := byName[strings.TrimSpace(name)]
			if !ok {
				return nil, fmt.Errorf("-archs %s line %d: op %q is not an NB201 op", path, line, name)
			}
			arch[e] = o
		}
		if !(space.NB201{}).Connected(arch) {
			continue // no path from input to output: nothing to train
		}
		archs = append(archs, arch)
	}
	return archs, sc.Err()
}

// readModels reads the models an -out file holds, by index; a missing file holds none.
func readModels(path string) (map[int]Model, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[int]Model{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("-out: %w", err)
	}
	models := map[int]Model{}
	for n, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m Model
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("-out %s line %d: %w", path, n+1, err)
		}
		models[m.Index] = m
	}
	return models, nil
}

func appendModel(path string, m Model) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("-out %s: %w", path, err)
	}
	return f.Close()
}

// analyse is `abs-study analyse`: the study's tables, figures and plots from scripts/study.sh's runs.
func analyse(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("abs-study analyse", flag.ContinueOnError)
	dir := fs.String("dir", "runs/study", "the study's folder (scripts/study.sh OUT)")
	outDir := fs.String("out", "", "folder of results.parquet, tables.md and the plots (default DIR/results)")
	table := fs.String("table", "../shared/data/nb201/nats_bench_tss_test_acc.csv", "the NB201 table")
	authors := fs.String("authors", "../shared/data/abs-official/kendall-tau.json", "the authors' published Kendall τ")
	seeds := fs.Int("search-seeds", 10, "(h): seeds of every search")
	budgets := fs.String("search-budgets", "10,50", "(h): comma-separated budgets, the children a search may evaluate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *outDir == "" {
		*outDir = filepath.Join(*dir, "results")
	}
	var bs []int
	for _, f := range strings.Split(*budgets, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 {
			return fmt.Errorf("-search-budgets %q: want positive integers separated by commas", *budgets)
		}
		bs = append(bs, b)
	}
	an, err := study.Analyse(ctx, *dir, study.Options{Table: *table, Authors: *authors, SearchSeeds: *seeds, SearchBudgets: bs})
	if err != nil {
		return err
	}
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				version = s.Value
			}
		}
	}
	if err := an.Write(*outDir, version); err != nil {
		return err
	}
	if len(an.Missing) > 0 {
		fmt.Fprintf(out, "not finished: %s\n", strings.Join(an.Missing, ", "))
	}
	fmt.Fprintf(out, "wrote %s/results.parquet, tables.md and the plots\n", *outDir)
	return nil
}
