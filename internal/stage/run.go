// Package stage implements the six steps of the ABS pipeline — train-supernet, sample-children,
// score-operators, prune, search and retrain — each as Run-style functions over a run's artifacts.
// The binaries under steps/ are thin mains over these functions.
//
// A run is a folder (or bucket prefix) of artifacts with fixed keys:
//
//	stage-N/base.parquet       weights: the base weights V0 of stage N (the initial weights, or the
//	                           weights after the one-time reset of Algorithm 2)
//	stage-N/supernet.parquet   weights: the supernet after stage N's training (parameters, momentum
//	                           buffers and batch-norm statistics: a checkpoint)
//	stage-N/metrics.parquet    metrics: training metrics per epoch
//	stage-N/children.parquet   children: the drawn children with their angle (and accuracies)
//	stage-N/scores.parquet     scores: each operator's mean metric (Eq. 3) and global rank
//	stage-N/decisions.parquet  scores: the same ranked by the drop policy, with the dropped ops marked
//	stage-N/space.parquet      space: the space after stage N (alive ops)
//	stage-N/shrink.parquet     shrink: stage N's record (sizes, dropped ops)
//	search/candidates.parquet  candidates: every architecture the search evaluated
//	retrain/weights.parquet    weights of the retrained winner
//	retrain/metrics.parquet    metrics of the retraining
//	manifest.json              the run's manifest (artifacts/manifest)
//
// Stage N trains on the space left by stage N-1 (stage 0 on the whole space).
package stage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"runtime/debug"
	"slices"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/step"
)

// Keys of a run's artifacts.
func baseKey(stage int) string      { return fmt.Sprintf("stage-%d/base.parquet", stage) }
func supernetKey(stage int) string  { return fmt.Sprintf("stage-%d/supernet.parquet", stage) }
func metricsKey(stage int) string   { return fmt.Sprintf("stage-%d/metrics.parquet", stage) }
func childrenKey(stage int) string  { return fmt.Sprintf("stage-%d/children.parquet", stage) }
func scoresKey(stage int) string    { return fmt.Sprintf("stage-%d/scores.parquet", stage) }
func decisionsKey(stage int) string { return fmt.Sprintf("stage-%d/decisions.parquet", stage) }
func spaceKey(stage int) string     { return fmt.Sprintf("stage-%d/space.parquet", stage) }
func shrinkKey(stage int) string    { return fmt.Sprintf("stage-%d/shrink.parquet", stage) }

const (
	candidatesKey     = "search/candidates.parquet"
	retrainWeightsKey = "retrain/weights.parquet"
	retrainMetricsKey = "retrain/metrics.parquet"
)

// version is the producer version written into every artifact: the module version, or the VCS
// revision when the binary was built from a checkout with VCS stamping (with "+dirty" when the
// tree had uncommitted changes, so a rebuilt binary never takes an older one's outputs as its
// own), else "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if dirty {
			rev += "+dirty"
		}
		return rev
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "devel"
}

// job is one step's run: its store, common flags, configuration and the provenance it gathers.
type job struct {
	name   string
	common step.Common
	cfg    Config
	sp     space.Space    // the configuration's search space
	flags  map[string]any // the step's own flags, recorded in provenance
	st     store.Store
	inputs []schema.Input
	log    *slog.Logger
}

func newJob(ctx context.Context, name string, c step.Common, flags map[string]any) (*job, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	if err := c.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	sp, err := spaceOf(cfg.Space)
	if err != nil {
		return nil, err
	}
	st, err := artifacts.Open(ctx, c.Run)
	if err != nil {
		return nil, fmt.Errorf("open run %s: %w", c.Run, err)
	}
	return &job{name: name, common: c, cfg: cfg, sp: sp, flags: flags, st: st, log: slog.Default()}, nil
}

// meta returns the provenance of the artifacts this job writes.
func (j *job) meta() schema.Meta {
	conf, err := json.Marshal(struct {
		Config Config         `json:"config"`
		Flags  map[string]any `json:"flags"`
	}{j.cfg, j.flags})
	if err != nil {
		panic(err) // Config holds only plain values
	}
	return schema.Meta{
		Producer:        j.name,
		ProducerVersion: version(),
		Seed:            int64(j.common.Seed),
		Config:          string(conf),
		Inputs:          slices.Clone(j.inputs),
	}
}

// input records an artifact read as a provenance input.
func (j *job) input(o schema.Object) { j.inputs = append(j.inputs, o.Input()) }

// upToDate reports whether every key already holds an artifact with exactly the provenance this job
// would write (same producer and version, seed, configuration and input checksums), so the work can
// be skipped. -force always redoes it.
func (j *job) upToDate(ctx context.Context, keys ...string) bool {
	if j.common.Force {
		return false
	}
	want := j.meta()
	for _, k := range keys {
		data, _, err := schema.Fetch(ctx, j.st, k)
		if err != nil {
			return false
		}
		got, _, err := schema.ReadMeta(data, j.st.URL(k))
		if err != nil {
			return false
		}
		got.Schema, got.Version = "", 0
		if !sameMeta(got, want) {
			return false
		}
	}
	j.log.Info("outputs up to date; skipping (use -force to redo)", "outputs", keys)
	return true
}

func sameMeta(a, b schema.Meta) bool {
	return a.Producer == b.Producer && a.ProducerVersion == b.ProducerVersion && a.Seed == b.Seed &&
		a.Config == b.Config && slices.Equal(a.Inputs, b.Inputs)
}

// record adds written artifacts to the run's manifest.
func (j *job) record(ctx context.Context, objs ...schema.Object) error {
	if err := manifest.Record(ctx, j.st, objs...); err != nil {
		return fmt.Errorf("record manifest of %s: %w", j.common.Run, err)
	}
	for _, o := range objs {
		j.log.Info("wrote", "artifact", o.URL, "bytes", o.Size, "sha256", o.SHA256)
	}
	return nil
}

// spaceOf returns the search space the configuration names.
func spaceOf(name string) (space.Space, error) {
	switch name {
	case "nb201":
		return space.NB201{}, nil
	case "darts":
		return space.DARTS{}, nil
	case "proxyless-gpu":
		return space.ProxylessGPU(), nil
	case "fairnas":
		return space.FairNAS(), nil
	}
	return nil, fmt.Errorf("space %q: want nb201, darts, proxyless-gpu or fairnas", name)
}

// readSpace returns the space stage trains on: the whole space for stage 0, else what stage-1 left.
func (j *job) readSpace(ctx context.Context, sp space.Space, stage int) (space.Shrunk, error) {
	if stage == 0 {
		return sp.Full(), nil
	}
	rows, obj, err := schema.Space.Get(ctx, j.st, spaceKey(stage-1))
	if err != nil {
		return space.Shrunk{}, fmt.Errorf("read space of stage %d: %w", stage-1, err)
	}
	j.input(obj)
	s, err := shrunkOf(sp, rows)
	if err != nil {
		return space.Shrunk{}, fmt.Errorf("%s: %w", obj.URL, err)
	}
	return s, nil
}

// shrunkOf converts space rows to a Shrunk, checking that every (edge, op) of sp appears once.
func shrunkOf(sp space.Space, rows []schema.SpaceOp) (space.Shrunk, error) {
	ops := sp.Ops()
	seen := make([][]bool, sp.Points())
	allowed := make([][]int, sp.Points())
	for i := range seen {
		seen[i] = make([]bool, len(ops))
	}
	for _, r := range rows {
		if int(r.Edge) < 0 || int(r.Edge) >= sp.Points() {
			return space.Shrunk{}, fmt.Errorf("edge %d out of range [0,%d) for space %s", r.Edge, sp.Points(), sp.Name())
		}
		code, err := space.OpCode(sp, r.Op)
		if err != nil {
			return space.Shrunk{}, err
		}
		if seen[r.Edge][code] {
			return space.Shrunk{}, fmt.Errorf("edge %d op %s listed twice", r.Edge, r.Op)
		}
		seen[r.Edge][code] = true
		if r.Alive {
			allowed[r.Edge] = append(allowed[r.Edge], code)
		}
	}
	for p := range allowed {
		slices.Sort(allowed[p])
		if len(allowed[p]) == 0 {
			return space.Shrunk{}, fmt.Errorf("edge %d has no alive op", p)
		}
	}
	s := space.Shrunk{Allowed: allowed}
	if err := space.Validate(sp, s); err != nil {
		return space.Shrunk{}, err
	}
	return s, nil
}

// spaceRows lists every (edge, op) of sp with whether s still allows it.
func spaceRows(sp space.Space, s space.Shrunk) []schema.SpaceOp {
	var rows []schema.SpaceOp
	for p := 0; p < sp.Points(); p++ {
		for code, op := range sp.Ops() {
			rows = append(rows, schema.SpaceOp{Edge: int32(p), Op: op.Name, Alive: s.Has(p, code)})
		}
	}
	return rows
}

// sizeFloat converts a space size for the shrink artifact (float64: DARTS sizes exceed int64).
func sizeFloat(n *big.Int) float64 {
	f, _ := new(big.Float).SetInt(n).Float64()
	return f
}

// opNames returns a child's operators by name.
func opNames(sp space.Space, c space.Child) []string {
	ops := sp.Ops()
	names := make([]string, len(c))
	for i, code := range c {
		if code == space.Absent {
			names[i] = ""
			continue
		}
		names[i] = ops[code].Name
	}
	return names
}
