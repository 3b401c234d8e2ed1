// Package schema defines the artifacts abs stores as Go values and reads and writes them as Parquet
// files with provenance.
//
// Each artifact schema is a Kind: a name, a version and a row struct whose tagged fields are the
// columns. One mechanism serves all kinds: Write and Read encode and decode a whole file, Put and
// Get do the same against a store.Store and also yield the file's size and sha256. Every file
// carries its Meta (schema, producer, seed, config, inputs with checksums) in the Parquet key-value
// metadata. Reading checks the schema name, version and columns and reports any mismatch, truncation
// or corruption as an error that names the file and what was expected.
package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/abs-nas/abs/artifacts/store"
)

// batchRows is the number of rows encoded per Arrow record batch (and Parquet row group).
const batchRows = 4096

// Kind is one artifact schema with row type R. The kinds are the package-level variables
// (Weights, Space, Children, Scores, Shrink, Candidates, Metrics).
type Kind[R any] struct {
	name    string
	version int
	fields  []arrow.Field
}

// define returns the Kind of row type R and registers it by name. It panics if R is not a
// supported row struct or the name is taken: both are programmer errors caught by any test.
func define[R any](name string, version int) *Kind[R] {
	t := reflect.TypeFor[R]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("schema: row type of %s is %s, want a struct", name, t))
	}
	k := &Kind[R]{name: name, version: version, fields: arrowFields(t)}
	if _, dup := registry[name]; dup {
		panic("schema: duplicate kind " + name)
	}
	registry[name] = k
	return k
}

// Name returns the schema name stored in every file of this kind.
func (k *Kind[R]) Name() string { return k.name }

// Version returns the schema version stored in every file of this kind.
func (k *Kind[R]) Version() int { return k.version }

// Columns returns the column names in file order.
func (k *Kind[R]) Columns() []string {
	names := make([]string, len(k.fields))
	for i, f := range k.fields {
		names[i] = f.Name
	}
	return names
}

// arrowSchema returns the Arrow schema of k carrying meta as metadata.
func (k *Kind[R]) arrowSchema(meta Meta) *arrow.Schema {
	keys, values := meta.pairs()
	md := arrow.NewMetadata(keys, values)
	return arrow.NewSchema(k.fields, &md)
}

// Write encodes rows with meta as a zstd-compressed Parquet file to w. It sets meta.Schema and
// meta.Version from k; a meta that names another schema is an error. The same rows and meta always
// give the same bytes.
func (k *Kind[R]) Write(w io.Writer, meta Meta, rows []R) error {
	if meta.Schema != "" && (meta.Schema != k.name || meta.Version != 0 && meta.Version != k.version) {
		return fmt.Errorf("write %s: meta names schema %s v%d", k.name, meta.Schema, meta.Version)
	}
	meta.Schema, meta.Version = k.name, k.version
	if err := meta.validate(); err != nil {
		return fmt.Errorf("write %s: %w", k.name, err)
	}
	sc := k.arrowSchema(meta)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd))
	fw, err := pqarrow.NewFileWriter(sc, w, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return fmt.Errorf("write %s: %w", k.name, err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for start := 0; start < len(rows); start += batchRows {
		end := min(start+batchRows, len(rows))
		for _, r := range rows[start:end] {
			v := reflect.ValueOf(r)
			for j := range k.fields {
				appendValue(b.Field(j), v.Field(j))
			}
		}
		rec := b.NewRecordBatch()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return fmt.Errorf("write %s: %w", k.name, err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", k.name, err)
	}
	return nil
}

// Read decodes a whole Parquet file of kind k. name identifies the file in errors (a URL or path).
// A file of another schema or version, one missing a column or with a column of another type, and a
// truncated or corrupt file are errors. Lists read back are never nil (an empty list is empty).
func (k *Kind[R]) Read(data []byte, name string) ([]R, Meta, error) {
	rows, meta, err := k.read(data)
	if err != nil {
		return nil, meta, fmt.Errorf("read %s: %w", name, err)
	}
	return rows, meta, nil
}

func (k *Kind[R]) read(data []byte) (rows []R, meta Meta, err error) {
	// A corrupt file can make the Parquet decoder panic; it is bad input, not a bug here.
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("corrupt parquet file: %v", p)
		}
	}()
	pf, meta, err := openParquet(data)
	if err != nil {
		return nil, meta, err
	}
	defer pf.Close()
	if meta.Schema != k.name || meta.Version != k.version {
		return nil, meta, fmt.Errorf("schema is %s v%d, want %s v%d", meta.Schema, meta.Version, k.name, k.version)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		return nil, meta, fmt.Errorf("corrupt parquet file: %w", err)
	}
	sc, err := fr.Schema()
	if err != nil {
		return nil, meta, fmt.Errorf("corrupt parquet file: %w", err)
	}
	cols, err := k.match(sc)
	if err != nil {
		return nil, meta, err
	}
	// Read all columns (match allows no others); cols maps ours to the file's.
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return nil, meta, fmt.Errorf("corrupt parquet file: %w", err)
	}
	defer rr.Release()
	want := pf.NumRows()
	rows = make([]R, 0, min(want, 1<<16)) // a corrupt footer may claim any count
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var r R
			v := reflect.ValueOf(&r).Elem()
			for j, f := range k.fields {
				if err := readValue(rec.Column(cols[j]), i, v.Field(j), f.Name); err != nil {
					return nil, meta, fmt.Errorf("row %d: %w", len(rows), err)
				}
			}
			rows = append(rows, r)
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, meta, fmt.Errorf("corrupt parquet file: %w", err)
	}
	if int64(len(rows)) != want {
		return nil, meta, fmt.Errorf("corrupt parquet file: read %d rows, footer says %d", len(rows), want)
	}
	return rows, meta, nil
}

// match returns, for each column of k, its index in the file schema sc.
func (k *Kind[R]) match(sc *arrow.Schema) ([]int, error) {
	cols := make([]int, len(k.fields))
	for j, f := range k.fields {
		idx := sc.FieldIndices(f.Name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("column %q (%s) is missing", f.Name, f.Type)
		}
		got := sc.Field(idx[0])
		if !sameType(got.Type, f.Type) {
			return nil, fmt.Errorf("column %q has type %s, want %s", f.Name, got.Type, f.Type)
		}
		cols[j] = idx[0]
	}
	if sc.NumFields() != len(k.fields) {
		var extra []string
		for _, f := range sc.Fields() {
			if len(arrow.NewSchema(k.fields, nil).FieldIndices(f.Name)) == 0 {
				extra = append(extra, f.Name)
			}
		}
		return nil, fmt.Errorf("unexpected columns %q for %s v%d", extra, k.name, k.version)
	}
	return cols, nil
}

// openParquet opens data as a Parquet file and parses its Meta.
func openParquet(data []byte) (*file.Reader, Meta, error) {
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, Meta{}, fmt.Errorf("not a parquet file or truncated (%d bytes): %w", len(data), err)
	}
	kv := pf.MetaData().KeyValueMetadata()
	meta, err := metaFrom(func(key string) (string, bool) {
		v := kv.FindValue(key)
		if v == nil {
			return "", false
		}
		return *v, true
	})
	if err != nil {
		pf.Close()
		return nil, meta, err
	}
	return pf, meta, nil
}

// Object describes an artifact as stored: where it is, its size and sha256, and its Meta.
type Object struct {
	Key    string // key in the store
	URL    string // the store's URL of Key
	Size   int64  // bytes
	SHA256 string // hex sha256 of the bytes
	Meta   Meta
}

// Input returns o as a provenance input for the Meta of an artifact computed from it. Its key is
// o's key in the store it was read from, which must be the run's root.
func (o Object) Input() Input { return Input{Key: o.Key, SHA256: o.SHA256} }

// Put writes rows with meta to key in st, streaming, and returns the stored Object, whose sha256 is
// computed while writing.
func (k *Kind[R]) Put(ctx context.Context, st store.Store, key string, meta Meta, rows []R) (Object, error) {
	url := st.URL(key)
	pr, pw := io.Pipe()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(pw, h)}
	done := make(chan error, 1)
	go func() {
		err := k.Write(cw, meta, rows)
		pw.CloseWithError(err)
		done <- err
	}()
	err := st.Put(ctx, key, pr)
	pr.CloseWithError(errors.New("store stopped reading")) // unblocks the writer if Put failed early
	werr := <-done
	if err != nil { // the store's error, also when it made the writer fail
		return Object{}, fmt.Errorf("put %s: %w", url, err)
	}
	if werr != nil {
		return Object{}, fmt.Errorf("put %s: %w", url, werr)
	}
	meta.Schema, meta.Version = k.name, k.version
	if meta.Inputs == nil {
		meta.Inputs = []Input{} // as Read returns it
	}
	return Object{Key: key, URL: url, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)), Meta: meta}, nil
}

// Get reads the artifact at key in st and returns its rows and the stored Object.
func (k *Kind[R]) Get(ctx context.Context, st store.Store, key string) ([]R, Object, error) {
	data, obj, err := Fetch(ctx, st, key)
	if err != nil {
		return nil, obj, err
	}
	rows, meta, err := k.Read(data, obj.URL)
	obj.Meta = meta
	return rows, obj, err
}

// Fetch reads the object at key in st into memory and returns it with its Object (without Meta).
func Fetch(ctx context.Context, st store.Store, key string) ([]byte, Object, error) {
	obj := Object{Key: key, URL: st.URL(key)}
	rc, err := st.Get(ctx, key)
	if err != nil {
		return nil, obj, fmt.Errorf("get %s: %w", obj.URL, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, obj, fmt.Errorf("get %s: %w", obj.URL, err)
	}
	sum := sha256.Sum256(data)
	obj.Size, obj.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
	return data, obj, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// anyKind is a Kind with its row type erased, for tools that handle every schema.
type anyKind interface {
	Name() string
	Version() int
	Columns() []string
	readAny(data []byte) (any, Meta, error)
}

func (k *Kind[R]) readAny(data []byte) (any, Meta, error) { return k.read(data) }

var registry = map[string]anyKind{}

// Names returns the names of all schemas, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadMeta parses the Meta and the row count of a Parquet file without decoding its rows.
func ReadMeta(data []byte, name string) (meta Meta, rows int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: corrupt parquet file: %v", name, p)
		}
	}()
	pf, meta, err := openParquet(data)
	if err != nil {
		return meta, 0, fmt.Errorf("read %s: %w", name, err)
	}
	defer pf.Close()
	return meta, pf.NumRows(), nil
}
