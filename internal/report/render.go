package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/abs-nas/abs/artifacts/schema"
)

//go:embed page.html
var pageFS embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"pct": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f", *p)
	},
	"f3": func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"g":  func(v float64) string { return fmt.Sprintf("%.4g", v) },
	// size prints a space size in full up to a million, else as 1.234e+07.
	"size": func(v float64) string {
		if v < 1e6 {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.4g", v)
	},
}).ParseFS(pageFS, "page.html"))

// view is what page.html renders.
type view struct {
	URL        string
	Stages     []stageView
	Shrink     string // PNG of the space size per stage, empty without shrink records
	Training   string // PNG of the supernet's training loss
	Benchmark  bool
	Tau        string // PNG of τ per stage in benchmark mode
	Search     *searchView
	Retrain    *retrainView
	Config     string
	SameConfig bool
	Provenance []provenance
}

type stageView struct {
	*stage
	Heat heatMap
}

type searchView struct {
	Plot      string
	Evaluated int
	Best      schema.Candidate
}

type retrainView struct {
	Plot              string
	Epochs            int
	ValidAcc, TestAcc *float64
}

// intTicks labels the integers of an axis (stages, epochs), at most about ten of them.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/10))
	var ts []plot.Tick
	for v := math.Ceil(lo); v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ts
}

// palette is the colour of the i-th series.
func palette(i int) color.Color {
	c := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
	return c[i%len(c)]
}

// encodePNG renders p as a 6×3.5 inch PNG.
func encodePNG(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(6*vg.Inch, 3.5*vg.Inch, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func line(p *plot.Plot, name string, xys plotter.XYs, i int) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, s.Color = palette(i), palette(i)
	s.Shape = draw.CircleGlyph{}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

func (r *run) render() (map[string][]byte, error) {
	files := map[string][]byte{}
	put := func(name string, p *plot.Plot) (string, error) {
		b, err := encodePNG(p)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", name, err)
		}
		files[name] = b
		return name, nil
	}
	v := view{URL: r.url, Provenance: r.provenance()}
	v.Config, v.SameConfig = r.configOf()
	var sizes plotter.XYs
	var err error
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Supernet training", "epoch (all stages)", "training loss"
	p.X.Tick.Marker, p.Legend.Top = intTicks{}, true
	epoch, curves := 0, 0
	for _, s := range r.stages {
		v.Stages = append(v.Stages, stageView{stage: s, Heat: heat(s.Scores, s.Decided)})
		if s.Shrink != nil {
			if len(sizes) == 0 {
				sizes = append(sizes, plotter.XY{X: float64(s.N), Y: s.Shrink.SizeBefore})
			}
			sizes = append(sizes, plotter.XY{X: float64(s.N + 1), Y: s.Shrink.SizeAfter})
		}
		if len(s.Metrics) > 0 {
			var xys plotter.XYs
			for _, e := range s.Metrics {
				epoch++
				xys = append(xys, plotter.XY{X: float64(epoch), Y: e.TrainLoss})
			}
			if err := line(p, fmt.Sprintf("stage %d", s.N), xys, curves); err != nil {
				return nil, err
			}
			curves++
		}
		v.Benchmark = v.Benchmark || len(s.Correlations) > 0 || len(s.OpTruths) > 0
	}
	if curves > 0 {
		if v.Training, err = put("training.png", p); err != nil {
			return nil, err
		}
	}
	if len(sizes) > 0 {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Search space size", "stages done (0 = the space before shrinking)", "children (log scale)"
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.X.Tick.Marker, p.X.Padding = intTicks{}, vg.Points(10)
		if err := line(p, "size", sizes, 0); err != nil {
			return nil, err
		}
		p.Legend.Top = true
		if v.Shrink, err = put("shrink.png", p); err != nil {
			return nil, err
		}
	}
	if v.Benchmark {
		if v.Tau, err = r.tauPlot(put); err != nil {
			return nil, err
		}
	}
	if len(r.candidates) > 0 {
		sv, err := r.searchPlot(put)
		if err != nil {
			return nil, err
		}
		v.Search = sv
	}
	if len(r.retrain) > 0 {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Retraining", "epoch", "training loss"
		p.X.Tick.Marker, p.Legend.Top = intTicks{}, true
		var xys plotter.XYs
		for _, e := range r.retrain {
			xys = append(xys, plotter.XY{X: float64(e.Epoch + 1), Y: e.TrainLoss})
		}
		if err := line(p, "train loss", xys, 0); err != nil {
			return nil, err
		}
		last := r.retrain[len(r.retrain)-1]
		rv := &retrainView{Epochs: len(r.retrain), ValidAcc: last.ValidAcc, TestAcc: last.TestAcc}
		if rv.Plot, err = put("retrain.png", p); err != nil {
			return nil, err
		}
		v.Retrain = rv
	}
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render report page: %w", err)
	}
	files[Page] = b.Bytes()
	return files, nil
}

// tauPlot draws Kendall's τ of each metric against the table's first data set column per stage.
func (r *run) tauPlot(put func(string, *plot.Plot) (string, error)) (string, error) {
	series := map[string]plotter.XYs{}
	dataset := ""
	for _, s := range r.stages {
		for _, c := range s.Correlations {
			if dataset == "" {
				dataset = c.Dataset
			}
			if c.Dataset == dataset && !math.IsNaN(c.KendallTau) {
				series[c.Metric] = append(series[c.Metric], plotter.XY{X: float64(s.N), Y: c.KendallTau})
			}
		}
	}
	if len(series) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Ranking vs. ground truth ("+dataset+")", "stage", "Kendall τ"
	p.X.Tick.Marker, p.Legend.Top = intTicks{}, true
	for i, n := range names {
		if err := line(p, n, series[n], i); err != nil {
			return "", err
		}
	}
	return put("tau.png", p)
}

// searchPlot draws every candidate's fitness against its FLOPs, the winner in red.
func (r *run) searchPlot(put func(string, *plot.Plot) (string, error)) (*searchView, error) {
	best := 0
	xys := make(plotter.XYs, len(r.candidates))
	for i, c := range r.candidates {
		xys[i] = plotter.XY{X: float64(c.FLOPs), Y: c.Fitness}
		if c.Fitness > r.candidates[best].Fitness {
			best = i
		}
	}
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Search candidates", "FLOPs (multiply-adds)", "fitness"
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	s.Color = palette(0)
	w, err := plotter.NewScatter(plotter.XYs{xys[best]})
	if err != nil {
		return nil, err
	}
	w.Color, w.Shape, w.Radius = palette(3), draw.CrossGlyph{}, vg.Points(8)
	p.Add(s, w)
	p.Legend.Add("candidate", s)
	p.Legend.Add("best", w)
	p.Legend.Top = true
	name, err := put("search.png", p)
	if err != nil {
		return nil, err
	}
	return &searchView{Plot: name, Evaluated: len(r.candidates), Best: r.candidates[best]}, nil
}
