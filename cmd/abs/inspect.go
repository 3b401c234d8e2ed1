package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/abs-nas/abs/artifacts"
	"github.com/abs-nas/abs/artifacts/manifest"
	"github.com/abs-nas/abs/artifacts/schema"
)

func init() {
	register(&command{
		name:    "ls",
		args:    "URL",
		summary: "List the objects under a run or prefix, with schema and producer from the run's manifest",
		help: `Examples:
  abs ls file:///runs/nb201-seed1
  abs ls --json s3://abs/runs/nb201-seed1 | jq '.[].key'
`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			asJSON := fs.Bool("json", false, "print a JSON list instead of a table")
			return func(ctx context.Context, args []string, stdout io.Writer) error {
				return ls(ctx, args, stdout, os.Stderr, *asJSON)
			}
		},
	})
	register(&command{
		name:    "show",
		args:    "URL",
		summary: "Print an artifact's metadata and rows as an aligned table",
		help: `A list of floats (weights) shows as its length, its Euclidean norm and its first values;
--json prints every value in full (and fails on NaN or ±Inf, which JSON cannot represent).

Examples:
  abs show file:///runs/nb201-seed1/stage0/scores.parquet
  abs show -n 0 runs/nb201-seed1/stage0/children.parquet
  abs show --json s3://abs/runs/nb201-seed1/stage0/supernet.parquet
`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			asJSON := fs.Bool("json", false, "print {url, size, sha256, meta, rows} as JSON with every value in full")
			n := fs.Int("n", 50, "show at most `N` rows in the table (0: all)")
			return func(ctx context.Context, args []string, stdout io.Writer) error {
				return show(ctx, args, stdout, *asJSON, *n)
			}
		},
	})
	register(&command{
		name:    "verify",
		args:    "RUN_URL",
		summary: "Check a run against its manifest: checksums, schemas, producers and provenance inputs",
		help: `verify reads every artifact the run's manifest.json lists and checks its size and sha256, that
its metadata names the listed schema and producer, that every input its provenance names exists
with the recorded sha256, and that every Parquet file of the run is listed. It exits 1 if any
check fails, printing one line per problem.

Examples:
  abs verify file:///runs/nb201-seed1
  abs verify s3://abs/runs/nb201-seed1
`,
		setup: func(*flag.FlagSet) func(context.Context, []string, io.Writer) error { return verify },
	})
}

// lsEntry is one line of abs ls.
type lsEntry struct {
	Key      string    `json:"key"`
	URL      string    `json:"url"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Schema   string    `json:"schema,omitempty"`
	Producer string    `json:"producer,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
}

func ls(ctx context.Context, args []string, stdout, stderr io.Writer, asJSON bool) error {
	if err := wantArgs(args, "URL"); err != nil {
		return err
	}
	url := args[0]
	st, err := artifacts.Open(ctx, url)
	if err != nil {
		return err
	}
	infos, err := st.List(ctx, "")
	if err != nil {
		return fmt.Errorf("list %s: %w", url, err)
	}
	if len(infos) == 0 {
		return fmt.Errorf("list %s: no objects there (no run at this path or prefix)", st.URL(""))
	}
	m, err := manifest.Load(ctx, st)
	if errors.Is(err, fs.ErrNotExist) {
		m, err = &manifest.Manifest{}, nil
	}
	if err != nil {
		// The objects are still worth listing; only their schemas and producers are unknown.
		fmt.Fprintf(stderr, "abs ls: warning: %v: listing without schemas and producers\n", err)
		m = &manifest.Manifest{}
	}
	entries := make([]lsEntry, 0, len(infos))
	for _, info := range infos {
		e := lsEntry{Key: info.Key, URL: st.URL(info.Key), Size: info.Size, Modified: info.ModTime.UTC()}
		if me, ok := m.Find(info.Key); ok {
			e.Producer, e.SHA256 = me.Producer, me.SHA256
			if me.Schema != "" {
				e.Schema = fmt.Sprintf("%s v%d", me.Schema, me.SchemaVersion)
			}
		}
		entries = append(entries, e)
	}
	if asJSON {
		return writeJSON(stdout, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSIZE\tMODIFIED\tSCHEMA\tPRODUCER")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", e.Key, e.Size, e.Modified.Format(time.RFC3339), dash(e.Schema), dash(e.Producer))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func show(ctx context.Context, args []string, stdout io.Writer, asJSON bool, maxRows int) error {
	if err := wantArgs(args, "URL"); err != nil {
		return err
	}
	st, key, err := artifacts.OpenObject(ctx, args[0])
	if err != nil {
		return err
	}
	data, obj, err := schema.Fetch(ctx, st, key)
	if err != nil {
		return err
	}
	a, err := schema.ReadAny(data, obj.URL)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, struct {
			URL    string      `json:"url"`
			Size   int64       `json:"size"`
			SHA256 string      `json:"sha256"`
			Meta   schema.Meta `json:"meta"`
			Rows   any         `json:"rows"`
		}{obj.URL, obj.Size, obj.SHA256, a.Meta, a.Rows})
	}
	fmt.Fprintf(stdout, "%-11s%s\n%-11s%d bytes\n%-11s%s\n", "url:", obj.URL, "size:", obj.Size, "sha256:", obj.SHA256)
	if err := a.WriteText(stdout, maxRows); err != nil {
		return err
	}
	if rows, ok := a.Rows.([]schema.OpTruth); ok {
		writeKept(stdout, rows)
	}
	return nil
}

// writeKept prints the benchmark-mode summary of an op-truth artifact: how many of the operators
// prune kept rank in the ground-truth top k, per data set, k being the number kept.
func writeKept(w io.Writer, rows []schema.OpTruth) {
	if len(rows) == 0 {
		return
	}
	var parts []string
	for i, r := range rows { // prune writes the rows of each data set together
		if i == 0 || r.Dataset != rows[i-1].Dataset {
			parts = append(parts, fmt.Sprintf("%s %d", r.Dataset, r.KeptInTopK))
		}
	}
	k := rows[0].TopK
	fmt.Fprintf(w, "kept %d operators; of them in the ground-truth top %d: %s\n", k, k, strings.Join(parts, ", "))
}

func verify(ctx context.Context, args []string, stdout io.Writer) error {
	if err := wantArgs(args, "RUN_URL"); err != nil {
		return err
	}
	st, err := artifacts.Open(ctx, args[0])
	if err != nil {
		return err
	}
	rep, err := manifest.Verify(ctx, st)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "FAIL %v\n", p)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%s: %d problem(s) in %d artifacts", st.URL(""), len(rep.Problems), rep.Artifacts)
	}
	fmt.Fprintf(stdout, "ok %s: %d artifacts, %d provenance inputs verified\n", st.URL(""), rep.Artifacts, rep.Inputs)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
