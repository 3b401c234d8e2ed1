// Package nb201 reads the NAS-Bench-201 ground truth, the 200-epoch test accuracy of every one of
// the 15 625 cells of the NB201 space on CIFAR-10, CIFAR-100 and ImageNet16-120, and offers it as a
// tabular oracle metric: a search over the NB201 space can then be run and judged without training.
//
// The table is read from a CSV in the format of NATS-Bench's topology search space as exported by
// the nats-bench-landscape project (five columns, header
// CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,ArchitectureString,UniqueString;
// one row per architecture in benchmark index order). UniqueString is ignored.
//
// References:
//
//	Dong, X., Yang, Y. NAS-Bench-201: Extending the Scope of Reproducible NAS. ICLR 2020.
//	Dong, X. et al. NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology and Size. TPAMI 2021.
package nb201

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/abs-nas/abs/internal/abs/score"
	"github.com/abs-nas/abs/internal/abs/space"
)

// Dataset names one of the three data sets of the benchmark.
type Dataset string

// The data sets of the benchmark.
const (
	CIFAR10    Dataset = "cifar10"
	CIFAR100   Dataset = "cifar100"
	ImageNet16 Dataset = "imagenet16-120"
)

// Datasets lists the data sets in the column order of the table.
var Datasets = []Dataset{CIFAR10, CIFAR100, ImageNet16}

// ParseDataset returns the data set named name ("cifar10", "cifar100" or "imagenet16-120").
func ParseDataset(name string) (Dataset, error) {
	for _, d := range Datasets {
		if string(d) == name {
			return d, nil
		}
	}
	return "", fmt.Errorf("nb201 data set %q: want one of cifar10, cifar100, imagenet16-120", name)
}

// UnmarshalText sets d to the data set named text; an unknown name is an error listing the
// valid ones.
func (d *Dataset) UnmarshalText(text []byte) error {
	v, err := ParseDataset(string(text))
	if err == nil {
		*d = v
	}
	return err
}

func (d Dataset) column() int {
	for i, x := range Datasets {
		if x == d {
			return i
		}
	}
	return -1
}

// Size is the number of cells of the NB201 space: 5 ops on each of 6 edges, 5⁶.
const Size = 15625

// Entry is one row of the table.
type Entry struct {
	// Index is the benchmark index, the row's position among the data rows (0-based).
	Index int
	// Child is the architecture, parsed from ArchitectureString.
	Child space.Child
	// Accuracy holds the test accuracies in percent, in the order of Datasets.
	Accuracy [3]float64
}

// Table maps NB201 children to their ground-truth accuracies. The zero value is an empty table.
type Table struct {
	entries []Entry
	byKey   map[int]int // key(child) → position in entries
}

// header is the expected first row.
var header = []string{
	"CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs",
	"ArchitectureString", "UniqueString",
}

// Read parses a table from r. Every data row must have five fields, accuracies in [0, 100] and an
// arch string that space.NB201's Parse accepts; no architecture may appear twice. Errors name the
// line and the field. The table need not hold all 15 625 cells; Len says how many it holds.
func Read(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(header)
	cr.ReuseRecord = true
	rec, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("read nb201 table: empty input, want a header line")
	}
	if err != nil {
		return nil, fmt.Errorf("read nb201 table: %w", err)
	}
	for i, h := range header {
		if rec[i] != h {
			return nil, fmt.Errorf("read nb201 table: line 1 field %d is %q, want %q", i+1, rec[i], h)
		}
	}
	sp := space.NB201{}
	t := &Table{byKey: map[int]int{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read nb201 table: %w", err)
		}
		e := Entry{Index: len(t.entries)}
		for i := range 3 {
			line, _ := cr.FieldPos(i)
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
				return nil, fmt.Errorf("read nb201 table: line %d field %s: %q is not an accuracy in [0, 100]", line, header[i], rec[i])
			}
			e.Accuracy[i] = v
		}
		line, _ := cr.FieldPos(3)
		c, err := sp.Parse(rec[3])
		if err != nil {
			return nil, fmt.Errorf("read nb201 table: line %d field %s: %w", line, header[3], err)
		}
		e.Child = c
		k := key(c)
		if j, dup := t.byKey[k]; dup {
			return nil, fmt.Errorf("read nb201 table: line %d field %s: architecture %s already on the row of benchmark index %d", line, header[3], rec[3], j)
		}
		t.byKey[k] = len(t.entries)
		t.entries = append(t.entries, e)
	}
	return t, nil
}

// key encodes a valid NB201 child as the base-5 number of its op codes, the first edge most
// significant; it returns -1 for anything that is not one.
func key(c space.Child) int {
	if len(c) != 6 {
		return -1
	}
	k := 0
	for _, o := range c {
		if o < 0 || o > 4 {
			return -1
		}
		k = 5*k + o
	}
	return k
}

// Len returns the number of architectures in the table.
func (t *Table) Len() int { return len(t.entries) }

// Entries returns the rows in benchmark index order. The slice is the table's own; do not modify it.
func (t *Table) Entries() []Entry { return t.entries }

// Lookup returns the row of child c, and whether the table has it.
func (t *Table) Lookup(c space.Child) (Entry, bool) {
	if t == nil {
		return Entry{}, false
	}
	i, ok := t.byKey[key(c)]
	if !ok {
		return Entry{}, false
	}
	return t.entries[i], true
}

// Accuracy returns the test accuracy of c on d in percent.
func (t *Table) Accuracy(c space.Child, d Dataset) (float64, error) {
	if t == nil {
		return 0, errors.New("nb201 accuracy: no table")
	}
	col := d.column()
	if col < 0 {
		return 0, fmt.Errorf("nb201 accuracy: unknown data set %q", d)
	}
	e, ok := t.Lookup(c)
	if !ok {
		return 0, fmt.Errorf("nb201 accuracy: child %v is not in the table", c)
	}
	return e.Accuracy[col], nil
}

// Oracle is the tabular metric: the ground-truth test accuracy of a child on one data set, in
// percent. Searching with it measures a search algorithm alone, without a supernet.
type Oracle struct {
	Table   *Table
	Dataset Dataset
}

var _ score.Metric = Oracle{}

// Name returns "nb201-" followed by the data set, e.g. "nb201-cifar10".
func (o Oracle) Name() string { return "nb201-" + string(o.Dataset) }

// Child returns the accuracy of c; it fails when c is not in the table.
func (o Oracle) Child(c space.Child) (float64, error) { return o.Table.Accuracy(c, o.Dataset) }

// OpScores returns the ground-truth score of every op that s allows, on data set d: the mean test
// accuracy of the children of s that hold it (the operator ranking of the ABS paper's Fig. 7). Each
// OpScore's Samples is the number of those children. Every child of s must be in the table.
func (t *Table) OpScores(s space.Shrunk, d Dataset) ([]score.OpScore, error) {
	sp := space.NB201{}
	if err := space.Validate(sp, s); err != nil {
		return nil, fmt.Errorf("nb201 op scores: %w", err)
	}
	var sum [6][5]float64
	var n [6][5]int
	var err error
	sp.Enumerate(s, func(c space.Child) bool {
		var a float64
		if a, err = t.Accuracy(c, d); err != nil {
			return false
		}
		for e, op := range c {
			sum[e][op] += a
			n[e][op]++
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("nb201 op scores: %w", err)
	}
	var out []score.OpScore
	for e, ops := range s.Allowed {
		for _, op := range ops {
			out = append(out, score.OpScore{Point: e, Op: op, Score: sum[e][op] / float64(n[e][op]), Samples: n[e][op]})
		}
	}
	return out, nil
}
