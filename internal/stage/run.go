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
//	stage-N/correlations.parquet  correlations (benchmark mode): τ and ρ of each metric against the table
//	stage-N/op-truth.parquet   op-truth (benchmark mode): each operator's ground truth, kept or not
//	search/candidates.parquet  candidates: every architecture the search evaluated
//	retrain/weights.parquet    weights of the retrained winner
//	retrain/metrics.parquet    metrics of the retraining
//	manifest.json              the run's manifest (artifacts/manifest)
//
// Stage N trains on the space left by stage N-1 (stage 0 on the whole space).
package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/internal/abs/angle"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/family"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/abs/supernet"
	"github.com/abs-nas/abs/internal/abs/train"
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

// Keys of the benchmark-mode artifacts (config ground_truth).
func correlationsKey(stage int) string { return fmt.Sprintf("stage-%d/correlations.parquet", stage) }
func opTruthKey(stage int) string      { return fmt.Sprintf("stage-%d/op-truth.parquet", stage) }

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
	fam    *family.Family    // the configuration's search space and all that depends on it
	sp     space.Space       // fam.Space
	flags  map[string]string // the step's own flags, recorded in provenance
	st     store.Store
	inputs []schema.Input
	log    *slog.Logger
	// checkOnly is set in a Check: flags whose values an earlier step outputs may be unset.
	checkOnly bool
}

// commonFlags are the flags of step.Common, recorded in provenance by their own fields (or not
// at all: the run's URL and the output folder do not change what a step computes).
var commonFlags = map[string]bool{"run": true, "seed": true, "config": true, "force": true, "outputs": true}

// newJob checks everything a step can check before it reads any data: the common flags, the
// configuration, the step's own flags (check, given the job; nil for none), that the run's store
// is writable and that it does not hold a run with another configuration or seed (unless -force).
// Every such problem is a usage error. The step's own flags are taken from fs for provenance. In a
// Check context it returns errChecked once all is checked, so Check runs no step's work.
func newJob(ctx context.Context, name string, c step.Common, fs *flag.FlagSet, check func(*job) error) (*job, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	if err := c.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, step.Usage(fmt.Errorf("config: %w", err))
	}
	fam, err := family.Lookup(cfg.Space)
	if err != nil {
		return nil, step.Usage(err)
	}
	flags := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !commonFlags[f.Name] {
			flags[f.Name] = f.Value.String()
		}
	})
	j := &job{name: name, common: c, cfg: cfg, fam: fam, sp: fam.Space, flags: flags, log: slog.Default(), checkOnly: checking(ctx)}
	if check != nil {
		if err := check(j); err != nil {
			return nil, step.Usage(err)
		}
	}
	if j.st, err = artifacts.Open(ctx, c.Run); err != nil {
		return nil, step.Usage(fmt.Errorf("-run: %w", err))
	}
	if err := j.checkStore(ctx); err != nil {
		return nil, err
	}
	if checking(ctx) {
		return nil, errChecked
	}
	if err := j.lock(ctx); err != nil {
		return nil, err
	}
	return j, nil
}

// lockKey is the run's lock: the step that writes the run holds it (see job.lock).
const lockKey = "lock.json"

// holder names the step holding a run's lock.
type holder struct {
	Step  string    `json:"step"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// lock takes the run's lock, so that two steps never write one run at once (the manifest is
// read, changed and rewritten). A lock left by a killed step of this host is taken over; any
// other is an error naming its holder. unlock releases it.
func (j *job) lock(ctx context.Context) error {
	host, _ := os.Hostname()
	me, _ := json.Marshal(holder{Step: j.name, Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
	for try := 0; ; try++ {
		err := j.st.Create(ctx, lockKey, bytes.NewReader(me))
		if err == nil || !errors.Is(err, fs.ErrExist) {
			return err
		}
		var h holder
		data, _, rerr := schema.Fetch(ctx, j.st, lockKey)
		if rerr == nil {
			rerr = json.Unmarshal(data, &h)
		}
		if try == 0 && rerr == nil && h.Host == host && !alive(h.PID) {
			j.log.Warn("taking over the lock of a step that is gone", "lock", j.st.URL(lockKey), "step", h.Step, "pid", h.PID)
			if err := j.st.Delete(ctx, lockKey); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("run %s is locked by %s (pid %d on %s since %s): another step is writing it; if none is, delete %s",
			j.common.Run, h.Step, h.PID, h.Host, h.Since.Format(time.RFC3339), j.st.URL(lockKey))
	}
}

// unlock releases the run's lock, also when the step's context is canceled.
func (j *job) unlock() {
	if err := j.st.Delete(context.WithoutCancel(context.Background()), lockKey); err != nil {
		j.log.Warn("release the run's lock", "error", err.Error())
	}
}

// alive reports whether a process with pid runs on this host.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// probeKey is written and deleted to check that a run's store is writable.
const probeKey = ".abs-write-check"

// checkStore checks that the run's store is writable and holds no run with another configuration
// or seed. A file store that cannot be written is a usage error; so is a manifest that cannot be
// read, which the step could not record its outputs in.
func (j *job) checkStore(ctx context.Context) error {
	local := !strings.HasPrefix(j.common.Run, "s3://")
	err := j.st.Put(ctx, probeKey, strings.NewReader(""))
	if err == nil {
		err = j.st.Delete(ctx, probeKey)
	}
	if err != nil {
		err = fmt.Errorf("-run %s is not writable: %w", j.common.Run, err)
		if local {
			return step.Usage(err)
		}
		return err
	}
	m, err := manifest.Load(ctx, j.st)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new run
	}
	if errors.Is(err, manifest.ErrCorrupt) {
		return step.Usage(fmt.Errorf("-run %s: %w (repair or delete it: the step could not record its outputs)", j.common.Run, err))
	}
	if err != nil {
		return err
	}
	if j.common.Force {
		return nil
	}
	// Any artifact tells the run's seed and configuration: every step of a run shares them.
	var probe *manifest.Entry
	for i, e := range m.Artifacts {
		if e.Schema != "" && (probe == nil || e.Size < probe.Size) {
			probe = &m.Artifacts[i]
		}
	}
	if probe == nil {
		return nil
	}
	data, obj, err := schema.Fetch(ctx, j.st, probe.Key)
	if err != nil {
		return fmt.Errorf("read the run's configuration: %w", err)
	}
	meta, _, err := schema.ReadMeta(data, obj.URL)
	if err != nil {
		return fmt.Errorf("read the run's configuration: %w", err)
	}
	var rec struct {
		Config json.RawMessage `json:"config"`
	}
	_ = json.Unmarshal([]byte(meta.Config), &rec) // a foreign config differs below
	want, _ := json.Marshal(j.cfg)
	if meta.Seed != int64(j.common.Seed) || string(rec.Config) != string(want) {
		return step.Usage(fmt.Errorf("-run %s holds a run with seed %d and config %s (see %s), not seed %d and config %s: "+
			"use a new store for a new run, or -force to overwrite this step's outputs", j.common.Run, meta.Seed, rec.Config, obj.URL, j.common.Seed, want))
	}
	return nil
}

type checkKey struct{}

// errChecked is what a step returns in a Check context once its arguments are checked.
var errChecked = errors.New("checked")

func checking(ctx context.Context) bool { return ctx.Value(checkKey{}) != nil }

// Steps are the steps of the pipeline by the name of their binary.
var Steps = map[string]func(ctx context.Context, args []string) error{
	"train-supernet":  TrainSupernet,
	"sample-children": SampleChildren,
	"score-operators": ScoreOperators,
	"prune":           Prune,
	"search":          Search,
	"retrain":         Retrain,
}

// Check checks the arguments of one step as the step itself does when it starts (its flags, the
// configuration, the run's store), without reading data or doing any work, so that a pipeline can
// refuse bad parameters before its first step runs. Flags whose values are not known before the
// run (a stage number that an earlier step outputs) are left out of args; the step's defaults
// stand in for them. A command that is not a step of this package is not checked. A problem is a
// usage error (step.IsUsage).
func Check(ctx context.Context, command string, args []string) error {
	run, ok := Steps[command]
	if !ok {
		return nil
	}
	err := run(context.WithValue(ctx, checkKey{}, true), args)
	if err == nil || errors.Is(err, errChecked) {
		return nil
	}
	return err
}

// meta returns the provenance of the artifacts this job writes.
func (j *job) meta() schema.Meta {
	conf, err := json.Marshal(struct {
		Config Config            `json:"config"`
		Flags  map[string]string `json:"flags"`
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

// upToDate reports whether every key already holds an artifact with exactly the provenance this job
// would write (same producer and version, seed, configuration and input checksums), so the work can
// be skipped. -force always redoes it. runStep asks it once every input is read and recorded.
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

// net returns the configured supernet of the job's space for images like set's.
func (j *job) net(set *data.Set) (supernet.Spec, error) {
	return j.fam.Spec(j.cfg.netSize(), family.Image{C: set.C, H: set.H, W: set.W, Classes: set.Classes})
}

// options returns the SGD settings for a run of steps steps.
func (j *job) options(steps int, seed uint64) train.Options { return j.cfg.options(j.fam, steps, seed) }

// angleNet describes the configured supernet to the angle metric.
func (j *job) angleNet() angle.Net { return j.fam.Angle(j.cfg.netSize()) }

// flops returns the multiply-adds of a child of the configured supernet on the run's images.
func (j *job) flops() func(space.Child) int64 {
	return j.fam.FLOPs(j.cfg.netSize(), j.cfg.Dataset.image())
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
		names[i] = ops[code].Name
	}
	return names
}

// check returns an error formatted from format and args unless ok.
func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// checkStage refuses a negative -stage.
func checkStage(stage int) error {
	return check(stage >= 0, "-stage %d: want 0 or more (0 is the first stage)", stage)
}
