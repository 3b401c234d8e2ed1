// Package report renders a run's artifacts as one HTML page with PNG plots that a person can open
// from disk or from a bucket: per shrinking stage the space size, the dropped operators, the operator
// scores as an edge × op heat map and the supernet's training curve; the benchmark-mode
// comparisons with a ground-truth table when the run has them; every candidate of the search by
// fitness and FLOPs; the retrained model's curve and accuracy; and the configuration and
// provenance of every artifact. The page uses no script and no resource outside its folder.
package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
)

// Page is the file name of the report's page; the plots lie beside it.
const Page = "index.html"

// Write reads the run in run and writes its report into out, as Page and the PNG files it shows,
// each under prefix (e.g. "report/" to write it into the run itself). It returns the manifest
// entries of the files written (producer "abs report", no schema), for a caller that records them
// in the run. A run without a manifest or without any stage is an error naming the run; a missing
// artifact only leaves its section out. The same run gives the same bytes; written into the run,
// in any store or place.
func Write(ctx context.Context, run, out store.Store, prefix string) ([]manifest.Entry, error) {
	r, err := load(ctx, run)
	if err != nil {
		return nil, err
	}
	if out.URL(prefix) == run.URL(prefix) {
		// In the run the page names no location, so that the run keeps the same bytes wherever it
		// is copied or moved.
		r.url = ""
	}
	files, err := r.render()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var entries []manifest.Entry
	for _, n := range names {
		b := files[n]
		if err := out.Put(ctx, prefix+n, bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("write report: %w", err)
		}
		sum := sha256.Sum256(b)
		entries = append(entries, manifest.Entry{Key: prefix + n, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), Producer: Producer})
	}
	return entries, nil
}

// Dir is the folder of the report inside a run.
const Dir = "report/"

// IntoRun writes the report of run into the run itself, under Dir, records its files in the run's
// manifest (replacing those of an earlier report) and returns the URL of the page. This is what
// `abs report RUN_URL` and the pipelines' report step do.
func IntoRun(ctx context.Context, run store.Store) (string, error) {
	entries, err := Write(ctx, run, run, Dir)
	if err != nil {
		return "", err
	}
	m, err := manifest.Load(ctx, run)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		m.Add(e)
	}
	if err := m.Save(ctx, run); err != nil {
		return "", fmt.Errorf("record the report in the manifest of %s: %w", run.URL(""), err)
	}
	return run.URL(Dir + Page), nil
}

// Producer is the producer of the report's files in a run's manifest.
const Producer = "abs report"

// stage holds what the report shows of one shrinking stage.
type stage struct {
	N            int
	Shrink       *schema.Stage
	Scores       []schema.OpScore // decisions when prune ran, else scores
	Decided      bool             // Scores come from decisions (Dropped is meaningful)
	Metrics      []schema.Epoch
	Correlations []schema.Correlation
	OpTruths     []schema.OpTruth
}

// run is everything the report reads.
type run struct {
	url        string
	manifest   *manifest.Manifest
	stages     []*stage
	candidates []schema.Candidate
	retrain    []schema.Epoch
	metas      map[string]schema.Meta // key → provenance, of every artifact read
}

// get reads the artifact at key into rows; a missing one leaves rows nil and is not an error.
func get[R any](ctx context.Context, r *run, st store.Store, k *schema.Kind[R], key string) ([]R, error) {
	rows, obj, err := k.Get(ctx, st, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.metas[key] = obj.Meta
	return rows, nil
}

func load(ctx context.Context, st store.Store) (*run, error) {
	r := &run{url: st.URL(""), metas: map[string]schema.Meta{}}
	m, err := manifest.Load(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", r.url, err)
	}
	r.manifest = m
	infos, err := st.List(ctx, "stage-")
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", r.url, err)
	}
	seen := map[int]bool{}
	var ns []int
	for _, in := range infos {
		dir, _, ok := strings.Cut(in.Key, "/")
		if n, err := strconv.Atoi(strings.TrimPrefix(dir, "stage-")); ok && err == nil && !seen[n] {
			seen[n] = true
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	if len(ns) == 0 {
		return nil, fmt.Errorf("report of %s: no stage-N/ artifacts; is it the root of a run?", r.url)
	}
	for _, n := range ns {
		s := &stage{N: n}
		key := func(f string) string { return fmt.Sprintf("stage-%d/%s.parquet", n, f) }
		sh, err := get(ctx, r, st, schema.Shrink, key("shrink"))
		if err != nil {
			return nil, err
		}
		if len(sh) > 0 {
			s.Shrink = &sh[0]
		}
		if s.Scores, err = get(ctx, r, st, schema.Scores, key("decisions")); err != nil {
			return nil, err
		}
		s.Decided = s.Scores != nil
		if !s.Decided {
			if s.Scores, err = get(ctx, r, st, schema.Scores, key("scores")); err != nil {
				return nil, err
			}
		}
		if s.Metrics, err = get(ctx, r, st, schema.Metrics, key("metrics")); err != nil {
			return nil, err
		}
		if s.Correlations, err = get(ctx, r, st, schema.Correlations, key("correlations")); err != nil {
			return nil, err
		}
		if s.OpTruths, err = get(ctx, r, st, schema.OpTruths, key("op-truth")); err != nil {
			return nil, err
		}
		r.stages = append(r.stages, s)
	}
	if r.candidates, err = get(ctx, r, st, schema.Candidates, "search/candidates.parquet"); err != nil {
		return nil, err
	}
	if r.retrain, err = get(ctx, r, st, schema.Metrics, "retrain/metrics.parquet"); err != nil {
		return nil, err
	}
	return r, nil
}

// heatCell is one (edge, op) of a stage's heat map.
type heatCell struct {
	Text    string
	Title   string
	Color   template.CSS
	Dropped bool
	Absent  bool // the op was not alive in the stage
}

type heatMap struct {
	Ops  []string
	Rows []heatRow
}

type heatRow struct {
	Edge  int32
	Cells []heatCell
}

// heat lays out a stage's scores as edges × ops, colours from white (the lowest score) to blue
// (the highest).
func heat(scores []schema.OpScore, decided bool) heatMap {
	var ops []string
	var edges []int32
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range scores {
		if !slices.Contains(ops, s.Op) {
			ops = append(ops, s.Op)
		}
		if !slices.Contains(edges, s.Edge) {
			edges = append(edges, s.Edge)
		}
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	sort.Strings(ops)
	slices.Sort(edges)
	h := heatMap{Ops: ops}
	for _, e := range edges {
		row := heatRow{Edge: e}
		for _, op := range ops {
			i := slices.IndexFunc(scores, func(s schema.OpScore) bool { return s.Edge == e && s.Op == op })
			if i < 0 {
				row.Cells = append(row.Cells, heatCell{Absent: true, Text: "—", Title: "not alive in this stage"})
				continue
			}
			s := scores[i]
			f := 0.5
			if hi > lo {
				f = (s.Score - lo) / (hi - lo)
			}
			c := heatCell{Text: strconv.FormatFloat(s.Score, 'g', 4, 64), Dropped: decided && s.Dropped,
				Title: fmt.Sprintf("edge %d %s: score %g over %d children, rank %d", e, op, s.Score, s.Samples, s.Rank),
				Color: template.CSS(fmt.Sprintf("rgb(%d,%d,255)", int(255-190*f), int(255-150*f)))}
			if c.Dropped {
				c.Text += " ✗"
				c.Title += ", dropped"
			}
			row.Cells = append(row.Cells, c)
		}
		h.Rows = append(h.Rows, row)
	}
	return h
}

// provenance is one artifact's row in the provenance table.
type provenance struct {
	Key, Schema, Producer, Version, SHA256 string
	Size                                   int64
	Seed                                   int64
	Inputs                                 []string
}

// configOf returns the configuration the run's artifacts record, indented, and whether they all
// record the same one (steps record their own flags beside it, so only the config part is compared).
func (r *run) configOf() (string, bool) {
	var first string
	same := true
	keys := make([]string, 0, len(r.metas))
	for k := range r.metas {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var c struct {
			Config json.RawMessage `json:"config"`
		}
		if json.Unmarshal([]byte(r.metas[k].Config), &c) != nil || c.Config == nil {
			continue
		}
		var b bytes.Buffer
		if json.Indent(&b, c.Config, "", "  ") != nil {
			continue
		}
		if first == "" {
			first = b.String()
		} else if b.String() != first {
			same = false
		}
	}
	return first, same
}

func (r *run) provenance() []provenance {
	var rows []provenance
	for _, e := range r.manifest.Artifacts {
		if e.Producer == Producer {
			continue // an earlier report
		}
		p := provenance{Key: e.Key, Schema: e.Schema, Producer: e.Producer, Version: e.ProducerVersion, SHA256: e.SHA256, Size: e.Size}
		if m, ok := r.metas[e.Key]; ok {
			p.Seed = m.Seed
			for _, in := range m.Inputs {
				p.Inputs = append(p.Inputs, in.Key)
			}
		}
		rows = append(rows, p)
	}
	return rows
}
