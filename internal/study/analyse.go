package study

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/internal/abs/nb201"
	"github.com/abs-nas/abs/internal/abs/rank"
	"github.com/abs-nas/abs/internal/abs/search"
	"github.com/abs-nas/abs/internal/abs/shrink"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Settings are the study's settings as scripts/study.sh records them in settings.json.
type Settings struct {
	Scale      json.RawMessage `json:"scale"`
	Epochs     int             `json:"epochs"`
	Seeds      string          `json:"seeds"`
	Inits      string          `json:"inits"`
	ConvEpochs string          `json:"conv_epochs"`
	// ConvSchedule is the epochs of the one supernet whose checkpoints after ConvEpochs make the
	// convergence curve; 0 in the settings of studies that trained a supernet per epoch count.
	ConvSchedule int `json:"conv_schedule"`
	PerOp        int `json:"per_op"`
	SAN          int `json:"sa_n"`
	SAEpochs     int `json:"sa_epochs"`
	SATrain      int `json:"sa_train"`
	SATest       int `json:"sa_test"`
}

// Options say what Analyse reads besides the study folder.
type Options struct {
	Table   string // the NB201 table (CSV)
	Authors string // the authors' kendall-tau.json
	// SearchSeeds and SearchBudgets configure (h): every search runs with each seed 1…SearchSeeds
	// and, in turn, each budget of SearchBudgets (the most children it may evaluate).
	SearchSeeds   int
	SearchBudgets []int
}

// Analysis is everything Analyse found, for the Markdown and the plots.
type Analysis struct {
	Dir      string
	Settings Settings
	Seeds    []int
	Rows     []schema.StudyResult
	Missing  []string // parts of the study that have not finished
	Authors  authors
	Models   []Model
	Search   []searchRow
	Kept     map[string]map[int][]opKept // metric → seed → ops in ground-truth rank order
	Sep      *Separation
	Secs     map[string]float64 // wall seconds of the study's parts
}

// Model is one stand-alone model of abs-study's -out file.
type Model struct {
	Index   int      `json:"index"`
	Arch    string   `json:"arch"`
	Ops     []string `json:"ops"`
	Angle   float64  `json:"angle"`
	TestAcc float64  `json:"test_acc"`
	Steps   int      `json:"steps"`
	Seconds float64  `json:"seconds"`
}

type opKept struct {
	Edge int32
	Op   string
	Rank int32
	Kept bool
}

type searchRow struct {
	Space     string // full, angle, accuracy, random or oracle
	Algorithm string
	Budget    int
	Size      float64 // children of the space (mean over the supernet seeds)
	BestIn    float64 // best accuracy in the space (mean over the supernet seeds)
	Best      []float64
}

// authors holds the authors' published τ (kendall-tau.json).
type authors struct {
	seeds  map[string]map[string][]float64          // dataset → metric → τ per supernet seed
	epochs map[string]map[string]map[int]float64    // dataset → metric → epoch → τ
	raw    map[string]map[string]map[string]float64 // file → metric or key → value
}

// authorsDataset maps our data set names to the file names of kendall-tau.json.
var authorsDataset = map[string]string{"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}

func readAuthors(path string) (authors, error) {
	var a authors
	b, err := os.ReadFile(path)
	if err != nil {
		return a, fmt.Errorf("authors' data: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return a, fmt.Errorf("authors' data %s: %w", path, err)
	}
	a.seeds = map[string]map[string][]float64{}
	a.epochs = map[string]map[string]map[int]float64{}
	for ours, theirs := range authorsDataset {
		var seeds map[string]map[string]float64
		if err := json.Unmarshal(raw["rebn_"+theirs+"_all_diff_seed_tau_dict.tau"], &seeds); err != nil {
			return a, fmt.Errorf("authors' data %s: rebn_%s_all_diff_seed_tau_dict.tau: %w", path, theirs, err)
		}
		a.seeds[ours] = map[string][]float64{}
		for m, bySeed := range seeds {
			keys := make([]int, 0, len(bySeed))
			for k := range bySeed {
				n, err := strconv.Atoi(k)
				if err != nil {
					return a, fmt.Errorf("authors' data %s: seed %q: %w", path, k, err)
				}
				keys = append(keys, n)
			}
			sort.Ints(keys)
			for _, k := range keys {
				a.seeds[ours][m] = append(a.seeds[ours][m], bySeed[strconv.Itoa(k)])
			}
		}
		var epochs map[string]map[string]float64
		if err := json.Unmarshal(raw["rebn_"+theirs+"_all_tau_dict.tau"], &epochs); err != nil {
			return a, fmt.Errorf("authors' data %s: rebn_%s_all_tau_dict.tau: %w", path, theirs, err)
		}
		a.epochs[ours] = map[string]map[int]float64{}
		for m, byEpoch := range epochs {
			a.epochs[ours][m] = map[int]float64{}
			for k, v := range byEpoch {
				n, err := strconv.Atoi(k)
				if err != nil {
					return a, fmt.Errorf("authors' data %s: epoch %q: %w", path, k, err)
				}
				a.epochs[ours][m][n] = v
			}
		}
	}
	return a, nil
}

// authorsMeanSD returns the mean and sd of the authors' τ of metric (their name) on dataset.
func (a authors) meanSD(dataset, metric string) (float64, float64, int) {
	xs := a.seeds[dataset][metric]
	m, sd := MeanSD(xs)
	return m, sd, len(xs)
}

// Analyse reads the study in dir and computes every figure of docs/reproduction.md. Parts that
// have not finished are listed in Missing and left out.
func Analyse(ctx context.Context, dir string, o Options) (*Analysis, error) {
	an := &Analysis{Dir: dir, Kept: map[string]map[int][]opKept{}, Secs: map[string]float64{}}
	b, err := os.ReadFile(filepath.Join(dir, "settings.json"))
	if err != nil {
		return nil, fmt.Errorf("study: %w (run scripts/study.sh first)", err)
	}
	if err := json.Unmarshal(b, &an.Settings); err != nil {
		return nil, fmt.Errorf("study %s/settings.json: %w", dir, err)
	}
	for _, f := range strings.Fields(an.Settings.Seeds) {
		s, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("study %s/settings.json: seeds %q: %w", dir, an.Settings.Seeds, err)
		}
		an.Seeds = append(an.Seeds, s)
	}
	if an.Authors, err = readAuthors(o.Authors); err != nil {
		return nil, err
	}
	tb, err := os.ReadFile(o.Table)
	if err != nil {
		return nil, fmt.Errorf("study: ground truth: %w", err)
	}
	table, err := nb201.Read(bytes.NewReader(tb))
	if err != nil {
		return nil, fmt.Errorf("study: ground truth %s: %w", o.Table, err)
	}
	first := an.Seeds[0]

	// (a), (b), (i): τ per metric and seed.
	for _, s := range an.Seeds {
		an.corr("a", "all", fmt.Sprintf("angle/seed-%d", s), s, "angle")
		an.corr("a", "all", fmt.Sprintf("random/seed-%d", s), s, "random")
		if an.corr("a", "sample", fmt.Sprintf("accuracy/seed-%d", s), s, "angle", "valid_acc", "rebn_acc") {
			if err := an.combined(fmt.Sprintf("accuracy/seed-%d", s), s, table); err != nil {
				return nil, err
			}
		}
	}
	// (c): τ by supernet epochs (the first seed).
	for _, e := range fields(an.Settings.ConvEpochs) {
		an.corr("c", fmt.Sprintf("epochs-%d", e), fmt.Sprintf("epochs-%d/angle-seed-%d", e, first), first, "angle")
		an.corr("c", fmt.Sprintf("epochs-%d", e), fmt.Sprintf("epochs-%d/accuracy-seed-%d", e, first), first, "valid_acc", "rebn_acc")
	}
	// (d): wall seconds of scoring.
	for _, s := range an.Seeds {
		for _, m := range []string{"angle", "accuracy"} {
			part := fmt.Sprintf("%s/seed-%d", m, s)
			secs, ok := an.seconds(part + "/sample")
			if !ok {
				continue
			}
			ch, err := readChildren(filepath.Join(dir, part, "stage-0/children.parquet"))
			if err != nil {
				return nil, err
			}
			an.add("d", m, "seconds_per_100", "", s, int64(len(ch)), 100*secs/float64(len(ch)))
			an.add("d", m, "seconds_step", "", s, int64(len(ch)), secs)
		}
	}
	// (e): the operators each metric keeps.
	for _, m := range []string{"angle", "accuracy", "random"} {
		for _, s := range an.Seeds {
			path := filepath.Join(dir, fmt.Sprintf("%s/seed-%d", m, s), "stage-0/op-truth.parquet")
			if !exists(filepath.Join(dir, fmt.Sprintf("%s/seed-%d", m, s), "done")) {
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("study: %w", err)
			}
			rows, _, err := schema.OpTruths.Read(b, path)
			if err != nil {
				return nil, err
			}
			var ops []opKept
			for _, r := range rows {
				if r.Dataset != "cifar10" {
					continue
				}
				ops = append(ops, opKept{r.Edge, r.Op, r.Rank, r.Kept})
				if len(ops) == 1 {
					an.add("e", m, "kept_in_top_k", "cifar10", s, int64(r.TopK), float64(r.KeptInTopK))
				}
			}
			sort.Slice(ops, func(i, j int) bool { return ops[i].Rank < ops[j].Rank })
			if an.Kept[m] == nil {
				an.Kept[m] = map[int][]opKept{}
			}
			an.Kept[m][s] = ops
		}
	}
	// (f): τ under each initialisation.
	for _, s := range an.Seeds {
		for _, i := range strings.Fields(an.Settings.Inits) {
			an.corr("f", "init-"+i, fmt.Sprintf("init-%s/angle-seed-%d", i, s), s, "angle")
		}
	}
	// (g): the stand-alone models.
	if err := an.standalone(table); err != nil {
		return nil, err
	}
	// (h): searches over the full and the shrunk spaces.
	if err := an.searches(ctx, table, o); err != nil {
		return nil, err
	}
	an.missing()
	return an, nil
}

func fields(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (an *Analysis) add(part, setting, metric, dataset string, seed int, n int64, v float64) {
	an.Rows = append(an.Rows, schema.StudyResult{Part: part, Setting: setting, Metric: metric, Dataset: dataset, Seed: int32(seed), N: n, Value: v})
}

// seconds returns the wall seconds a part's done file holds.
func (an *Analysis) seconds(part string) (float64, bool) {
	b, err := os.ReadFile(filepath.Join(an.Dir, part, "done"))
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return 0, false
	}
	an.Secs[part] = v
	return v, true
}

// corr adds the τ of metrics from part's correlations.parquet; it reports whether the part finished.
func (an *Analysis) corr(p, setting, part string, seed int, metrics ...string) bool {
	if !exists(filepath.Join(an.Dir, part, "done")) {
		return false
	}
	path := filepath.Join(an.Dir, part, "stage-0/correlations.parquet")
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	rows, _, err := schema.Correlations.Read(b, path)
	if err != nil {
		return false
	}
	for _, r := range rows {
		if slices.Contains(metrics, r.Metric) {
			an.add(p, setting, r.Metric, r.Dataset, seed, r.Children, r.KendallTau)
		}
	}
	return true
}

func readChildren(path string) ([]schema.Child, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	rows, _, err := schema.Children.Read(b, path)
	return rows, err
}

func childOf(ops []string) (space.Child, error) {
	sp := space.NB201{}
	c := make(space.Child, len(ops))
	for e, name := range ops {
		i := slices.IndexFunc(sp.Ops(), func(o space.Op) bool { return o.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("op %q is not an NB201 op", name)
		}
		c[e] = i
	}
	return c, nil
}

// combined adds (i): τ of the rank sum of angle and Re-BN accuracy over a seed's accuracy sample.
func (an *Analysis) combined(part string, seed int, table *nb201.Table) error {
	ch, err := readChildren(filepath.Join(an.Dir, part, "stage-0/children.parquet"))
	if err != nil {
		return err
	}
	var ang, acc []float64
	var kids []space.Child
	for _, c := range ch {
		if c.Angle == nil || c.ReBNAcc == nil {
			return fmt.Errorf("study %s: child %d lacks the angle or the Re-BN accuracy", part, c.ID)
		}
		k, err := childOf(c.Ops)
		if err != nil {
			return fmt.Errorf("study %s: %w", part, err)
		}
		ang, acc, kids = append(ang, *c.Angle), append(acc, *c.ReBNAcc), append(kids, k)
	}
	comb := Combined(ang, acc)
	for _, d := range nb201.Datasets {
		truth := make([]float64, len(kids))
		for i, k := range kids {
			if truth[i], err = table.Accuracy(k, d); err != nil {
				return fmt.Errorf("study %s: %w", part, err)
			}
		}
		an.add("i", "sample", "angle+rebn_acc", string(d), seed, int64(len(kids)), rank.KendallTau(comb, truth))
	}
	return nil
}

// standalone adds (g): τ between each stand-alone model's own angle and its accuracy, the spread
// of the accuracies, and the supernet metrics against these accuracies on the same children.
func (an *Analysis) standalone(table *nb201.Table) error {
	path := filepath.Join(an.Dir, "standalone/models.jsonl")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m Model
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("study %s: %w", path, err)
		}
		an.Models = append(an.Models, m)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("study %s: %w", path, err)
	}
	if len(an.Models) < 2 {
		return nil
	}
	n := int64(len(an.Models))
	var own, acc []float64
	kids := make([]space.Child, len(an.Models))
	keys := make([]string, len(an.Models))
	for i, m := range an.Models {
		own, acc = append(own, m.Angle), append(acc, m.TestAcc)
		if kids[i], err = childOf(m.Ops); err != nil {
			return fmt.Errorf("study %s: %w", path, err)
		}
		keys[i] = strings.Join(m.Ops, ",")
	}
	an.add("g", "standalone", "own_angle", "fashion-mnist", 0, n, rank.KendallTau(own, acc))
	sep := Separate(acc, an.Settings.SATest)
	an.Sep = &sep
	an.add("g", "standalone", "acc_sd", "fashion-mnist", 0, n, sep.SD)
	an.add("g", "standalone", "acc_range", "fashion-mnist", 0, n, sep.Max-sep.Min)
	an.add("g", "standalone", "mean_se", "fashion-mnist", 0, n, sep.MeanSE)
	an.add("g", "standalone", "resolved_pairs", "fashion-mnist", 0, int64(sep.Pairs), float64(sep.Resolved))
	for _, d := range nb201.Datasets {
		truth := make([]float64, len(kids))
		for i, k := range kids {
			if truth[i], err = table.Accuracy(k, d); err != nil {
				return err
			}
		}
		an.add("g", "standalone-vs-table", "standalone_acc", string(d), 0, n, rank.KendallTau(acc, truth))
		an.add("g", "standalone-vs-table", "own_angle", string(d), 0, n, rank.KendallTau(own, truth))
	}
	// supernet metrics on the same children, against the Fashion-MNIST accuracies
	lookup := func(part string, get func(schema.Child) *float64) ([]float64, bool, error) {
		if !exists(filepath.Join(an.Dir, part, "done")) {
			return nil, false, nil
		}
		ch, err := readChildren(filepath.Join(an.Dir, part, "stage-0/children.parquet"))
		if err != nil {
			return nil, false, err
		}
		by := map[string]float64{}
		for _, c := range ch {
			if v := get(c); v != nil {
				by[strings.Join(c.Ops, ",")] = *v
			}
		}
		out := make([]float64, len(keys))
		for i, k := range keys {
			v, ok := by[k]
			if !ok {
				return nil, false, fmt.Errorf("study %s: child %s of the stand-alone models is not among its children", part, k)
			}
			out[i] = v
		}
		return out, true, nil
	}
	for _, s := range an.Seeds {
		v, ok, err := lookup(fmt.Sprintf("angle/seed-%d", s), func(c schema.Child) *float64 { return c.Angle })
		if err != nil {
			return err
		}
		if ok {
			an.add("g", "supernet-vs-standalone", "angle", "fashion-mnist", s, n, rank.KendallTau(v, acc))
		}
	}
	first := an.Seeds[0]
	for _, m := range []struct {
		name string
		get  func(schema.Child) *float64
	}{{"valid_acc", func(c schema.Child) *float64 { return c.ValidAcc }}, {"rebn_acc", func(c schema.Child) *float64 { return c.ReBNAcc }}} {
		v, ok, err := lookup(fmt.Sprintf("accuracy/seed-%d", first), m.get)
		if err != nil {
			return err
		}
		if ok {
			an.add("g", "supernet-vs-standalone", m.name, "fashion-mnist", first, n, rank.KendallTau(v, acc))
		}
	}
	return nil
}

// OracleSpace shrinks the full NB201 space as the study's stage does (the fixed-count rule, drop
// ops), scoring each op by its ground-truth score on d: the mean table accuracy of the children
// holding it.
func OracleSpace(table *nb201.Table, d nb201.Dataset, drop int) (space.Shrunk, error) {
	sp := space.NB201{}
	scores, err := table.OpScores(sp.Full(), d)
	if err != nil {
		return space.Shrunk{}, err
	}
	st, _, err := shrink.Step(sp, shrink.Start(sp.Full()), scores, shrink.Config{Policy: shrink.FixedCount, K: drop})
	if err != nil {
		return space.Shrunk{}, err
	}
	return st.Space, nil
}

func readSpace(path string) (space.Shrunk, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return space.Shrunk{}, fmt.Errorf("study: %w", err)
	}
	rows, _, err := schema.Space.Read(b, path)
	if err != nil {
		return space.Shrunk{}, err
	}
	sp := space.NB201{}
	s := space.Shrunk{Allowed: make([][]int, sp.Points())}
	for _, r := range rows {
		if !r.Alive {
			continue
		}
		i := slices.IndexFunc(sp.Ops(), func(o space.Op) bool { return o.Name == r.Op })
		if i < 0 || r.Edge < 0 || int(r.Edge) >= sp.Points() {
			return space.Shrunk{}, fmt.Errorf("study %s: op %s on edge %d is not of NB201", path, r.Op, r.Edge)
		}
		s.Allowed[r.Edge] = append(s.Allowed[r.Edge], i)
	}
	return s, space.Validate(sp, s)
}

// bestIn returns the best CIFAR-10 accuracy of the table among the connected children of s.
func bestIn(table *nb201.Table, s space.Shrunk) (float64, error) {
	sp := space.NB201{}
	best := math.Inf(-1)
	var err error
	sp.Enumerate(s, func(c space.Child) bool {
		if !sp.Connected(c) {
			return true
		}
		var a float64
		if a, err = table.Accuracy(c, nb201.CIFAR10); err != nil {
			return false
		}
		best = max(best, a)
		return true
	})
	return best, err
}

// searches adds (h): the best CIFAR-10 table accuracy random search and regularised evolution
// find with equal budgets, over the full space and the spaces shrunk by each metric and the oracle.
func (an *Analysis) searches(ctx context.Context, table *nb201.Table, o Options) error {
	sp := space.NB201{}
	spaces := map[string][]space.Shrunk{"full": {sp.Full()}}
	oracle, err := OracleSpace(table, nb201.CIFAR10, 20)
	if err != nil {
		return err
	}
	spaces["oracle"] = []space.Shrunk{oracle}
	for _, m := range []string{"angle", "accuracy", "random"} {
		for _, s := range an.Seeds {
			part := fmt.Sprintf("%s/seed-%d", m, s)
			if !exists(filepath.Join(an.Dir, part, "done")) {
				continue
			}
			sh, err := readSpace(filepath.Join(an.Dir, part, "stage-0/space.parquet"))
			if err != nil {
				return err
			}
			spaces[m] = append(spaces[m], sh)
		}
	}
	metric := nb201.Oracle{Table: table, Dataset: nb201.CIFAR10}
	for _, budget := range o.SearchBudgets {
		for _, name := range []string{"full", "angle", "accuracy", "random", "oracle"} {
			list := spaces[name]
			if len(list) == 0 {
				continue
			}
			for _, alg := range []search.Algorithm{search.Random, search.Evolution} {
				row := searchRow{Space: name, Algorithm: string(alg), Budget: budget}
				for _, sh := range list {
					row.Size += float64(sp.Size(sh).Int64()) / float64(len(list))
					b, err := bestIn(table, sh)
					if err != nil {
						return err
					}
					row.BestIn += b / float64(len(list))
					for seed := 1; seed <= o.SearchSeeds; seed++ {
						res, err := search.Run(ctx, sp, sh, metric, search.Config{Algorithm: alg, MaxEvals: budget, Seed: uint64(seed),
							Population: min(20, budget), SampleSize: min(5, budget), Cycles: budget})
						if err != nil {
							return fmt.Errorf("study (h) %s %s seed %d: %w", name, alg, seed, err)
						}
						if len(res.Candidates) > budget {
							return fmt.Errorf("study (h) %s %s seed %d: %d evaluations over the budget %d", name, alg, seed, len(res.Candidates), budget)
						}
						row.Best = append(row.Best, res.BestCandidate().Value)
					}
				}
				m, sd := MeanSD(row.Best)
				set := fmt.Sprintf("%s/budget-%d", name, budget)
				an.add("h", set, string(alg)+"_best_mean", "cifar10", 0, int64(len(row.Best)), m)
				an.add("h", set, string(alg)+"_best_sd", "cifar10", 0, int64(len(row.Best)), sd)
				an.Search = append(an.Search, row)
			}
		}
	}
	return nil
}

// missing lists the parts of the study that have no done file.
func (an *Analysis) missing() {
	want := []string{}
	first := an.Seeds[0]
	for _, s := range an.Seeds {
		want = append(want, fmt.Sprintf("supernet/seed-%d/train", s), fmt.Sprintf("angle/seed-%d", s), fmt.Sprintf("random/seed-%d", s), fmt.Sprintf("accuracy/seed-%d", s))
		for _, i := range strings.Fields(an.Settings.Inits) {
			want = append(want, fmt.Sprintf("init-%s/angle-seed-%d", i, s))
		}
	}
	for _, e := range fields(an.Settings.ConvEpochs) {
		want = append(want, fmt.Sprintf("epochs-%d/angle-seed-%d", e, first), fmt.Sprintf("epochs-%d/accuracy-seed-%d", e, first))
	}
	want = append(want, "standalone")
	for _, w := range want {
		if !exists(filepath.Join(an.Dir, w, "done")) {
			an.Missing = append(an.Missing, w)
		}
	}
	for _, w := range []string{"supernet/seed-%d/train", "angle/seed-%d/sample", "accuracy/seed-%d/sample"} {
		for _, s := range an.Seeds {
			an.seconds(fmt.Sprintf(w, s))
		}
	}
	an.seconds("standalone")
}
