package manifest_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store/file"
)

func TestAddFind(t *testing.T) {
	var m manifest.Manifest
	for _, k := range []string{"b", "a", "c", "b"} {
		m.Add(manifest.Entry{Key: k, Producer: "p-" + k})
	}
	var keys []string
	for _, e := range m.Artifacts {
		keys = append(keys, e.Key)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
	if e, ok := m.Find("b"); !ok || e.Producer != "p-b" {
		t.Errorf("Find(b) = %+v, %v", e, ok)
	}
	if _, ok := m.Find("d"); ok {
		t.Error("Find(d) found a missing key")
	}
}

// run is a small run on disk: a weights artifact and a scores artifact computed from it and from a
// data file outside the run.
type run struct {
	dir     string
	st      *file.Store
	weights schema.Object
	scores  schema.Object
}

func newRun(t *testing.T) *run {
	t.Helper()
	ctx := context.Background()
	r := &run{dir: t.TempDir()}
	var err error
	if r.st, err = file.New(r.dir); err != nil {
		t.Fatal(err)
	}
	// An input that is no listed artifact (not a .parquet key, so not required in the manifest).
	space, err := schema.Space.Put(ctx, r.st, "fixture/space.pq", schema.Meta{Producer: "fixture"},
		[]schema.SpaceOp{{Edge: 0, Op: "none", Alive: true}})
	if err != nil {
		t.Fatal(err)
	}
	r.weights, err = schema.Weights.Put(ctx, r.st, "stage0/supernet.parquet",
		schema.Meta{Producer: "train-supernet", Seed: 1, Inputs: []schema.Input{space.Input()}},
		[]schema.Weight{{Name: "w", Shape: []int32{2}, Values: []float32{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	r.scores, err = schema.Scores.Put(ctx, r.st, "stage0/scores.parquet",
		schema.Meta{Producer: "score-operators", Inputs: []schema.Input{r.weights.Input(), space.Input()}},
		[]schema.OpScore{{Edge: 0, Op: "none", Score: 0.5, Samples: 3, Rank: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Record(ctx, r.st, r.weights); err != nil {
		t.Fatal(err)
	}
	if err := manifest.Record(ctx, r.st, r.scores); err != nil {
		t.Fatal(err)
	}
	return r
}

func verify(t *testing.T, r *run) manifest.Report {
	t.Helper()
	rep, err := manifest.Verify(context.Background(), r.st)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyClean(t *testing.T) {
	r := newRun(t)
	m, err := manifest.Load(context.Background(), r.st)
	if err != nil {
		t.Fatal(err)
	}
	want := []manifest.Entry{manifest.EntryOf(r.scores), manifest.EntryOf(r.weights)}
	if !reflect.DeepEqual(m.Artifacts, want) {
		t.Errorf("manifest = %+v, want %+v", m.Artifacts, want)
	}
	rep := verify(t, r)
	if rep.Err() != nil || rep.Artifacts != 2 || rep.Inputs != 2 {
		t.Errorf("Verify = %d artifacts, %d inputs, %v; want 2, 2, no problems", rep.Artifacts, rep.Inputs, rep.Err())
	}
}

func TestVerifyFindsProblems(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		breakRun func(t *testing.T, r *run)
		want     string
	}{
		{"changed bytes", func(t *testing.T, r *run) {
			p := filepath.Join(r.dir, "stage0", "scores.parquet")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "stage0/scores.parquet: has "},
		{"missing artifact", func(t *testing.T, r *run) {
			if err := r.st.Delete(ctx, "stage0/scores.parquet"); err != nil {
				t.Fatal(err)
			}
		}, "stage0/scores.parquet: get "},
		{"missing input", func(t *testing.T, r *run) {
			if err := os.Remove(filepath.Join(r.dir, "fixture", "space.pq")); err != nil {
				t.Fatal(err)
			}
		}, "fixture/space.pq does not exist"},
		{"input rewritten", func(t *testing.T, r *run) {
			w, err := schema.Weights.Put(ctx, r.st, "stage0/supernet.parquet", schema.Meta{Producer: "train-supernet", Seed: 2}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := manifest.Record(ctx, r.st, w); err != nil {
				t.Fatal(err)
			}
		}, "stage0/supernet.parquet has sha256 "},
		{"unlisted", func(t *testing.T, r *run) {
			if _, err := schema.Scores.Put(ctx, r.st, "stage1/scores.parquet", schema.Meta{Producer: "x"}, nil); err != nil {
				t.Fatal(err)
			}
		}, "stage1/scores.parquet is not in the manifest"},
		{"temporary file of a killed write", func(t *testing.T, r *run) {
			// No process has pid 2147483632 (above Linux's largest pid_max, 2^22), so its writer is gone.
			if err := os.WriteFile(filepath.Join(r.dir, "stage0", ".abs-tmp-2147483632-1"), []byte("part"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "stage0/.abs-tmp-2147483632-1 was left by a killed write"},
		{"producer", func(t *testing.T, r *run) {
			m, err := manifest.Load(ctx, r.st)
			if err != nil {
				t.Fatal(err)
			}
			e := manifest.EntryOf(r.scores)
			e.Producer = "prune"
			m.Add(e)
			if err := m.Save(ctx, r.st); err != nil {
				t.Fatal(err)
			}
		}, "metadata says scores v2 by score-operators, manifest says scores v2 by prune"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(t)
			tc.breakRun(t, r)
			rep := verify(t, r)
			if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Error(), tc.want) {
				t.Errorf("problems = %v, want one containing %q", rep.Problems, tc.want)
			}
		})
	}
}

// TestVerifyCopiedRun moves a run to another folder: its provenance names its inputs by their keys
// in the run, so the copy verifies and names no path of the original.
func TestVerifyCopiedRun(t *testing.T) {
	r := newRun(t)
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(r.dir, moved); err != nil {
		t.Fatal(err)
	}
	st, err := file.New(moved)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := manifest.Verify(context.Background(), st)
	if err != nil || rep.Err() != nil || rep.Inputs != 2 {
		t.Errorf("Verify of the moved run = %d inputs, %v, %v; want 2 inputs, no problems", rep.Inputs, rep.Err(), err)
	}
}

func TestVerifyNoManifest(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = manifest.Verify(context.Background(), st)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("error = %v, want a not-exist error naming manifest.json", err)
	}
}

func TestLoadRejects(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ text, want string }{
		{`{"version":2,"artifacts":[]}`, "version is 2, want 1"},
		{`{"version":1,"artifacts":[{"key":"/abs"}]}`, `artifact 0: invalid key "/abs"`},
		{`{"version":1,"files":[]}`, `unknown field "files"`},
		{`not json`, "want a JSON manifest object"},
	} {
		st, err := file.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, manifest.Key, strings.NewReader(tc.text)); err != nil {
			t.Fatal(err)
		}
		if _, err := manifest.Load(ctx, st); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) error = %v, want one containing %q", tc.text, err, tc.want)
		}
	}
}
