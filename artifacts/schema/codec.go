package schema

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The codec maps a row struct to Arrow columns by reflection. Each exported field with a
// `parquet:"name"` tag is one column. Supported field types:
//
//	string, bool, int32, int64, float32, float64   required scalar
//	*T for a scalar T                               nullable scalar (nil is null)
//	[]T for a scalar T or a struct T                list of required values
//	struct of the above                             struct
//
// Anything else is a programmer error in a row type and panics when the schema is defined.

// arrowFields returns the Arrow fields of struct type t.
func arrowFields(t reflect.Type) []arrow.Field {
	var fs []arrow.Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := sf.Tag.Get("parquet")
		if name == "" {
			panic(fmt.Sprintf("schema: field %s.%s has no parquet tag", t.Name(), sf.Name))
		}
		dt, nullable := arrowType(sf.Type, t.Name()+"."+sf.Name)
		fs = append(fs, arrow.Field{Name: name, Type: dt, Nullable: nullable})
	}
	return fs
}

func arrowType(t reflect.Type, where string) (arrow.DataType, bool) {
	switch t.Kind() {
	case reflect.Pointer:
		dt, _ := arrowType(t.Elem(), where)
		if !isScalar(t.Elem()) {
			panic(fmt.Sprintf("schema: %s: only pointers to scalars are supported", where))
		}
		return dt, true
	case reflect.String:
		return arrow.BinaryTypes.String, false
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean, false
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32, false
	case reflect.Int64:
		return arrow.PrimitiveTypes.Int64, false
	case reflect.Float32:
		return arrow.PrimitiveTypes.Float32, false
	case reflect.Float64:
		return arrow.PrimitiveTypes.Float64, false
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Pointer || t.Elem().Kind() == reflect.Slice {
			panic(fmt.Sprintf("schema: %s: lists of pointers or lists are not supported", where))
		}
		dt, _ := arrowType(t.Elem(), where)
		return arrow.ListOfNonNullable(dt), false
	case reflect.Struct:
		return arrow.StructOf(arrowFields(t)...), false
	}
	panic(fmt.Sprintf("schema: %s: unsupported type %s", where, t))
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// appendValue appends v to b, whose type arrowType derived from v's type.
func appendValue(b array.Builder, v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.AppendNull()
			return
		}
		v = v.Elem()
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v.String())
	case *array.BooleanBuilder:
		b.Append(v.Bool())
	case *array.Int32Builder:
		b.Append(int32(v.Int()))
	case *array.Int64Builder:
		b.Append(v.Int())
	case *array.Float32Builder:
		b.Append(float32(v.Float()))
	case *array.Float64Builder:
		b.Append(v.Float())
	case *array.ListBuilder:
		b.Append(true)
		switch vb := b.ValueBuilder().(type) {
		case *array.Float32Builder: // weights: the bulk of all bytes
			vb.AppendValues(v.Interface().([]float32), nil)
		default:
			for i := 0; i < v.Len(); i++ {
				appendValue(vb, v.Index(i))
			}
		}
	case *array.StructBuilder:
		b.Append(true)
		for i := 0; i < v.NumField(); i++ {
			appendValue(b.FieldBuilder(i), v.Field(i))
		}
	default:
		panic(fmt.Sprintf("schema: no codec for builder %T", b))
	}
}

// readValue stores element i of arr into v. col names the column for errors.
func readValue(arr arrow.Array, i int, v reflect.Value, col string) error {
	if arr.IsNull(i) {
		if v.Kind() != reflect.Pointer {
			return fmt.Errorf("column %q: null value in a non-nullable column", col)
		}
		v.SetZero()
		return nil
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		v.Set(p)
		v = p.Elem()
	}
	switch a := arr.(type) {
	case *array.String:
		v.SetString(strings.Clone(a.Value(i)))
	case *array.Boolean:
		v.SetBool(a.Value(i))
	case *array.Int32:
		v.SetInt(int64(a.Value(i)))
	case *array.Int64:
		v.SetInt(a.Value(i))
	case *array.Float32:
		v.SetFloat(float64(a.Value(i)))
	case *array.Float64:
		v.SetFloat(a.Value(i))
	case *array.List:
		start, end := a.ValueOffsets(i)
		n := int(end - start)
		switch vals := a.ListValues().(type) {
		case *array.Float32:
			if vals.NullN() == 0 {
				s := make([]float32, n)
				copy(s, vals.Float32Values()[start:end])
				v.Set(reflect.ValueOf(s))
				return nil
			}
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for j := 0; j < n; j++ {
			if err := readValue(a.ListValues(), int(start)+j, s.Index(j), col+"[]"); err != nil {
				return err
			}
		}
		v.Set(s)
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		for j := 0; j < v.NumField(); j++ {
			if err := readValue(a.Field(j), i, v.Field(j), col+"."+st.Field(j).Name); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("column %q: unsupported array type %s", col, arr.DataType())
	}
	return nil
}

// sameType reports whether a and b are the same type, ignoring names of list elements, field
// metadata (Parquet adds field ids) and nullability of list elements.
func sameType(a, b arrow.DataType) bool {
	if a.ID() != b.ID() {
		return false
	}
	switch a := a.(type) {
	case *arrow.ListType:
		return sameType(a.Elem(), b.(*arrow.ListType).Elem())
	case *arrow.StructType:
		bs := b.(*arrow.StructType)
		if a.NumFields() != bs.NumFields() {
			return false
		}
		for i := 0; i < a.NumFields(); i++ {
			fa, fb := a.Field(i), bs.Field(i)
			if fa.Name != fb.Name || fa.Nullable != fb.Nullable || !sameType(fa.Type, fb.Type) {
				return false
			}
		}
	}
	return true
}

// finite reports the first NaN or ±Inf in v (a row, or a value in it) as an error naming its
// column (col, dotted for struct fields) and row. A NaN in a column of nanOK is allowed: there it
// means "not measured" (an operator score without samples).
func finite(v reflect.Value, col string, row int, nanOK map[string]bool) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return finite(v.Elem(), col, row, nanOK)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) && !nanOK[col] {
			return fmt.Errorf("row %d: column %q is %v: artifacts hold finite numbers only", row, col, f)
		}
	case reflect.Slice:
		if fs, ok := v.Interface().([]float32); ok { // weights: the bulk of all values
			for i, x := range fs {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("row %d: column %q value %d is %v: artifacts hold finite numbers only", row, col, i, x)
				}
			}
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := finite(v.Index(i), col, row, nanOK); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			name := t.Field(i).Tag.Get("parquet")
			if col != "" {
				name = col + "." + name
			}
			if err := finite(v.Field(i), name, row, nanOK); err != nil {
				return err
			}
		}
	}
	return nil
}
