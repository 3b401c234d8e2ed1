package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// duckdbScript is the reader script, relative to this package.
const duckdbScript = "../../scripts/duckdb/read.mjs"

// needDuckDB returns the node binary, skipping the test if node or the DuckDB package is missing,
// or failing it when CI=true, where they must be installed.
func needDuckDB(t *testing.T) string {
	t.Helper()
	const install = "npm ci --prefix scripts/duckdb"
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must provide it (%s)", what, install)
		}
		t.Skipf("skipping the independent-reader check: %s is missing (install it with %s)", what, install)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(duckdbScript), "node_modules", "@duckdb", "node-api")); err != nil {
		missing("the npm package @duckdb/node-api")
	}
	return node
}

// duckdbRead returns what DuckDB reads from the Parquet file at path: the rows as JSON objects and
// the key-value metadata.
func duckdbRead(t *testing.T, node, path string) (rows json.RawMessage, kv map[string]string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(node, duckdbScript, path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb read %s: %v\n%s", path, err, stderr.String())
	}
	var res struct {
		Rows json.RawMessage   `json:"rows"`
		KV   map[string]string `json:"kv"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb read %s: %v", path, err)
	}
	return res.Rows, res.KV
}

// TestDuckDBReadsArtifacts writes an artifact of every kind and checks that DuckDB, an independent
// Parquet reader, reads the same rows and the same provenance metadata. DuckDB's rows are decoded
// into the row type through its JSON tags (which TestTagsAgree ties to the column names), so a
// column DuckDB names differently or a value it reads differently fails the comparison.
func TestDuckDBReadsArtifacts(t *testing.T) {
	node := needDuckDB(t)
	dir := t.TempDir()
	many := make([]Child, 2*batchRows+3) // several row groups
	for i := range many {
		many[i] = Child{ID: int64(i), Ops: []string{"none", fmt.Sprint(i % 5)}, FLOPs: int64(i) << 33}
		if i%3 == 0 {
			many[i].Angle = f64(float64(i) / 7)
		}
	}
	cases := append(samples(), sampleOf(Children, many))
	for i, s := range cases {
		t.Run(fmt.Sprintf("%s-%d", s.kind.Name(), i), func(t *testing.T) {
			m := testMeta("duckdb-check")
			var buf bytes.Buffer
			if err := s.write(&buf, m); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("%d.parquet", i))
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			raw, kv := duckdbRead(t, node, path)

			got := reflect.New(reflect.TypeOf(s.rows)) // *[]R
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(got.Interface()); err != nil {
				t.Fatalf("decode DuckDB rows: %v", err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), s.rows) {
				t.Errorf("DuckDB read other rows:\n got %+v\nwant %+v", got.Elem().Interface(), s.rows)
			}

			meta, err := metaFrom(func(k string) (string, bool) { v, ok := kv[k]; return v, ok })
			if err != nil {
				t.Fatalf("metadata DuckDB read: %v", err)
			}
			m.Schema, m.Version = s.kind.Name(), s.kind.Version()
			if !reflect.DeepEqual(meta, m) {
				t.Errorf("DuckDB read metadata %+v, want %+v", meta, m)
			}
		})
	}
}
