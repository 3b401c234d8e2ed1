package stage

import (
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/internal/abs/param"
	"github.com/abs-nas/abs/internal/abs/space"
	"github.com/abs-nas/abs/internal/step"
)

// A protocol declares one step of the pipeline: its own flags, what it reads, what it writes and
// the work between. runStep does everything else, alike for every step, in this order:
//
//  1. it parses the common flags and the step's own, checks them, the configuration and the run's
//     store, and takes the run's lock (newJob), before reading any data;
//  2. it reads every input, checks it (its schema, the key it was written to, and what the step's
//     decoding checks) and records it in the provenance, with the flags taken from the FlagSet;
//  3. it skips the work when every output already holds exactly the provenance it would write
//     (unless -force), else it computes the outputs, writes each atomically and then records them
//     in the run's manifest;
//  4. it writes the step's Argo output parameters, read from the stored outputs on either path.
//
// A step thus cannot decide that it is up to date before it has read all its inputs, and the
// parameters a pipeline acts on are always those of the artifacts the run holds.
type protocol interface {
	// flags defines the step's own flags on fs.
	flags(fs *flag.FlagSet)
	// check checks the flags' values, given the job's configuration, before any data is read.
	check(j *job) error
	// inputs lists what the step reads, in order: each input decodes into the step.
	inputs(j *job) []input
	// outputs lists what the step writes, given its inputs: each output's rows are compute's.
	outputs(j *job) []output
	// compute does the step's work from its inputs and fills in its outputs' rows.
	compute(ctx context.Context, j *job) error
}

// A reporter is a step with Argo output parameters.
type reporter interface {
	// report returns the step's output parameters, read from its stored outputs.
	report(ctx context.Context, j *job) (map[string]string, error)
}

// runStep runs the step p named name (what is its -h text) with the command-line args.
func runStep(ctx context.Context, args []string, name, what string, p protocol) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var c step.Common
	c.Register(fs)
	p.flags(fs)
	usage(fs, name, what)
	if err := step.Parse(fs, args); err != nil {
		return err
	}
	j, err := newJob(ctx, name, c, fs, p.check)
	if err != nil {
		return err
	}
	defer j.unlock()
	for _, in := range p.inputs(j) {
		if err := in(ctx, j); err != nil {
			return err
		}
	}
	outs := p.outputs(j)
	keys := make([]string, len(outs))
	for i, o := range outs {
		keys[i] = o.key
	}
	if !j.upToDate(ctx, keys...) {
		j.log.Info("computing", "outputs", keys)
		if err := p.compute(ctx, j); err != nil {
			return err
		}
		if err := j.write(ctx, outs); err != nil {
			return err
		}
	}
	r, ok := p.(reporter)
	if !ok {
		return nil
	}
	params, err := r.report(ctx, j)
	if err != nil {
		return fmt.Errorf("%s: output parameters: %w", name, err)
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := c.WriteOutput(n, params[n]); err != nil {
			return err
		}
	}
	return nil
}

// An input reads one thing a step needs, checks it, and records it in the job's provenance.
type input func(ctx context.Context, j *job) error

// artifact is the input of the artifact at key, of kind k: it is refused unless it has k's schema
// and was written to key, then decode checks its rows and keeps what the step needs (its error is
// reported naming the file). what names the artifact in errors.
func artifact[R any](k *schema.Kind[R], key, what string, decode func([]R) error) input {
	return func(ctx context.Context, j *job) error {
		rows, obj, err := k.Get(ctx, j.st, key)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		if err := decode(rows); err != nil {
			return fmt.Errorf("%s: %w", obj.URL, err)
		}
		j.inputs = append(j.inputs, obj.Input())
		return nil
	}
}

// when is in, read only if need() holds once the inputs before it are read.
func when(need func() bool, in input) input {
	return func(ctx context.Context, j *job) error {
		if !need() {
			return nil
		}
		return in(ctx, j)
	}
}

// spaceInput reads the space stage trains on into s: the whole space at stage 0 (no input), else
// the space stage-1 left.
func spaceInput(stage int, s *space.Shrunk) input {
	return func(ctx context.Context, j *job) error {
		if stage == 0 {
			*s = j.sp.Full()
			return nil
		}
		return artifact(schema.Space, spaceKey(stage-1), fmt.Sprintf("space of stage %d", stage-1), func(rows []schema.SpaceOp) (err error) {
			*s, err = shrunkOf(j.sp, rows)
			return err
		})(ctx, j)
	}
}

// weightsInput reads the weights artifact at key into w.
func weightsInput(key, what string, w *param.Set) input {
	return artifact(schema.Weights, key, what, func(rows []schema.Weight) (err error) {
		*w, err = schema.SetOf(rows)
		return err
	})
}

// groundTruthInput reads the table of benchmark mode into g (nil when the configuration sets
// none); its sha256 is recorded in the provenance.
func groundTruthInput(g **groundTruth) input {
	return func(ctx context.Context, j *job) (err error) {
		*g, err = j.groundTruth()
		return err
	}
}

// An output is one artifact a step writes: its key, and how to write the rows compute made.
type output struct {
	key string
	put func(ctx context.Context, st store.Store, meta schema.Meta) (schema.Object, error)
}

// out is the output of kind k at key; compute fills in *rows.
func out[R any](k *schema.Kind[R], key string, rows *[]R) output {
	return output{key: key, put: func(ctx context.Context, st store.Store, meta schema.Meta) (schema.Object, error) {
		if *rows == nil {
			return schema.Object{}, fmt.Errorf("put %s: the step computed no rows", st.URL(key))
		}
		return k.Put(ctx, st, key, meta, *rows)
	}}
}

// write writes every output (each atomically: the store's Put), then records them all in the
// run's manifest.
func (j *job) write(ctx context.Context, outs []output) error {
	meta := j.meta()
	objs := make([]schema.Object, len(outs))
	for i, o := range outs {
		var err error
		if objs[i], err = o.put(ctx, j.st, meta); err != nil {
			return err
		}
	}
	return j.record(ctx, objs...)
}

// stored reads the output of kind k at key that the run holds, for a step's report.
func stored[R any](ctx context.Context, j *job, k *schema.Kind[R], key string) ([]R, error) {
	rows, _, err := k.Get(ctx, j.st, key)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("read %s: no rows", j.st.URL(key))
	}
	return rows, nil
}
