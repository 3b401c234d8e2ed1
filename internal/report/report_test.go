package report

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/artifacts/store/file"
)

func ptr(v float64) *float64 { return &v }

// tinyRun writes a two-stage run by hand: every kind of artifact the report shows, with values
// the test can look for on the page. Without search, the run stops after stage 1's prune.
func tinyRun(t *testing.T, search bool) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := file.New(filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	meta := func(producer string) schema.Meta {
		return schema.Meta{Producer: producer, ProducerVersion: "test", Seed: 7, Config: `{"config":{"space":"nb201","width":4},"flags":{}}`}
	}
	var objs []schema.Object
	put := func(o schema.Object, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	put(schema.Metrics.Put(ctx, st, "stage-0/metrics.parquet", meta("train-supernet"), []schema.Epoch{
		{Epoch: 0, Steps: 10, LR: 0.05, TrainLoss: 2.25}, {Epoch: 1, Steps: 20, LR: 0.01, TrainLoss: 1.75, ValidAcc: ptr(41.5)}}))
	put(schema.Scores.Put(ctx, st, "stage-0/decisions.parquet", meta("prune"), []schema.OpScore{
		{Edge: 0, Op: "none", Score: 0.5, Samples: 3, Rank: 1}, {Edge: 0, Op: "skip_connect", Score: 0.25, Samples: 3, Rank: 2, Dropped: true},
		{Edge: 1, Op: "none", Score: 0.375, Samples: 3, Rank: 3}, {Edge: 1, Op: "skip_connect", Score: 0.125, Samples: 3, Rank: 4, Dropped: true}}))
	put(schema.Shrink.Put(ctx, st, "stage-0/shrink.parquet", meta("prune"), []schema.Stage{
		{Stage: 0, SizeBefore: 15625, SizeAfter: 4096, Dropped: []schema.DroppedOp{{Edge: 0, Op: "skip_connect", Score: 0.25}, {Edge: 1, Op: "skip_connect", Score: 0.125}}}}))
	put(schema.Correlations.Put(ctx, st, "stage-0/correlations.parquet", meta("score-operators"), []schema.Correlation{
		{Metric: "angle", Dataset: "cifar10", Children: 15625, KendallTau: 0.5625, SpearmanRho: 0.75}}))
	put(schema.Metrics.Put(ctx, st, "stage-1/metrics.parquet", meta("train-supernet"), []schema.Epoch{{Epoch: 0, Steps: 30, LR: 0.01, TrainLoss: 1.5}}))
	put(schema.Scores.Put(ctx, st, "stage-1/scores.parquet", meta("score-operators"), []schema.OpScore{
		{Edge: 0, Op: "none", Score: 0.75, Samples: 2, Rank: 1}, {Edge: 1, Op: "none", Score: 0.625, Samples: 2, Rank: 2}}))
	if search {
		put(schema.Candidates.Put(ctx, st, "search/candidates.parquet", meta("search"), []schema.Candidate{
			{ID: 0, Ops: []string{"none", "none"}, FLOPs: 1000, Fitness: 55.5}, {ID: 1, Ops: []string{"nor_conv_3x3", "none"}, FLOPs: 3000, Fitness: 66.25}}))
		put(schema.Metrics.Put(ctx, st, "retrain/metrics.parquet", meta("retrain"), []schema.Epoch{
			{Epoch: 0, Steps: 5, TrainLoss: 1.25}, {Epoch: 1, Steps: 10, TrainLoss: 0.875, ValidAcc: ptr(71.25), TestAcc: ptr(70.5)}}))
	}
	if err := manifest.Record(ctx, st, objs...); err != nil {
		t.Fatal(err)
	}
	return st
}

// read returns the object at key of st.
func read(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var imgSrc = regexp.MustCompile(`<img src="([^"]+)"`)

// TestWrite renders the tiny run into itself and checks the page: every image it shows is a PNG
// beside it, the heat map marks the dropped ops, and the numbers of each artifact appear.
func TestWrite(t *testing.T) {
	ctx := context.Background()
	st := tinyRun(t, true)
	entries, err := Write(ctx, st, st, "report/")
	if err != nil {
		t.Fatal(err)
	}
	html := string(read(t, st, "report/index.html"))
	srcs := imgSrc.FindAllStringSubmatch(html, -1)
	want := []string{"shrink.png", "training.png", "tau.png", "search.png", "retrain.png"}
	if len(srcs) != len(want) {
		t.Errorf("page shows %d images, want %d (%v)", len(srcs), len(want), want)
	}
	for i, m := range srcs {
		if i < len(want) && m[1] != want[i] {
			t.Errorf("image %d is %s, want %s", i, m[1], want[i])
		}
		img, err := png.Decode(bytes.NewReader(read(t, st, "report/"+m[1])))
		if err != nil {
			t.Errorf("%s: %v", m[1], err)
		} else if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 100 {
			t.Errorf("%s is %v, want a readable plot", m[1], b)
		}
	}
	if len(entries) != len(want)+1 || entries[0].Key != "report/index.html" || entries[0].Producer != Producer {
		t.Errorf("entries %+v, want index.html and %d plots by %s", entries, len(want), Producer)
	}
	for _, s := range []string{
		`class="dropped"`, "0.25 ✗", "0.125 ✗", // stage 0 dropped skip_connect on both edges
		"Space size 15625 → 4096; dropped 2 operator(s):",
		"no decisions yet", // stage 1 has scores only
		"0.562", "15625",   // the correlation row
		"2 candidates evaluated; the best has fitness 66.250 at 3000 FLOPs: <code>nor_conv_3x3 none</code>",
		"validation accuracy 71.25 %, test accuracy 70.50 %",
		`&#34;width&#34;: 4`, "train-supernet", "stage-1/scores.parquet",
	} {
		if !strings.Contains(html, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if n := strings.Count(html, `class="dropped"`); n != 2 {
		t.Errorf("%d cells marked dropped, want 2", n)
	}
	// Written into the run, the page does not name the run's location, which a copy would change.
	if strings.Contains(html, st.URL("")) || !strings.Contains(html, "The run in the folder above this page.") {
		t.Errorf("page in the run names its location %s", st.URL(""))
	}
	// The page refers to nothing outside its folder.
	for _, bad := range []string{"http://", "https://", "<script", "src=\"/"} {
		if strings.Contains(html, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Rendering again gives the same bytes, and leaves the earlier report out of the provenance.
	if err := manifestAdd(ctx, st, entries); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(ctx, st, st, "report/"); err != nil {
		t.Fatal(err)
	}
	if again := string(read(t, st, "report/index.html")); again != html {
		t.Errorf("a second rendering differs")
	}
}

func manifestAdd(ctx context.Context, st store.Store, entries []manifest.Entry) error {
	m, err := manifest.Load(ctx, st)
	if err != nil {
		return err
	}
	for _, e := range entries {
		m.Add(e)
	}
	return m.Save(ctx, st)
}

// TestWritePartial renders a run that has not searched yet into another store: the page names the
// run, and the search and retraining sections say so and show no plot.
func TestWritePartial(t *testing.T) {
	ctx := context.Background()
	out, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := tinyRun(t, false)
	if _, err := Write(ctx, run, out, ""); err != nil {
		t.Fatal(err)
	}
	html := string(read(t, out, "index.html"))
	for _, s := range []string{"no search/candidates.parquet", "no retrain/metrics.parquet", "Run <code>" + run.URL("") + "</code>"} {
		if !strings.Contains(html, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if _, err := out.Stat(ctx, "search.png"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("search.png of a run without search: %v, want none", err)
	}
}

// TestWriteErrors checks that a folder that is not a run is refused, naming it.
func TestWriteErrors(t *testing.T) {
	ctx := context.Background()
	empty, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(ctx, empty, empty, ""); err == nil || !strings.Contains(err.Error(), empty.URL("")) {
		t.Errorf("no manifest: %v, want an error naming %s", err, empty.URL(""))
	}
	if err := manifest.Record(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(ctx, empty, empty, ""); err == nil || !strings.Contains(err.Error(), "no stage-N/") {
		t.Errorf("no stage: %v, want an error saying so", err)
	}
}
