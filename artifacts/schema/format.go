package schema

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Artifact is a decoded artifact of any schema: its Meta and its rows, a slice of the schema's row
// type (e.g. []Weight).
type Artifact struct {
	Meta Meta
	Rows any
}

// ReadAny decodes a Parquet file of whichever schema its metadata names. name identifies the file
// in errors. An unknown schema is an error listing the known ones.
func ReadAny(data []byte, name string) (*Artifact, error) {
	meta, _, err := ReadMeta(data, name)
	if err != nil {
		return nil, err
	}
	k, ok := registry[meta.Schema]
	if !ok {
		return nil, fmt.Errorf("read %s: unknown schema %q, want one of %s", name, meta.Schema, strings.Join(Names(), ", "))
	}
	rows, meta, err := k.readAny(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return &Artifact{Meta: meta, Rows: rows}, nil
}

// Len returns the number of rows.
func (a *Artifact) Len() int { return reflect.ValueOf(a.Rows).Len() }

// WriteText writes a's metadata and then its rows as an aligned table, at most maxRows of them
// (all if maxRows <= 0). Long lists are shortened; a list of floats shows as three columns: its
// length, its Euclidean norm and its first values.
func (a *Artifact) WriteText(w io.Writer, maxRows int) error {
	m := a.Meta
	var b strings.Builder
	label(&b, "schema", fmt.Sprintf("%s v%d", m.Schema, m.Version))
	label(&b, "producer", m.Producer+" "+m.ProducerVersion)
	label(&b, "seed", strconv.FormatInt(m.Seed, 10))
	label(&b, "config", m.Config)
	if len(m.Inputs) == 0 {
		label(&b, "inputs", "none")
	}
	for i, in := range m.Inputs {
		name := ""
		if i == 0 {
			name = "inputs"
		}
		label(&b, name, in.Key+" sha256:"+in.SHA256)
	}
	label(&b, "rows", strconv.Itoa(a.Len()))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}

	rows := reflect.ValueOf(a.Rows)
	t := rows.Type().Elem()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var header []string
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("parquet")
		if isFloatList(t.Field(i).Type) {
			header = append(header, name+".n", name+".norm", name+".head")
		} else {
			header = append(header, name)
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	n := rows.Len()
	if maxRows > 0 && n > maxRows {
		n = maxRows
	}
	for r := 0; r < n; r++ {
		row := rows.Index(r)
		var cells []string
		for i := 0; i < t.NumField(); i++ {
			v := row.Field(i)
			if isFloatList(v.Type()) {
				cells = append(cells, floatListCells(v)...)
			} else {
				cells = append(cells, cell(v))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n < rows.Len() {
		_, err := fmt.Fprintf(w, "… %d more rows\n", rows.Len()-n)
		return err
	}
	return nil
}

// label writes one "label:  value" line of a metadata block, values aligned at column 11.
func label(b *strings.Builder, name, value string) {
	if name != "" {
		name += ":"
	}
	fmt.Fprintf(b, "%-11s%s\n", name, value)
}

// maxList is the number of list elements a table cell shows.
const maxList = 8

func isFloatList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && (t.Elem().Kind() == reflect.Float32 || t.Elem().Kind() == reflect.Float64)
}

// floatListCells returns the length, the norm √(Σ vᵢ²) and the first values of a float list.
func floatListCells(v reflect.Value) []string {
	var ss float64
	for i := 0; i < v.Len(); i++ {
		f := v.Index(i).Float()
		ss += f * f
	}
	head := make([]string, 0, 4)
	for i := 0; i < v.Len() && i < 4; i++ {
		head = append(head, formatFloat(v.Index(i).Float()))
	}
	h := "[" + strings.Join(head, " ")
	if v.Len() > 4 {
		h += " …"
	}
	h += "]"
	return []string{strconv.Itoa(v.Len()), formatFloat(math.Sqrt(ss)), h}
}

// cell formats one value for a table.
func cell(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "null"
		}
		return cell(v.Elem())
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return formatFloat(v.Float())
	case reflect.Slice:
		parts := make([]string, 0, min(v.Len(), maxList))
		for i := 0; i < v.Len() && i < maxList; i++ {
			parts = append(parts, cell(v.Index(i)))
		}
		s := "[" + strings.Join(parts, " ")
		if v.Len() > maxList {
			s += fmt.Sprintf(" …+%d", v.Len()-maxList)
		}
		return s + "]"
	case reflect.Struct:
		parts := make([]string, v.NumField())
		for i := range parts {
			parts[i] = cell(v.Field(i))
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	return fmt.Sprint(v.Interface())
}

// formatFloat prints f with 6 significant digits.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
