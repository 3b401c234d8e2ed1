package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store/file"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	testWeights = []schema.Weight{
		{Name: "cell0.edge3.nor_conv_1x1.conv", Shape: []int32{2, 3, 1, 1}, Values: []float32{0.5, -0.25, 1, 2, -3, 0.125}},
		{Name: "classifier.bias", Shape: []int32{2}, Values: []float32{0, 1}},
	}
	testScores = []schema.OpScore{
		{Edge: 0, Op: "none", Score: 0.125, Samples: 100, Rank: 2, Dropped: true},
		{Edge: 0, Op: "nor_conv_3x3", Score: 1.25, Samples: 100, Rank: 1},
	}
)

// newRun writes a run with a weights and a scores artifact computed from it, and its manifest.
func newRun(t *testing.T) (dir string, weights, scores schema.Object) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	weights, err = schema.Weights.Put(ctx, st, "stage0/supernet.parquet",
		schema.Meta{Producer: "train-supernet", ProducerVersion: "v1", Seed: 7, Config: `{"epochs":1}`}, testWeights)
	if err != nil {
		t.Fatal(err)
	}
	scores, err = schema.Scores.Put(ctx, st, "stage0/scores.parquet",
		schema.Meta{Producer: "score-operators", ProducerVersion: "v1", Seed: 7, Inputs: []schema.Input{weights.Input()}}, testScores)
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Record(ctx, st, weights, scores); err != nil {
		t.Fatal(err)
	}
	return dir, weights, scores
}

// abs runs the CLI and returns its exit status, stdout and stderr.
func abs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestShowGolden(t *testing.T) {
	dir, weights, scores := newRun(t)
	for _, obj := range []schema.Object{weights, scores} {
		code, out, errOut := abs("show", obj.URL)
		if code != 0 {
			t.Fatalf("abs show %s: exit %d: %s", obj.URL, code, errOut)
		}
		out = strings.ReplaceAll(out, "file://"+filepath.ToSlash(dir), "file://$RUN")
		// The run's directory, and so the size and sha256 of a file naming it, vary.
		out = strings.ReplaceAll(out, obj.SHA256, "$SHA256")
		out = regexp.MustCompile(`(?m)^size: .*$`).ReplaceAllString(out, "size:      $$SIZE")
		golden(t, "show-"+obj.Meta.Schema+".txt", out)
	}
}

func TestShowRowLimitAndPath(t *testing.T) {
	dir, _, _ := newRun(t)
	// A plain path works like a file URL, and a flag may follow the argument.
	code, out, errOut := abs("show", filepath.Join(dir, "stage0", "scores.parquet"), "-n", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "\n0     none  0.125") || !strings.HasSuffix(out, "\n… 1 more rows\n") || strings.Contains(out, "nor_conv_3x3") {
		t.Errorf("-n 1 output:\n%s\nwant the first row only and '… 1 more rows'", out)
	}
}

func TestShowJSON(t *testing.T) {
	_, weights, _ := newRun(t)
	code, out, errOut := abs("show", "--json", weights.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		URL    string          `json:"url"`
		Size   int64           `json:"size"`
		SHA256 string          `json:"sha256"`
		Meta   schema.Meta     `json:"meta"`
		Rows   []schema.Weight `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.URL != weights.URL || got.Size != weights.Size || got.SHA256 != weights.SHA256 ||
		!reflect.DeepEqual(got.Meta, weights.Meta) || !reflect.DeepEqual(got.Rows, testWeights) {
		t.Errorf("show --json = %+v, want %+v with rows %+v", got, weights, testWeights)
	}
}

func TestLs(t *testing.T) {
	dir, weights, _ := newRun(t)
	code, out, errOut := abs("ls", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("ls printed %d lines, want a header and 3 objects:\n%s", len(lines), out)
	}
	for i, want := range [][]string{
		{"KEY", "SIZE", "MODIFIED", "SCHEMA", "PRODUCER"},
		{"manifest.json", "-", "-"},
		{"stage0/scores.parquet", "scores v2", "score-operators"},
		{"stage0/supernet.parquet", "weights v1", "train-supernet"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	code, out, errOut = abs("ls", "--json", "file://"+filepath.ToSlash(dir))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var entries []lsEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[2].SHA256 != weights.SHA256 || entries[2].Size != weights.Size {
		t.Errorf("ls --json = %+v, want 3 entries, the last %+v", entries, weights)
	}
}

func TestVerify(t *testing.T) {
	dir, _, scores := newRun(t)
	code, out, errOut := abs("verify", dir)
	if code != 0 || !strings.Contains(out, "ok file://") || !strings.Contains(out, ": 2 artifacts, 1 provenance inputs verified") {
		t.Fatalf("verify of a clean run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	p := filepath.Join(dir, "stage0", "scores.parquet")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = abs("verify", dir)
	if code != 1 || !strings.Contains(out, "FAIL artifact "+scores.URL+": has ") || !strings.Contains(errOut, "1 problem(s) in 2 artifacts") {
		t.Errorf("verify of a corrupted run: exit %d, stdout %q, stderr %q; want 1, a FAIL line naming %s", code, out, errOut, scores.URL)
	}
}

func TestErrors(t *testing.T) {
	dir, _, _ := newRun(t)
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Commands:"},
		{[]string{"frob"}, 2, `abs: unknown command "frob"`},
		{[]string{"show"}, 2, "abs show: usage: want URL, got 0 argument(s)"},
		{[]string{"show", "a", "b"}, 2, "Run 'abs show -h' for help."},
		{[]string{"show", "--bogus", "x"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"show", filepath.Join(dir, "nope.parquet")}, 1, "nope.parquet"},
		{[]string{"show", filepath.Join(dir, "manifest.json")}, 1, "manifest.json: not a parquet file or truncated"},
		{[]string{"verify", empty}, 1, "manifest.json"},
		{[]string{"ls", "ftp://host/x"}, 1, `unknown scheme "ftp"`},
		{[]string{"report"}, 2, "abs report: usage: want RUN_URL, got 0 argument(s)"},
		{[]string{"report", empty}, 1, "manifest.json"},
	} {
		code, _, errOut := abs(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("abs %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := abs("-h")
	if code != 0 {
		t.Errorf("abs -h: exit %d", code)
	}
	for _, c := range []string{"ls URL", "show URL", "verify RUN_URL", "report RUN_URL"} {
		if !strings.Contains(out, c) {
			t.Errorf("abs -h lacks %q:\n%s", c, out)
		}
	}
	for name := range commands {
		code, out, errOut := abs(name, "-h")
		if code != 0 || !strings.Contains(out, "Usage: abs "+name) || !strings.Contains(out, "Examples:") || errOut != "" {
			t.Errorf("abs %s -h: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
}

// TestRunRefusesBadParameters checks that abs run refuses parameters some step would refuse before
// it runs any step, with exit status 2 and the step's own message.
func TestRunRefusesBadParameters(t *testing.T) {
	for _, tc := range []struct{ param, want string }{
		{"drop-policy=worst", "-p drop-policy=worst: want one of"},
		{"threshold=abc", `-threshold: "abc"`},
		{`config={"widht":4}`, `unknown field "widht"`},
		{"drop-count=100", "-drop 100: want 1 to 24"},
		{`config={"dataset":"mnist"}`, `dataset "mnist": want one of fashion-mnist, cifar10`},
	} {
		dir, store := t.TempDir(), filepath.Join(t.TempDir(), "run")
		code, _, stderr := abs("run", "-dir", dir, "-bin", t.TempDir(), "../../pipelines/abs-nb201.yaml", "-p", "store="+store, "-p", tc.param)
		if code != 2 || !strings.Contains(stderr, "refused before any step ran") || !strings.Contains(stderr, tc.want) {
			t.Errorf("-p %s: exit %d, stderr %q; want 2 and a message containing %q", tc.param, code, stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(store, "manifest.json")); err == nil {
			t.Errorf("-p %s: a step ran", tc.param)
		}
	}
}

// TestRunRefusesAnotherRun checks that abs run refuses a store that holds a run with another seed
// before any step runs, instead of replacing its artifacts.
func TestRunRefusesAnotherRun(t *testing.T) {
	store, weights, _ := newRun(t) // seed 7
	before, err := os.ReadFile(filepath.Join(store, weights.Key))
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := abs("run", "-dir", t.TempDir(), "-bin", t.TempDir(), "../../pipelines/abs-nb201.yaml", "-p", "store="+store, "-p", "seed=2")
	if code != 2 || !strings.Contains(stderr, "refused before any step ran") || !strings.Contains(stderr, "holds a run with seed 7") {
		t.Errorf("abs run -p seed=2 over a seed-7 run: exit %d, stderr %q; want 2 and a message naming seed 7", code, stderr)
	}
	if after, err := os.ReadFile(filepath.Join(store, weights.Key)); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the seed-7 run's %s changed (%v)", weights.Key, err)
	}
}

// TestLsMissingAndDamaged checks that abs ls fails on a path with nothing there, and still lists a
// run whose manifest is truncated.
func TestLsMissingAndDamaged(t *testing.T) {
	if code, _, errOut := abs("ls", filepath.Join(t.TempDir(), "no-such-run")); code != 1 || !strings.Contains(errOut, "no objects there") {
		t.Errorf("ls of a missing path: exit %d, stderr %q; want 1 and an error", code, errOut)
	}
	dir, _, _ := newRun(t)
	p := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := abs("ls", dir)
	if code != 0 || !strings.Contains(out, "stage0/scores.parquet") {
		t.Errorf("ls with a truncated manifest: exit %d, stdout %q, stderr %q; want the objects listed", code, out, errOut)
	}
}
