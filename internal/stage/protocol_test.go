package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/artifacts/store/file"
	"github.com/abs-nas/abs/internal/abs/data"
	"github.com/abs-nas/abs/internal/abs/space"
)

// protoConfig is a run small enough that every step takes about a second: a C=4, N=1 NB201
// supernet on 128 Fashion-MNIST images, two sampled children per operator, a random search of 4.
const protoConfig = `{"base_epoch":0,"train":128,"valid":32,"test":64,"width":4,"batch":32,"exact_limit":0,"children_per_op":2,"search":"random","search_budget":4,"retrain_epochs":1}`

// tinyArgs are the arguments of each step of the tiny run, by step, without -run and -outputs.
var tinyArgs = []struct {
	step string
	args []string
}{
	{"train-supernet", []string{"-stage", "0", "-epochs", "1"}},
	{"sample-children", []string{"-stage", "0"}},
	{"score-operators", []string{"-stage", "0"}},
	{"prune", []string{"-stage", "0", "-policy", "global-tail", "-drop", "10", "-threshold", "64"}},
	{"train-supernet", []string{"-stage", "1", "-epochs", "1"}},
	{"search", []string{"-stage", "0"}},
	{"retrain", nil}, // -arch: search's best
}

// tinyRun runs tinyArgs in process into a new folder and returns it with each step's Argo
// output parameters (by step name).
func tinyRun(t *testing.T, config string) (string, map[string]map[string]string) {
	t.Helper()
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing and CI is set: %v", data.FashionMNISTDir, err)
		}
		t.Skipf("SKIPPED: %s missing: %v", data.FashionMNISTDir, err)
	}
	run := filepath.Join(t.TempDir(), "run")
	params := map[string]map[string]string{}
	for _, s := range tinyArgs {
		args := s.args
		if s.step == "retrain" {
			args = []string{"-arch", params["search"]["best"]}
		}
		out := t.TempDir()
		if err := Steps[s.step](context.Background(), append([]string{"-run", run, "-seed", "1", "-config", config, "-outputs", out}, args...)); err != nil {
			t.Fatalf("%s %s: %v", s.step, strings.Join(args, " "), err)
		}
		params[s.step] = readParams(t, out)
	}
	return run, params
}

// readParams reads the Argo output parameters a step wrote into dir.
func readParams(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p[e.Name()] = string(b)
	}
	return p
}

// TestStepProtocol calls every step in process on a copy of a tiny run and checks how the harness
// decides between skipping and computing, from the provenance the outputs hold:
//
//   - skip: the same command again does no work (nothing is computed, no output file or the
//     manifest is rewritten) and reports the same Argo output parameters, read from the store;
//   - force: -force computes again and writes the same bytes;
//   - input: an input whose bytes changed (its provenance) is computed from again, and the new
//     outputs record its new sha256;
//   - flag: a changed flag of the step's own computes again, and the outputs record its value.
//
// Sample-children, score-operators and search have no flag of their own but -stage (which names
// other inputs and outputs; the data set is config field dataset), and retrain reads no artifact
// (its architecture is a flag): those cases are left out here.
func TestStepProtocol(t *testing.T) {
	base, params := tinyRun(t, protoConfig)
	const otherArch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
	checkProtocol(t, base, protoConfig, params, []protoCase{
		{"train-supernet", []string{"-stage", "1", "-epochs", "1"}, []string{baseKey(1), supernetKey(1), metricsKey(1)}, supernetKey(0), []string{"-epochs", "2"}},
		{"sample-children", []string{"-stage", "0"}, []string{childrenKey(0)}, supernetKey(0), nil},
		{"score-operators", []string{"-stage", "0"}, []string{scoresKey(0)}, childrenKey(0), nil},
		{"prune", []string{"-stage", "0", "-policy", "global-tail", "-drop", "10", "-threshold", "64"}, []string{spaceKey(0), decisionsKey(0), shrinkKey(0)}, scoresKey(0), []string{"-drop", "11"}},
		{"search", []string{"-stage", "0"}, []string{candidatesKey}, supernetKey(0), nil},
		{"retrain", []string{"-arch", params["search"]["best"]}, []string{retrainWeightsKey, retrainMetricsKey}, "", []string{"-arch", otherArch}},
	})
}

// TestStepProtocolBenchmark is TestStepProtocol's check in benchmark mode (config ground_truth),
// where score-operators and prune write one output more, and the search reads the table instead
// of a supernet.
func TestStepProtocolBenchmark(t *testing.T) {
	needShared(t)
	table, err := filepath.Abs(sharedTable)
	if err != nil {
		t.Fatal(err)
	}
	config := strings.TrimSuffix(protoConfig, "}") + fmt.Sprintf(`,"ground_truth":%q,"fitness":"ground-truth"}`, table)
	base, params := tinyRun(t, config)
	checkProtocol(t, base, config, params, []protoCase{
		{"score-operators", []string{"-stage", "0"}, []string{scoresKey(0), correlationsKey(0)}, childrenKey(0), nil},
		{"prune", []string{"-stage", "0", "-policy", "global-tail", "-drop", "10", "-threshold", "64"}, []string{spaceKey(0), decisionsKey(0), shrinkKey(0), opTruthKey(0)}, scoresKey(0), []string{"-threshold", "1e9"}},
		{"search", []string{"-stage", "0"}, []string{candidatesKey}, spaceKey(0), nil},
	})
}

// A protoCase is one step of a tiny run for checkProtocol.
type protoCase struct {
	step    string
	args    []string // as the run ran it
	outputs []string
	input   string   // key of an input to change; "" for none
	flag    []string // a changed flag and its value; nil for none
}

// checkProtocol runs TestStepProtocol's cases on copies of the tiny run base, made with config,
// whose steps reported params.
func checkProtocol(t *testing.T, base, config string, params map[string]map[string]string, cases []protoCase) {
	for _, tc := range cases {
		for _, mode := range []string{"skip", "force", "input", "flag"} {
			if mode == "input" && tc.input == "" || mode == "flag" && tc.flag == nil {
				continue
			}
			t.Run(tc.step+"/"+mode, func(t *testing.T) {
				ctx := context.Background()
				run := filepath.Join(t.TempDir(), "run")
				if err := os.CopyFS(run, os.DirFS(base)); err != nil {
					t.Fatal(err)
				}
				st, err := file.New(run)
				if err != nil {
					t.Fatal(err)
				}
				keys := append([]string{manifest.Key}, tc.outputs...)
				before := make([]os.FileInfo, len(keys))
				old := make([][]byte, len(keys))
				for i, k := range keys {
					p := filepath.Join(run, filepath.FromSlash(k))
					if before[i], err = os.Stat(p); err != nil {
						t.Fatal(err)
					}
					old[i], _ = os.ReadFile(p)
				}
				args := append([]string{"-run", run, "-seed", "1", "-config", config}, tc.args...)
				var newSum string
				switch mode {
				case "force":
					args = append(args, "-force")
				case "input":
					newSum = restamp(t, st, tc.input)
				case "flag":
					args = append(args, tc.flag...) // the last of a repeated flag holds
				}
				outDir := t.TempDir()
				args = append(args, "-outputs", outDir)
				var log bytes.Buffer
				defer slog.SetDefault(slog.Default())
				slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
				if err := Steps[tc.step](ctx, args); err != nil {
					t.Fatalf("%s %s: %v", tc.step, strings.Join(args, " "), err)
				}
				computed := strings.Contains(log.String(), "msg=computing")
				if computed != (mode != "skip") {
					t.Errorf("computed: %v, want %v; log:\n%s", computed, mode != "skip", log.String())
				}
				for i, k := range keys {
					p := filepath.Join(run, filepath.FromSlash(k))
					fi, err := os.Stat(p)
					if err != nil {
						t.Fatal(err)
					}
					now, _ := os.ReadFile(p)
					if rewritten := !os.SameFile(before[i], fi); rewritten != (mode != "skip") {
						t.Errorf("%s rewritten: %v, want %v", k, rewritten, mode != "skip")
					}
					if k == manifest.Key {
						continue
					}
					if same := bytes.Equal(old[i], now); same != (mode == "skip" || mode == "force") {
						t.Errorf("%s: the same bytes: %v, want %v", k, same, !same)
					}
					meta, _, err := schema.ReadMeta(now, p)
					if err != nil {
						t.Fatal(err)
					}
					switch mode {
					case "input":
						if !slices.Contains(meta.Inputs, schema.Input{Key: tc.input, SHA256: newSum}) {
							t.Errorf("%s: inputs %v, want %s with its new sha256 %s", k, meta.Inputs, tc.input, newSum)
						}
					case "flag":
						var conf struct{ Flags map[string]string }
						if err := json.Unmarshal([]byte(meta.Config), &conf); err != nil {
							t.Fatal(err)
						}
						if name := strings.TrimPrefix(tc.flag[0], "-"); conf.Flags[name] != tc.flag[1] {
							t.Errorf("%s: flags %v, want %s=%s", k, conf.Flags, name, tc.flag[1])
						}
					}
				}
				if got := readParams(t, outDir); mode != "flag" && !mapsEqual(got, params[tc.step]) {
					t.Errorf("output parameters %v, want %v (as the first run)", got, params[tc.step])
				}
			})
		}
	}
}

// TestReportsFromStore checks that a step that skips its work reports its Argo output parameters
// from the outputs the run holds, not from a computation of its own: prune reports the size of
// the stored space, and retrain refuses stored metrics without a test accuracy, naming the file
// and the column.
func TestReportsFromStore(t *testing.T) {
	base, params := tinyRun(t, protoConfig)
	ctx := context.Background()
	st, err := file.New(base)
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"-run", base, "-seed", "1", "-config", protoConfig}

	// The whole space, with the provenance prune would write: prune skips, and reports it.
	_, obj, err := schema.Space.Get(ctx, st, spaceKey(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Space.Put(ctx, st, spaceKey(0), obj.Meta, spaceRows(space.NB201{}, space.NB201{}.Full())); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	if err := Prune(ctx, append(common, "-stage", "0", "-policy", "global-tail", "-drop", "10", "-threshold", "64", "-outputs", outDir)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"size": "15625", "continue": "true", "next-stage": "1"}
	if got := readParams(t, outDir); !mapsEqual(got, want) || params["prune"]["size"] == "15625" {
		t.Errorf("prune skipping over the whole space: output parameters %v, want %v (the first run's: %v)", got, want, params["prune"])
	}

	// Retraining metrics without a test accuracy, with the provenance retrain would write.
	rows, obj, err := schema.Metrics.Get(ctx, st, retrainMetricsKey)
	if err != nil {
		t.Fatal(err)
	}
	rows[len(rows)-1].TestAcc = nil
	if _, err := schema.Metrics.Put(ctx, st, retrainMetricsKey, obj.Meta, rows); err != nil {
		t.Fatal(err)
	}
	err = Retrain(ctx, append(common, "-arch", params["search"]["best"], "-outputs", t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), st.URL(retrainMetricsKey)) || !strings.Contains(err.Error(), "test_acc") || strings.Contains(err.Error(), "<nil>") {
		t.Errorf("retrain over metrics without a test accuracy: %v, want an error naming %s and test_acc", err, st.URL(retrainMetricsKey))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// restamp rewrites the artifact at key with the same rows and another producer version, as a
// rebuilt binary would, and records it; it returns its new sha256.
func restamp(t *testing.T, st store.Store, key string) string {
	t.Helper()
	switch path.Base(key) {
	case "supernet.parquet":
		return restampKind(t, st, schema.Weights, key)
	case "children.parquet":
		return restampKind(t, st, schema.Children, key)
	case "scores.parquet":
		return restampKind(t, st, schema.Scores, key)
	case "space.parquet":
		return restampKind(t, st, schema.Space, key)
	}
	t.Fatalf("restamp %s: no kind", key)
	return ""
}

func restampKind[R any](t *testing.T, st store.Store, k *schema.Kind[R], key string) string {
	ctx := context.Background()
	rows, obj, err := k.Get(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	meta := obj.Meta
	meta.ProducerVersion += "+changed"
	o, err := k.Put(ctx, st, key, meta, rows)
	if err != nil {
		t.Fatal(err)
	}
	if o.SHA256 == obj.SHA256 {
		t.Fatalf("restamp %s: the same bytes", key)
	}
	if err := manifest.Record(ctx, st, o); err != nil {
		t.Fatal(err)
	}
	return o.SHA256
}
