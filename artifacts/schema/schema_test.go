package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/abs-nas/abs/artifacts/store/file"
	"github.com/abs-nas/abs/internal/abs/param"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func f64(v float64) *float64 { return &v }

// testMeta is the provenance the sample artifacts carry.
func testMeta(producer string) Meta {
	return Meta{
		Producer:        producer,
		ProducerVersion: "v0.0.0-test",
		Seed:            42,
		Config:          `{"epochs":2,"space":"nb201"}`,
		Inputs: []Input{
			{Key: "stage-0/supernet.parquet", SHA256: strings.Repeat("ab", 32)},
			{Key: "stage-0/space.parquet", SHA256: strings.Repeat("0f", 32)},
		},
	}
}

// sample is one artifact of every kind with hand-written rows that exercise nulls, empty lists,
// long lists, non-ASCII text and extreme values.
type sample struct {
	kind  anyKind
	rows  any
	write func(w *bytes.Buffer, m Meta) error
	read  func(data []byte) (any, Meta, error)
}

func sampleOf[R any](k *Kind[R], rows []R) sample {
	return sample{
		kind:  k,
		rows:  rows,
		write: func(w *bytes.Buffer, m Meta) error { return k.Write(w, m, rows) },
		read: func(data []byte) (any, Meta, error) {
			r, m, err := k.Read(data, "test.parquet")
			return r, m, err
		},
	}
}

func samples() []sample {
	long := make([]float32, 300)
	for i := range long {
		long[i] = float32(i%7) - 3
	}
	nb := []string{"nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3"}
	// A DARTS child: one 14-edge cell, none on the edges that are not inputs.
	darts := []string{"sep_conv_3x3", "skip_connect", "none", "max_pool_3x3", "dil_conv_5x5", "none", "avg_pool_3x3", "none", "sep_conv_5x5", "dil_conv_3x3", "none", "none", "none", "skip_connect"}
	return []sample{
		sampleOf(Weights, []Weight{
			{Name: "cell0.edge0.nor_conv_3x3.conv", Shape: []int32{2, 2, 3, 3}, Values: long[:36]},
			{Name: "classifier.bias", Shape: []int32{3}, Values: []float32{0.5, -1e-30, 3.4e38}},
			{Name: "scalar", Shape: []int32{}, Values: []float32{1}},
			{Name: "stem.conv", Shape: []int32{300}, Values: long},
		}),
		sampleOf(Space, []SpaceOp{
			{Edge: 0, Op: "none", Alive: false},
			{Edge: 0, Op: "nor_conv_3x3", Alive: true},
			{Edge: 5, Op: "mb_k7_e6", Alive: true},
		}),
		sampleOf(Children, []Child{
			{ID: 0, Ops: nb, FLOPs: 86_000_000, ForEdge: -1, Angle: f64(1.2345678901234), ValidAcc: f64(60.5), ReBNAcc: f64(71.25), TestAcc: f64(94.37)},
			{ID: 15624, Ops: nb[:0], FLOPs: 0},
			{ID: 7, Ops: darts, FLOPs: 1 << 40, ForEdge: 13, ForOp: "skip_connect", Angle: f64(0), TestAcc: f64(10)},
		}),
		sampleOf(Scores, []OpScore{
			{Edge: 0, Op: "none", Score: 0.25, Samples: 1000, Rank: 5, Dropped: true},
			{Edge: 0, Op: "nor_conv_3x3", Score: 1.5, Samples: 1000, Rank: 1},
			{Edge: 3, Op: "Ω", Score: -0.0, Samples: 0, Rank: 2},
		}),
		sampleOf(Shrink, []Stage{
			{Stage: 0, SizeBefore: 15625, SizeAfter: 64, Dropped: []DroppedOp{
				{Edge: 0, Op: "none", Score: 0.1}, {Edge: 1, Op: "avg_pool_3x3", Score: 0.2},
			}},
			{Stage: 1, SizeBefore: 7.9e25, SizeAfter: 7.9e25, Dropped: []DroppedOp{}},
		}),
		sampleOf(Candidates, []Candidate{
			{Round: 0, ID: 12, Ops: nb, FLOPs: 1000, Fitness: 1.4, Accuracy: f64(93.1)},
			{Round: 3, ID: 99, Ops: darts, FLOPs: 2000, Fitness: -2},
		}),
		sampleOf(Metrics, []Epoch{
			{Epoch: 0, Steps: 390, LR: 0.025, TrainLoss: 2.1, TrainAcc: f64(21.5)},
			{Epoch: 1, Steps: 780, LR: 0.001, TrainLoss: 1.7, TrainAcc: f64(35), ValidLoss: f64(1.8), ValidAcc: f64(33.3), TestAcc: f64(32.5)},
		}),
		sampleOf(Correlations, []Correlation{
			{Metric: "angle", Dataset: "cifar10", Children: 15625, KendallTau: 0.4713943103435916, SpearmanRho: 0.65},
			{Metric: "rebn_acc", Dataset: "imagenet16-120", Children: 1000, KendallTau: -1, SpearmanRho: 0},
		}),
		sampleOf(OpTruths, []OpTruth{
			{Edge: 0, Op: "nor_conv_3x3", Dataset: "cifar10", Score: 80.25, Rank: 1, Kept: true, TopK: 10, KeptInTopK: 7},
			{Edge: 5, Op: "none", Dataset: "cifar100", Score: 30.5, Rank: 30, Kept: false, TopK: 10, KeptInTopK: 6},
		}),
		sampleOf(StudyResults, []StudyResult{
			{Part: "a", Setting: "all", Metric: "angle", Dataset: "cifar10", Seed: 1, N: 15625, Value: 0.127},
			{Part: "g", Setting: "standalone", Metric: "own_angle", Dataset: "fashion-mnist", Seed: 0, N: 30, Value: -0.25},
		}),
	}
}

func TestSamplesCoverEveryKind(t *testing.T) {
	var got []string
	for _, s := range samples() {
		got = append(got, s.kind.Name())
	}
	if want := Names(); len(got) != len(want) {
		t.Fatalf("samples cover %v, want every kind %v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.kind.Name(), func(t *testing.T) {
			var buf bytes.Buffer
			m := testMeta("test-" + s.kind.Name())
			if err := s.write(&buf, m); err != nil {
				t.Fatal(err)
			}
			rows, meta, err := s.read(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, s.rows) {
				t.Errorf("rows read back:\n got %+v\nwant %+v", rows, s.rows)
			}
			m.Schema, m.Version = s.kind.Name(), s.kind.Version()
			if !reflect.DeepEqual(meta, m) {
				t.Errorf("meta read back:\n got %+v\nwant %+v", meta, m)
			}
			// The same rows and meta give the same bytes.
			var again bytes.Buffer
			if err := s.write(&again, testMeta("test-"+s.kind.Name())); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("writing the same rows twice gave different bytes")
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Scores.Write(&buf, testMeta("t"), nil); err != nil {
		t.Fatal(err)
	}
	rows, _, err := Scores.Read(buf.Bytes(), "empty.parquet")
	if err != nil || len(rows) != 0 {
		t.Fatalf("Read = %v, %v, want no rows and no error", rows, err)
	}
}

// TestGolden compares the text dump of every sample to testdata/<kind>.txt.
func TestGolden(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.kind.Name(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := s.write(&buf, testMeta("test-"+s.kind.Name())); err != nil {
				t.Fatal(err)
			}
			a, err := ReadAny(buf.Bytes(), "golden.parquet")
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := a.WriteText(&text, 0); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", s.kind.Name()+".txt")
			if *update {
				if err := os.WriteFile(golden, text.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if text.String() != string(want) {
				t.Errorf("text dump differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", golden, text.String(), want)
			}
		})
	}
}

func TestWriteTextTruncates(t *testing.T) {
	rows := make([]SpaceOp, 10)
	a := &Artifact{Meta: Meta{Schema: "space", Version: 1, Producer: "p"}, Rows: rows}
	var buf bytes.Buffer
	if err := a.WriteText(&buf, 3); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if got, want := lines[len(lines)-1], "… 7 more rows"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
}

func TestTagsAgree(t *testing.T) {
	for _, s := range samples() {
		rt := reflect.TypeOf(s.rows).Elem()
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if p, j := f.Tag.Get("parquet"), f.Tag.Get("json"); p != j {
				t.Errorf("%s.%s: parquet tag %q, json tag %q, want equal", rt.Name(), f.Name, p, j)
			}
		}
	}
}

func TestWeightsSet(t *testing.T) {
	s := param.Set{
		"b": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"a": {Shape: []int{}, Data: []float32{7}},
	}
	ws := WeightsOf(s)
	if ws[0].Name != "a" || ws[1].Name != "b" || !reflect.DeepEqual(ws[1].Shape, []int32{2, 3}) {
		t.Fatalf("WeightsOf = %+v, want a then b with shape [2 3]", ws)
	}
	back, err := SetOf(ws)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("SetOf(WeightsOf(s)) = %+v, want %+v", back, s)
	}
	for _, tc := range []struct {
		ws   []Weight
		want string
	}{
		{[]Weight{{Name: "x", Shape: []int32{2}, Values: []float32{1}}}, `"x" has shape [2] (2 values) but 1 values`},
		{[]Weight{{Name: "x", Shape: []int32{-1}}}, `"x" has shape [-1], want non-negative`},
		{[]Weight{{Name: "x", Values: []float32{1}}, {Name: "x", Values: []float32{1}}}, `"x" appears twice`},
	} {
		if _, err := SetOf(tc.ws); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetOf(%+v) error = %v, want one containing %q", tc.ws, err, tc.want)
		}
	}
}

func TestMetaValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Meta)
		want string
	}{
		{"producer", func(m *Meta) { m.Producer = "" }, "producer is empty"},
		{"config", func(m *Meta) { m.Config = "{epochs:" }, "config is not valid JSON"},
		{"input key", func(m *Meta) { m.Inputs[0].Key = "/runs/r1/supernet.parquet" }, `input 0: invalid key "/runs/r1/supernet.parquet"`},
		{"input sha", func(m *Meta) { m.Inputs[1].SHA256 = strings.Repeat("AB", 32) }, "is not 64 lower-case hex digits"},
		{"schema", func(m *Meta) { m.Schema = "children" }, "meta names schema children"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMeta("p")
			tc.edit(&m)
			err := Scores.Write(&bytes.Buffer{}, m, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Write error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// encode writes rows with kind k (which may be a test-only variant of a real kind).
func encode[R any](t *testing.T, k *Kind[R], rows []R) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := k.Write(&buf, testMeta("p"), rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// variant returns a Kind that is not registered, to write files real kinds must reject.
func variant[R any](name string, version int) *Kind[R] {
	return &Kind[R]{name: name, version: version, fields: arrowFields(reflect.TypeFor[R]())}
}

func TestReadRejects(t *testing.T) {
	scores := encode(t, Scores, []OpScore{{Edge: 1, Op: "none", Score: 1, Samples: 2, Rank: 1}})
	type noRank struct {
		Edge    int32   `parquet:"edge"`
		Op      string  `parquet:"op"`
		Score   float64 `parquet:"score"`
		Samples int64   `parquet:"samples"`
		Dropped bool    `parquet:"dropped"`
	}
	type rankAsString struct {
		Edge    int32   `parquet:"edge"`
		Op      string  `parquet:"op"`
		Score   float64 `parquet:"score"`
		Samples int64   `parquet:"samples"`
		Rank    string  `parquet:"rank"`
		Dropped bool    `parquet:"dropped"`
	}
	type extra struct {
		Edge    int32   `parquet:"edge"`
		Op      string  `parquet:"op"`
		Score   float64 `parquet:"score"`
		Samples int64   `parquet:"samples"`
		Rank    int32   `parquet:"rank"`
		Dropped bool    `parquet:"dropped"`
		Note    string  `parquet:"note"`
	}
	type nullableScore struct {
		Edge    int32    `parquet:"edge"`
		Op      string   `parquet:"op"`
		Score   *float64 `parquet:"score"`
		Samples int64    `parquet:"samples"`
		Rank    int32    `parquet:"rank"`
		Dropped bool     `parquet:"dropped"`
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"other schema", scores, fmt.Sprintf("read f.parquet: schema is scores v%d, want children v%d", Scores.Version(), Children.Version())},
		{"truncated", scores[:len(scores)/2], "read f.parquet: not a parquet file or truncated"},
		{"last byte cut", scores[:len(scores)-1], "read f.parquet: not a parquet file or truncated"},
		{"empty", nil, "read f.parquet: not a parquet file or truncated (0 bytes)"},
		{"not parquet", []byte("edge,op\n0,none\n"), "not a parquet file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Children.Read(tc.data, "f.parquet")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	v := Scores.Version()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"newer version", encode(t, variant[OpScore]("scores", v+1), []OpScore{{}}), fmt.Sprintf("read f.parquet: schema is scores v%d, want scores v%d", v+1, v)},
		{"missing column", encode(t, variant[noRank]("scores", v), []noRank{{}}), `read f.parquet: column "rank" (int32) is missing`},
		{"wrong type", encode(t, variant[rankAsString]("scores", v), []rankAsString{{}}), `read f.parquet: column "rank" has type utf8, want int32`},
		{"extra column", encode(t, variant[extra]("scores", v), []extra{{}}), fmt.Sprintf(`read f.parquet: unexpected columns ["note"] for scores v%d`, v)},
		{"null value", encode(t, variant[nullableScore]("scores", v), []nullableScore{{Op: "x"}}), `read f.parquet: row 0: column "score": null value in a non-nullable column`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Scores.Read(tc.data, "f.parquet")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// oldDARTS returns the ops of a DARTS child in the encoding before schema versions space v2,
// children v2, scores v2, shrink v3 and candidates v2: 28 edges, the normal cell's 14 then the
// reduce cell's, "" on an edge its node does not keep.
func oldDARTS() []string {
	cell := []string{"sep_conv_3x3", "skip_connect", "", "max_pool_3x3", "dil_conv_5x5", "", "avg_pool_3x3", "", "sep_conv_5x5", "dil_conv_3x3", "", "", "", "skip_connect"}
	return append(append([]string(nil), cell...), cell...)
}

// TestOldDARTSEncodingRefused writes, for every kind whose DARTS encoding changed, a real file
// of the previous version holding rows of the old 28-edge encoding (reduce-cell edges 14–27), and
// checks that reading it, from bytes and from a store, is an error naming the file, the version
// found and the version wanted.
func TestOldDARTSEncodingRefused(t *testing.T) {
	ctx := context.Background()
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meta := Meta{Producer: "old-abs", Config: `{"space":"darts"}`}
	// Each kind's write puts rows with an unregistered Kind of the same name and version
	// Version()−1, read and get read them with the registered Kind.
	type kind struct {
		name      string
		old, want int
		write     func(key string) ([]byte, error)
		read      func(data []byte, name string) error
		get       func(key string) error
	}
	var kinds []kind
	add := func(name string, v int, put func(key string, version int) ([]byte, error), read func([]byte, string) error, get func(string) error) {
		kinds = append(kinds, kind{name, v - 1, v, func(key string) ([]byte, error) { return put(key, v-1) }, read, get})
	}
	add(Space.Name(), Space.Version(),
		func(key string, v int) ([]byte, error) {
			return putOld(ctx, t, st, variant[SpaceOp]("space", v), key, meta, []SpaceOp{{Edge: 27, Op: "dil_conv_5x5", Alive: true}, {Edge: 14, Op: "none", Alive: false}})
		},
		func(b []byte, n string) error { _, _, err := Space.Read(b, n); return err },
		func(k string) error { _, _, err := Space.Get(ctx, st, k); return err })
	add(Children.Name(), Children.Version(),
		func(key string, v int) ([]byte, error) {
			return putOld(ctx, t, st, variant[Child]("children", v), key, meta, []Child{{ID: 0, Ops: oldDARTS(), ForEdge: 20, ForOp: "max_pool_3x3"}})
		},
		func(b []byte, n string) error { _, _, err := Children.Read(b, n); return err },
		func(k string) error { _, _, err := Children.Get(ctx, st, k); return err })
	add(Scores.Name(), Scores.Version(),
		func(key string, v int) ([]byte, error) {
			return putOld(ctx, t, st, variant[OpScore]("scores", v), key, meta, []OpScore{{Edge: 27, Op: "sep_conv_3x3", Score: 0.5, Samples: 3, Rank: 1}})
		},
		func(b []byte, n string) error { _, _, err := Scores.Read(b, n); return err },
		func(k string) error { _, _, err := Scores.Get(ctx, st, k); return err })
	add(Shrink.Name(), Shrink.Version(),
		func(key string, v int) ([]byte, error) {
			return putOld(ctx, t, st, variant[Stage]("shrink", v), key, meta, []Stage{{Stage: 0, SizeBefore: 9.1e18, SizeAfter: 1.1e18, Dropped: []DroppedOp{{Edge: 27, Op: "none", Score: 0.1}}}})
		},
		func(b []byte, n string) error { _, _, err := Shrink.Read(b, n); return err },
		func(k string) error { _, _, err := Shrink.Get(ctx, st, k); return err })
	add(Candidates.Name(), Candidates.Version(),
		func(key string, v int) ([]byte, error) {
			return putOld(ctx, t, st, variant[Candidate]("candidates", v), key, meta, []Candidate{{Round: 0, ID: 1, Ops: oldDARTS(), Fitness: 0.7}})
		},
		func(b []byte, n string) error { _, _, err := Candidates.Read(b, n); return err },
		func(k string) error { _, _, err := Candidates.Get(ctx, st, k); return err })
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			key := "stage-0/old-" + k.name + ".parquet"
			data, err := k.write(key)
			if err != nil {
				t.Fatal(err)
			}
			if m, _, err := ReadMeta(data, key); err != nil || m.Version != k.old || m.Schema != k.name {
				t.Fatalf("the old file's meta %+v, %v: want %s v%d", m, err, k.name, k.old)
			}
			want := fmt.Sprintf("schema is %s v%d, want %s v%d", k.name, k.old, k.name, k.want)
			if err := k.read(data, "old.parquet"); err == nil || err.Error() != "read old.parquet: "+want {
				t.Errorf("Read: %v, want read old.parquet: %s", err, want)
			}
			if err := k.get(key); err == nil || err.Error() != "read "+st.URL(key)+": "+want {
				t.Errorf("Get: %v, want read %s: %s", err, st.URL(key), want)
			}
		})
	}
}

// putOld writes rows with the unregistered kind k to key in st and returns the stored bytes.
func putOld[R any](ctx context.Context, t *testing.T, st *file.Store, k *Kind[R], key string, meta Meta, rows []R) ([]byte, error) {
	t.Helper()
	if _, err := k.Put(ctx, st, key, meta, rows); err != nil {
		return nil, err
	}
	b, _, err := Fetch(ctx, st, key)
	return b, err
}

func TestReadAnyUnknownSchema(t *testing.T) {
	data := encode(t, variant[SpaceOp]("mystery", 1), []SpaceOp{{}})
	_, err := ReadAny(data, "m.parquet")
	want := `read m.parquet: unknown schema "mystery", want one of candidates, children, correlations, metrics, op-truth, scores, shrink, space, study-results, weights`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestReadNotAbs(t *testing.T) {
	// A Parquet file without abs metadata: written with a Kind, then its keys renamed in place.
	data := encode(t, Scores, []OpScore{{}})
	data = bytes.ReplaceAll(data, []byte("abs.schema"), []byte("xyz.schema"))
	_, _, err := Scores.Read(data, "plain.parquet")
	if want := `metadata key "abs.schema" is missing (not an abs artifact?)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want one containing %q", err, want)
	}
}

// TestCorruptBytes flips every byte of a small file in turn: reading must fail (naming the file) or
// return exactly the rows written. Parquet has no page checksums here, but zstd frames carry a
// checksum and the footer and page headers are checked while decoding, so no flip goes unnoticed.
func TestCorruptBytes(t *testing.T) {
	rows := []Child{{ID: 3, Ops: []string{"a", "b"}, FLOPs: 9, Angle: f64(0.5)}}
	data := encode(t, Children, rows)
	for i := range data {
		c := bytes.Clone(data)
		c[i] ^= 0x5a
		if _, err := ReadAny(c, "c.parquet"); err != nil && !strings.HasPrefix(err.Error(), "read c.parquet: ") {
			t.Errorf("byte %d flipped: ReadAny error %q does not name the file", i, err)
		}
		got, _, err := Children.Read(c, "c.parquet")
		if err != nil && !strings.HasPrefix(err.Error(), "read c.parquet: ") {
			t.Errorf("byte %d flipped: error %q does not name the file", i, err)
		}
		if err == nil && !reflect.DeepEqual(got, rows) {
			t.Errorf("byte %d of %d flipped: read %+v without an error, want an error or %+v", i, len(data), got, rows)
		}
	}
}

func TestPutGet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := []OpScore{{Edge: 2, Op: "skip_connect", Score: 0.75, Samples: 10, Rank: 1}}
	obj, err := Scores.Put(ctx, st, "stage0/scores.parquet", testMeta("score-operators"), rows)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, "stage0", "scores.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(onDisk)
	if obj.SHA256 != hex.EncodeToString(sum[:]) || obj.Size != int64(len(onDisk)) {
		t.Errorf("Put returned sha256 %s size %d, want %x size %d", obj.SHA256, obj.Size, sum, len(onDisk))
	}
	if want := st.URL("stage0/scores.parquet"); obj.URL != want || obj.Input().Key != "stage0/scores.parquet" {
		t.Errorf("URL = %s, input key %s; want %s, stage0/scores.parquet", obj.URL, obj.Input().Key, want)
	}
	got, gobj, err := Scores.Get(ctx, st, "stage0/scores.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) || !reflect.DeepEqual(gobj, obj) {
		t.Errorf("Get = %+v %+v, want %+v %+v", got, gobj, rows, obj)
	}
	if _, _, err := Scores.Get(ctx, st, "missing.parquet"); err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("Get of a missing key: error = %v, want one naming it", err)
	}
	// An invalid key is the store's error, and the writer stops.
	if _, err := Scores.Put(ctx, st, "../escape.parquet", testMeta("p"), rows); err == nil || !strings.Contains(err.Error(), `invalid key "../escape.parquet"`) {
		t.Errorf("Put with an invalid key: error = %v, want the store's", err)
	}
	// A failed write stores nothing.
	if _, err := Scores.Put(ctx, st, "bad.parquet", Meta{}, rows); err == nil {
		t.Error("Put with an empty producer succeeded")
	}
	if _, err := st.Stat(ctx, "bad.parquet"); err == nil {
		t.Error("a failed Put left an object behind")
	}
}

// TestWriteRefusesNonFinite checks that no NaN or ±Inf reaches an artifact, except a NaN operator
// score (an operator without samples).
func TestWriteRefusesNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	m := testMeta("p")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"weights", Weights.Write(io.Discard, m, []Weight{{Name: "w", Shape: []int32{2}, Values: []float32{1, float32(nan)}}}), `row 0: column "values" value 1 is NaN`},
		{"metrics", Metrics.Write(io.Discard, m, []Epoch{{TrainLoss: 1}, {TrainLoss: nan}}), `row 1: column "train_loss" is NaN`},
		{"children", Children.Write(io.Discard, m, []Child{{Ops: []string{}, Angle: &inf}}), `column "angle" is +Inf`},
		{"scores inf", Scores.Write(io.Discard, m, []OpScore{{Score: inf}}), `column "score" is +Inf`},
		{"shrink inf", Shrink.Write(io.Discard, m, []Stage{{Dropped: []DroppedOp{{Score: -inf}}}}), `column "dropped.score" is -Inf`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, tc.err, tc.want)
		}
	}
	if err := Scores.Write(io.Discard, m, []OpScore{{Score: nan}}); err != nil {
		t.Errorf("NaN score (no samples): %v", err)
	}
}

// TestGetRefusesCopiedFile copies a decisions file (schema scores) over a scores file: the schema
// is right, but Get refuses it by the key it was written to.
func TestGetRefusesCopiedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Scores.Put(ctx, st, "stage-0/decisions.parquet", testMeta("prune"), []OpScore{{Op: "none", Score: 1}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "stage-0", "decisions.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "stage-0/scores.parquet", bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Scores.Get(ctx, st, "stage-0/scores.parquet"); err == nil || !strings.Contains(err.Error(), `written as "stage-0/decisions.parquet"`) {
		t.Errorf("Get of a copied decisions file: %v, want an error naming the key it was written as", err)
	}
	if _, _, err := Scores.Get(ctx, st, "stage-0/decisions.parquet"); err != nil {
		t.Errorf("Get of the original: %v", err)
	}
}
