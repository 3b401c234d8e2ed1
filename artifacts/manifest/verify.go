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
// every Parquet file of the run is listed. Inputs are keys relative to the run's root, read from
// st, so a copied or moved run verifies where it is. The error is for a run whose manifest cannot
// be read; problems with the run are in the Report.
func Verify(ctx context.Context, st store.Store) (Report, error) {
	var r Report
	m, err := Load(ctx, st)
	if err != nil {
		return r, err
	}
	v := verifier{st: st, sums: map[string]string{}}
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
	sums   map[string]string // sha256 of the objects read so far, by key
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
	v.sums[e.Key] = obj.SHA256
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
		key := in.Key + " " + in.SHA256
		if !v.seen[key] {
			v.seen[key] = true
			v.inputs = append(v.inputs, input{in, obj.URL})
		}
	}
	return probs
}

// input checks that one provenance input exists in the run with the recorded sha256.
func (v *verifier) input(ctx context.Context, in input) error {
	url := v.st.URL(in.Key)
	sum, ok := v.sums[in.Key]
	if !ok {
		_, obj, err := schema.Fetch(ctx, v.st, in.Key)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("artifact %s: input %s does not exist", in.by, url)
		}
		if err != nil {
			return fmt.Errorf("artifact %s: input %s: %w", in.by, url, err)
		}
		sum = obj.SHA256
		v.sums[in.Key] = sum
	}
	if sum != in.SHA256 {
		return fmt.Errorf("artifact %s: input %s has sha256 %s, the artifact recorded %s", in.by, url, sum, in.SHA256)
	}
	return nil
}
