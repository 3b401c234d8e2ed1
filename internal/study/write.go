package study

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/abs-nas/abs/artifacts/schema"
)

// Write writes the analysis into dir: results.parquet (every figure, one row each), tables.md (the
// Markdown tables of docs/reproduction.md) and the plots as PNG files.
func (an *Analysis) Write(dir, producerVersion string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	var pq bytes.Buffer
	if err := schema.StudyResults.Write(&pq, schema.Meta{Producer: "abs-study analyse", ProducerVersion: producerVersion, Config: string(an.Settings.Scale)}, an.Rows); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.parquet"), pq.Bytes(), 0o644); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	var md bytes.Buffer
	an.Markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "tables.md"), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	plots, err := an.Plots()
	if err != nil {
		return err
	}
	for name, b := range plots {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	return nil
}

// values returns the figures of part, setting, metric and dataset, ordered by seed.
func (an *Analysis) values(part, setting, metric, dataset string) []float64 {
	type sv struct {
		seed int32
		v    float64
	}
	var xs []sv
	for _, r := range an.Rows {
		if r.Part == part && r.Setting == setting && r.Metric == metric && r.Dataset == dataset {
			xs = append(xs, sv{r.Seed, r.Value})
		}
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].seed < xs[j].seed })
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x.v
	}
	return out
}

func (an *Analysis) n(part, setting, metric string) int64 {
	for _, r := range an.Rows {
		if r.Part == part && r.Setting == setting && r.Metric == metric {
			return r.N
		}
	}
	return 0
}

var datasets = []string{"cifar10", "cifar100", "imagenet16-120"}

func f3(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

func meanSDText(xs []float64) string {
	if len(xs) == 0 {
		return "not measured"
	}
	m, sd := MeanSD(xs)
	per := make([]string, len(xs))
	for i, x := range xs {
		per[i] = f3(x)
	}
	return fmt.Sprintf("%s ± %s (%s)", f3(m), f3(sd), strings.Join(per, " / "))
}

func (an *Analysis) authorsText(metric, dataset string) string {
	m, sd, n := an.Authors.meanSD(dataset, metric)
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%s ± %s", f3(m), f3(sd))
}

// Markdown writes the study's tables.
func (an *Analysis) Markdown(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if len(an.Missing) > 0 {
		p("**Parts not finished when these tables were made:** %s.\n\n", strings.Join(an.Missing, ", "))
	}
	p("### (a) Table 2: Kendall τ against the NB201 table (transfer check: Fashion-MNIST supernet, CIFAR/ImageNet16 table)\n\n")
	p("Ours: mean ± sd over supernet seeds (per seed in brackets). Authors: mean ± sd over their 10 supernets (kendall-tau.json).\n\n")
	p("| metric | children | CIFAR-10 | CIFAR-100 | ImageNet16-120 | authors CIFAR-10 | authors CIFAR-100 | authors ImageNet16-120 |\n|---|---|---|---|---|---|---|---|\n")
	type mrow struct{ label, setting, metric, authors string }
	rows := []mrow{
		{"angle (all children)", "all", "angle", "angle"},
		{"angle (accuracy sample)", "sample", "angle", "angle"},
		{"accuracy with Re-BN (sample)", "sample", "rebn_acc", "acc"},
		{"accuracy without Re-BN (sample)", "sample", "valid_acc", "acc_no_rebn"},
		{"random (all children)", "all", "random", "random"},
	}
	for _, r := range rows {
		p("| %s | %d |", r.label, an.n("a", r.setting, r.metric))
		for _, d := range datasets {
			p(" %s |", meanSDText(an.values("a", r.setting, r.metric, d)))
		}
		for _, d := range datasets {
			p(" %s |", an.authorsText(r.authors, d))
		}
		p("\n")
	}
	p("\n### (b) Fig. 5: stability, the sd of τ across supernet seeds\n\n")
	p("| data set | sd angle (all) | sd angle (sample) | sd Re-BN accuracy | ratio sd(acc)/sd(angle, sample) | authors sd angle | authors sd acc | authors ratio |\n|---|---|---|---|---|---|---|---|\n")
	for _, d := range datasets {
		_, sa := MeanSD(an.values("a", "all", "angle", d))
		_, ss := MeanSD(an.values("a", "sample", "angle", d))
		_, sc := MeanSD(an.values("a", "sample", "rebn_acc", d))
		_, ta, _ := an.Authors.meanSD(d, "angle")
		_, tc, _ := an.Authors.meanSD(d, "acc")
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", d, f3(sa), f3(ss), f3(sc), f3(sc/ss), f3(ta), f3(tc), f3(tc/ta))
	}
	p("\n### (c) Fig. 6: τ (CIFAR-10 column) by supernet training epochs, first seed\n\n")
	if an.Settings.ConvSchedule > 0 {
		p("Checkpoints after each number of epochs of one supernet trained on a cosine schedule of %d epochs (train-supernet -stop-after: the state after that epoch of the uninterrupted run, bit for bit), base weights after epoch 1.\n\n", an.Settings.ConvSchedule)
	} else {
		p("Each row is its own supernet trained for that many epochs (cosine schedule over them), base weights after epoch 1.\n\n")
	}
	p("| epochs | angle (all children) | Re-BN accuracy (sample) | accuracy without Re-BN (sample) |\n|---|---|---|---|\n")
	for _, e := range an.convEpochs() {
		set := fmt.Sprintf("epochs-%d", e)
		part := "c"
		if e == an.Settings.Epochs && an.Settings.ConvSchedule == 0 {
			set, part = "", "a"
		}
		get := func(setting, metric string) string {
			if part == "a" {
				v := an.values("a", setting, metric, "cifar10")
				if len(v) == 0 {
					return "not measured"
				}
				return f3(v[0])
			}
			v := an.values("c", set, metric, "cifar10")
			if len(v) == 0 {
				return "not measured"
			}
			return f3(v[0])
		}
		p("| %d | %s | %s | %s |\n", e, get("all", "angle"), get("sample", "rebn_acc"), get("sample", "valid_acc"))
	}
	p("\nAuthors (one supernet on CIFAR-10, checkpoints by epoch, CIFAR-10 column):\n\n| epoch | angle | Re-BN accuracy |\n|---|---|---|\n")
	for _, e := range an.authorsEpochs() {
		p("| %d | %s | %s |\n", e+1, f3(an.Authors.epochs["cifar10"]["angle"][e]), f3(an.Authors.epochs["cifar10"]["acc"][e]))
	}
	p("\n### (d) Table 3: seconds to score 100 children on this CPU (one core, shared machine)\n\n")
	p("Whole sample-children step (loading weights and data included) divided by the children it scored.\n\n| metric | children per step | s per 100 children (per seed) | mean |\n|---|---|---|---|\n")
	for _, m := range []string{"angle", "accuracy"} {
		v := an.values("d", m, "seconds_per_100", "")
		if len(v) == 0 {
			p("| %s | — | not measured | — |\n", m)
			continue
		}
		mean, _ := MeanSD(v)
		per := make([]string, len(v))
		for i, x := range v {
			per[i] = fmt.Sprintf("%.3g", x)
		}
		p("| %s | %d | %s | %.3g |\n", m, an.n("d", m, "seconds_per_100"), strings.Join(per, " / "), mean)
	}
	p("\n### (e) Fig. 7: operators kept after dropping 20 of 30 (ground truth: mean CIFAR-10 table accuracy of the children holding the op)\n\n")
	p("| metric | kept among the ground-truth top 10, per seed | mean ± sd |\n|---|---|---|\n")
	for _, m := range []string{"angle", "accuracy", "random"} {
		v := an.values("e", m, "kept_in_top_k", "cifar10")
		if len(v) == 0 {
			p("| %s | not measured | — |\n", m)
			continue
		}
		per := make([]string, len(v))
		for i, x := range v {
			per[i] = fmt.Sprintf("%.0f", x)
		}
		mm, sd := MeanSD(v)
		p("| %s | %s | %s ± %s |\n", m, strings.Join(per, " / "), f3(mm), f3(sd))
	}
	p("\nKept operators in ground-truth rank order (✓ kept, · dropped), rank 1 first:\n\n")
	for _, m := range []string{"angle", "accuracy", "random"} {
		for _, s := range an.Seeds {
			ops := an.Kept[m][s]
			if ops == nil {
				continue
			}
			var b strings.Builder
			for _, o := range ops {
				if o.Kept {
					b.WriteString("✓")
				} else {
					b.WriteString("·")
				}
			}
			p("- %s, seed %d: `%s`\n", m, s, b.String())
		}
	}
	if ops := an.Kept["angle"][an.Seeds[0]]; ops != nil {
		p("\nThe ground-truth order (edge:op): ")
		names := make([]string, len(ops))
		for i, o := range ops {
			names[i] = fmt.Sprintf("%d:%s", o.Edge, o.Op)
		}
		p("%s\n", strings.Join(names, ", "))
	}
	p("\n### (f) Table 1: τ of the angle (all children) under each initialisation\n\n| init | CIFAR-10 | CIFAR-100 | ImageNet16-120 |\n|---|---|---|---|\n")
	p("| authors (PyTorch default, the config default) |")
	for _, d := range datasets {
		p(" %s |", meanSDText(an.values("a", "all", "angle", d)))
	}
	p("\n")
	for _, i := range strings.Fields(an.Settings.Inits) {
		p("| %s |", i)
		for _, d := range datasets {
			p(" %s |", meanSDText(an.values("f", "init-"+i, "angle", d)))
		}
		p("\n")
	}
	p("\n### (g) Fig. 4: stand-alone models trained from scratch on Fashion-MNIST\n\n")
	if len(an.Models) < 2 {
		p("Not measured (no stand-alone models finished).\n")
	} else {
		p("%d models, %d epochs each (%d SGD steps) on %d training images, tested on %d images.\n\n", len(an.Models), an.Settings.SAEpochs, an.Models[0].Steps, an.Settings.SATrain, an.Settings.SATest)
		s := an.Sep
		p("- accuracy range %.2f–%.2f %% (sd %.2f points); one accuracy's binomial standard error is %.2f points on average; %d of %d model pairs differ by more than twice the standard error of their difference.\n",
			s.Min, s.Max, s.SD, s.MeanSE, s.Resolved, s.Pairs)
		p("- τ(own angle, Fashion-MNIST test accuracy) = %s (authors, 50 models, full training on CIFAR: > 0.8).\n", f3(an.values("g", "standalone", "own_angle", "fashion-mnist")[0]))
		p("- τ(Fashion-MNIST stand-alone accuracy, NB201 table) = %s / %s / %s (CIFAR-10 / CIFAR-100 / ImageNet16-120): how well the two ground truths agree.\n",
			f3(an.values("g", "standalone-vs-table", "standalone_acc", "cifar10")[0]), f3(an.values("g", "standalone-vs-table", "standalone_acc", "cifar100")[0]), f3(an.values("g", "standalone-vs-table", "standalone_acc", "imagenet16-120")[0]))
		p("\n(a) again with the Fashion-MNIST accuracies as the ground truth, on these %d children:\n\n| supernet metric | τ per seed | mean ± sd |\n|---|---|---|\n", len(an.Models))
		for _, m := range []string{"angle", "rebn_acc", "valid_acc"} {
			v := an.values("g", "supernet-vs-standalone", m, "fashion-mnist")
			if len(v) == 0 {
				p("| %s | not measured | — |\n", m)
				continue
			}
			mm, sd := MeanSD(v)
			per := make([]string, len(v))
			for i, x := range v {
				per[i] = f3(x)
			}
			p("| %s | %s | %s ± %s |\n", m, strings.Join(per, " / "), f3(mm), f3(sd))
		}
		p("\n| # | architecture | own angle (rad) | test accuracy (%%) | seconds |\n|---|---|---|---|---|\n")
		for _, m := range an.Models {
			p("| %d | `%s` | %.4f | %.2f | %.0f |\n", m.Index, strings.ReplaceAll(m.Arch, "|", `\|`), m.Angle, m.TestAcc, m.Seconds)
		}
	}
	p("\n### (h) Search with the NB201 table as fitness (CIFAR-10 test accuracy), equal budgets\n\n")
	p("Shrunk spaces: 20 of 30 operators dropped by each metric's scores (per supernet seed) or by the ground-truth op score (oracle). Mean ± sd of the best accuracy found, over search seeds × supernet seeds.\n\n")
	p("| budget | space | children (mean) | best in space | random search | regularised evolution |\n|---|---|---|---|---|---|\n")
	type key struct {
		budget int
		space  string
	}
	bySpace := map[key][]searchRow{}
	var order []key
	for _, r := range an.Search {
		k := key{r.Budget, r.Space}
		if _, ok := bySpace[k]; !ok {
			order = append(order, k)
		}
		bySpace[k] = append(bySpace[k], r)
	}
	for _, k := range order {
		rs := bySpace[k]
		p("| %d | %s | %.0f | %.2f |", k.budget, k.space, rs[0].Size, rs[0].BestIn)
		for _, alg := range []string{"random", "evolution"} {
			i := slices.IndexFunc(rs, func(r searchRow) bool { return r.Algorithm == alg })
			if i < 0 {
				p(" — |")
				continue
			}
			m, sd := MeanSD(rs[i].Best)
			p(" %.2f ± %.2f (n = %d) |", m, sd, len(rs[i].Best))
		}
		p("\n")
	}
	p("\n### (i) Beyond the paper: angle + Re-BN accuracy (rank sum) over the accuracy sample\n\n| | CIFAR-10 | CIFAR-100 | ImageNet16-120 |\n|---|---|---|---|\n| ours |")
	for _, d := range datasets {
		p(" %s |", meanSDText(an.values("i", "sample", "angle+rebn_acc", d)))
	}
	p("\n| authors' \"add\" |")
	for _, d := range datasets {
		p(" %s |", an.authorsText("add", d))
	}
	p("\n\n### Wall time of the parts (seconds)\n\n| part | seconds |\n|---|---|\n")
	keys := make([]string, 0, len(an.Secs))
	for k := range an.Secs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p("| %s | %.0f |\n", k, an.Secs[k])
	}
}

// convEpochs returns the epochs of the convergence curve: the checkpoints, or (studies with a
// supernet per epoch count) those supernets' epochs and the main supernets'.
func (an *Analysis) convEpochs() []int {
	es := fields(an.Settings.ConvEpochs)
	if an.Settings.ConvSchedule == 0 {
		es = append(es, an.Settings.Epochs)
	}
	sort.Ints(es)
	return slices.Compact(es)
}

func (an *Analysis) authorsEpochs() []int {
	var es []int
	for e := range an.Authors.epochs["cifar10"]["angle"] {
		es = append(es, e)
	}
	sort.Ints(es)
	return es
}

// tauAt returns our CIFAR-10 τ of metric after e epochs (first seed), or false.
func (an *Analysis) tauAt(e int, metric string) (float64, bool) {
	var v []float64
	setting := "sample"
	if metric == "angle" {
		setting = "all"
	}
	if e == an.Settings.Epochs && an.Settings.ConvSchedule == 0 {
		v = an.values("a", setting, metric, "cifar10")
	} else {
		v = an.values("c", fmt.Sprintf("epochs-%d", e), metric, "cifar10")
	}
	if len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

var colors = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

func png(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, i int) error {
	if len(xys) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, s.Color, s.Shape = colors[i%len(colors)], colors[i%len(colors)], draw.CircleGlyph{}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// Plots renders the study's figures as PNG files, by name.
func (an *Analysis) Plots() (map[string][]byte, error) {
	out := map[string][]byte{}
	// (a)/(b): τ per seed of each metric, CIFAR-10 column, with the authors' means.
	{
		p := plot.New()
		p.Title.Text = "(a) Kendall τ vs NB201 CIFAR-10 per supernet seed"
		p.Y.Label.Text = "Kendall τ"
		p.X.Label.Text = "metric: 1 angle (all), 2 angle (sample), 3 Re-BN acc, 4 acc w/o Re-BN, 5 random"
		ms := []struct{ setting, metric, authors string }{{"all", "angle", "angle"}, {"sample", "angle", "angle"}, {"sample", "rebn_acc", "acc"}, {"sample", "valid_acc", "acc_no_rebn"}, {"all", "random", "random"}}
		var ours, theirs plotter.XYs
		for i, m := range ms {
			for j, v := range an.values("a", m.setting, m.metric, "cifar10") {
				ours = append(ours, plotter.XY{X: float64(i+1) - 0.1 + 0.05*float64(j), Y: v})
			}
			for _, v := range an.Authors.seeds["cifar10"][m.authors] {
				theirs = append(theirs, plotter.XY{X: float64(i+1) + 0.15, Y: v})
			}
		}
		for i, s := range []struct {
			name string
			xys  plotter.XYs
		}{{"ours (Fashion-MNIST supernets)", ours}, {"authors (CIFAR-10 supernets)", theirs}} {
			if len(s.xys) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(s.xys)
			if err != nil {
				return nil, err
			}
			sc.Color, sc.Shape = colors[i], draw.CircleGlyph{}
			p.Add(sc)
			p.Legend.Add(s.name, sc)
		}
		p.Legend.Top, p.Legend.Left = true, false
		b, err := png(p, 6*vg.Inch, 3.5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out["table2-tau.png"] = b
	}
	// (c): τ by epochs, ours and the authors'.
	{
		p := plot.New()
		p.Title.Text = "(c) τ vs NB201 CIFAR-10 by supernet epochs"
		p.X.Label.Text = "epochs (log scale)"
		p.Y.Label.Text = "Kendall τ"
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		for i, m := range []struct{ metric, authors, name string }{{"angle", "angle", "angle"}, {"rebn_acc", "acc", "Re-BN accuracy"}} {
			var ours, theirs plotter.XYs
			for _, e := range an.convEpochs() {
				if v, ok := an.tauAt(e, m.metric); ok {
					ours = append(ours, plotter.XY{X: float64(e), Y: v})
				}
			}
			for _, e := range an.authorsEpochs() {
				theirs = append(theirs, plotter.XY{X: float64(e + 1), Y: an.Authors.epochs["cifar10"][m.authors][e]})
			}
			if err := addLine(p, "ours: "+m.name, ours, 2*i); err != nil {
				return nil, err
			}
			if err := addLine(p, "authors: "+m.name, theirs, 2*i+1); err != nil {
				return nil, err
			}
		}
		p.Legend.Top, p.Legend.Left = false, false
		b, err := png(p, 6*vg.Inch, 3.5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out["fig6-convergence.png"] = b
	}
	// (g): stand-alone angle against accuracy.
	if len(an.Models) > 1 {
		p := plot.New()
		p.Title.Text = "(g) stand-alone models on Fashion-MNIST"
		p.X.Label.Text = "own angle (rad)"
		p.Y.Label.Text = "test accuracy (%)"
		xys := make(plotter.XYs, len(an.Models))
		for i, m := range an.Models {
			xys[i] = plotter.XY{X: m.Angle, Y: m.TestAcc}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.Color, sc.Shape = colors[0], draw.CircleGlyph{}
		p.Add(sc)
		b, err := png(p, 5*vg.Inch, 3.5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out["fig4-standalone.png"] = b
	}
	// (h): mean best accuracy per space and algorithm.
	if len(an.Search) > 0 {
		p := plot.New()
		p.Title.Text = "(h) best NB201 CIFAR-10 accuracy found, equal budgets"
		p.Y.Label.Text = "best test accuracy (%)"
		var names []string
		vals := map[string]plotter.Values{}
		budget := an.Search[len(an.Search)-1].Budget // the largest: evolution differs from random there
		p.Title.Text = fmt.Sprintf("(h) best NB201 CIFAR-10 accuracy found, %d queries", budget)
		for _, r := range an.Search {
			if r.Budget != budget {
				continue
			}
			if !slices.Contains(names, r.Space) {
				names = append(names, r.Space)
			}
			m, _ := MeanSD(r.Best)
			vals[r.Algorithm] = append(vals[r.Algorithm], m)
		}
		for i, alg := range []string{"random", "evolution"} {
			bc, err := plotter.NewBarChart(vals[alg], vg.Points(14))
			if err != nil {
				return nil, err
			}
			bc.Color, bc.Offset = colors[i], vg.Points(float64(14*i-7))
			p.Add(bc)
			p.Legend.Add(alg, bc)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range vals {
			lo, hi = min(lo, slices.Min(v)), max(hi, slices.Max(v))
		}
		p.Y.Min, p.Y.Max = math.Floor(lo-1), hi+1.5 // room for the legend above the bars
		p.NominalX(names...)
		p.Legend.Top = true
		b, err := png(p, 6*vg.Inch, 3.5*vg.Inch)
		if err != nil {
			return nil, err
		}
		out["search.png"] = b
	}
	return out, nil
}
