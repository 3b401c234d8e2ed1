package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
)

// Opener opens the store holding the object at url and returns the object's key in it;
// artifacts.OpenObject is one.
type Opener func(ctx context.Context, url string) (store.Store, string, error)

// Report is the outcome of Verify.
type Report struct {
	Artifacts int     // artifacts checked
	Inputs    int     // distinct provenance inputs checked
	Problems  []error // one per problem found, each naming the artifact or input
}

// Err returns the problems joined, or nil if there are none.
func (r Report) Err() error { return errors.Join(r.Problems...) }

// Verify checks the run in st against its manifest: every listed artifact exists with the listed
// size and sha256; an artifact with a schema has that schema and producer in its own metadata; every
// provenance input of every artifact exists and still has the sha256 the artifact recorded; and
// every Parquet file of the run is listed. Inputs inside the run are read from st, others through
// open (nil: they count as problems). The error is for a run whose manifest cannot be read;
// problems with the run are in the Report.
func Verify(ctx context.Context, st store.Store, open Opener) (Report, error) {
	var r Report
	m, err := Load(ctx, st)
	if err != nil {
		return r, err
	}
	v := verifier{st: st, open: open, prefix: strings.TrimSuffix(st.URL("x"), "x"), sums: map[string]string{}}
	for _, e := range m.Artifacts {
		r.Artifacts++
		r.Problems = append(r.Problems, v.artifact(ctx, e)...)
	}
	for _, in := range v.inputs {
		if err := v.input(ctx, in); err != nil {
			r.Problems = append(r.Problems, err)
		}
	}
	r.Inputs = len(v.seen)
	infos, err := st.List(ctx, "")
	if err != nil {
		return r, fmt.Errorf("verify %s: %w", st.URL(""), err)
	}
	for _, info := range infos {
		if _, ok := m.Find(info.Key); !ok && strings.HasSuffix(info.Key, ".parquet") {
			r.Problems = append(r.Problems, fmt.Errorf("artifact %s is not in the manifest", st.URL(info.Key)))
		}
	}
	return r, nil
}

type verifier struct {
	st     store.Store
	open   Opener
	prefix string            // URL of the run's root, ending in a slash
	sums   map[string]string // sha256 of the objects read so far, by URL
	inputs []input           // inputs to check, in order of first use
	seen   map[string]bool
}

// input is one provenance input and the artifact that names it.
type input struct {
	schema.Input
	by string
}

// artifact checks one manifest entry and queues its inputs.
func (v *verifier) artifact(ctx context.Context, e Entry) []error {
	data, obj, err := schema.Fetch(ctx, v.st, e.Key)
	if err != nil {
		return []error{fmt.Errorf("artifact %s: %w", v.st.URL(e.Key), err)}
	}
	v.sums[obj.URL] = obj.SHA256
	if obj.Size != e.Size || obj.SHA256 != e.SHA256 {
		// Its bytes are not the recorded ones: its metadata is not worth checking.
		return []error{fmt.Errorf("artifact %s: has %d bytes with sha256 %s, manifest says %d bytes with sha256 %s",
			obj.URL, obj.Size, obj.SHA256, e.Size, e.SHA256)}
	}
	if e.Schema == "" {
		return nil
	}
	meta, _, err := schema.ReadMeta(data, obj.URL)
	if err != nil {
		return []error{err}
	}
	var probs []error
	if meta.Schema != e.Schema || meta.Version != e.SchemaVersion || meta.Producer != e.Producer {
		probs = append(probs, fmt.Errorf("artifact %s: metadata says %s v%d by %s, manifest says %s v%d by %s",
			obj.URL, meta.Schema, meta.Version, meta.Producer, e.Schema, e.SchemaVersion, e.Producer))
	}
	if v.seen == nil {
		v.seen = map[string]bool{}
	}
	for _, in := range meta.Inputs {
		key := in.URL + " " + in.SHA256
		if !v.seen[key] {
			v.seen[key] = true
			v.inputs = append(v.inputs, input{in, obj.URL})
		}
	}
	return probs
}

// input checks that one provenance input exists with the recorded sha256.
func (v *verifier) input(ctx context.Context, in input) error {
	sum, ok := v.sums[in.URL]
	if !ok {
		st, key := v.st, strings.TrimPrefix(in.URL, v.prefix)
		if !strings.HasPrefix(in.URL, v.prefix) {
			if v.open == nil {
				return fmt.Errorf("artifact %s: input %s is outside the run and no opener was given", in.by, in.URL)
			}
			var err error
			if st, key, err = v.open(ctx, in.URL); err != nil {
				return fmt.Errorf("artifact %s: input %s: %w", in.by, in.URL, err)
			}
		}
		_, obj, err := schema.Fetch(ctx, st, key)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("artifact %s: input %s does not exist", in.by, in.URL)
		}
		if err != nil {
			return fmt.Errorf("artifact %s: input %s: %w", in.by, in.URL, err)
		}
		sum = obj.SHA256
		v.sums[in.URL] = sum
	}
	if sum != in.SHA256 {
		return fmt.Errorf("artifact %s: input %s has sha256 %s, the artifact recorded %s", in.by, in.URL, sum, in.SHA256)
	}
	return nil
}
