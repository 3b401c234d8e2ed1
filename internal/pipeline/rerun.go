package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadRecord reads record.json from a local run directory.
func ReadRecord(dir string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(dir, "record.json"))
	if err != nil {
		return nil, fmt.Errorf("read run record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read run record %s: %w", filepath.Join(dir, "record.json"), err)
	}
	return &r, nil
}

// Find returns the index of the node called name: its full path ("shrink/next/prune") or, when
// unambiguous, a suffix of it ("next/prune", "retrain").
func (r *Record) Find(name string) (int, error) {
	var hits []int
	for i, n := range r.Nodes {
		if n.Name == name {
			return i, nil
		}
		if strings.HasSuffix(n.Name, "/"+name) {
			hits = append(hits, i)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		names := make([]string, len(r.Nodes))
		for i, n := range r.Nodes {
			names[i] = n.Name
		}
		return 0, fmt.Errorf("no node %q in this run (nodes: %s)", name, strings.Join(names, ", "))
	}
	var names []string
	for _, i := range hits {
		names = append(names, r.Nodes[i].Name)
	}
	return 0, fmt.Errorf("node %q is ambiguous: %s", name, strings.Join(names, ", "))
}

// Rerun runs the node called name of the run recorded in e.Dir again, with the command, arguments
// and variables it ran with (and this machine's current secrets), once, without retries, and
// records the new outcome in record.json.
func (e *Executor) Rerun(ctx context.Context, name string) (*Node, error) {
	rec, err := ReadRecord(e.Dir)
	if err != nil {
		return nil, err
	}
	i, err := rec.Find(name)
	if err != nil {
		return nil, err
	}
	n := rec.Nodes[i]
	e.rec = *rec
	out, err := e.runNode(ctx, &n, retry{})
	n.Outputs = out
	e.rec.Nodes[i] = n
	if serr := e.save(); serr != nil && err == nil {
		err = serr
	}
	return &n, err
}
