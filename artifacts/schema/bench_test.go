package schema

import (
	"bytes"
	"fmt"
	"testing"
)

// benchWeights is a weights artifact of 1 Mi float32 values in 64 tensors of [64,64,2,2]: about
// the size of the paper's NAS-Bench-201 supernet (C=16, N=5).
func benchWeights() []Weight {
	ws := make([]Weight, 64)
	for i := range ws {
		v := make([]float32, 64*64*4)
		for j := range v {
			v[j] = float32((i*131+j*31)%1000)/1000 - 0.5
		}
		ws[i] = Weight{Name: fmt.Sprintf("cell%d.edge0.nor_conv_3x3.conv", i), Shape: []int32{64, 64, 2, 2}, Values: v}
	}
	return ws
}

func BenchmarkWeightsWrite(b *testing.B) {
	ws := benchWeights()
	b.SetBytes(4 << 20)
	for b.Loop() {
		if err := Weights.Write(&bytes.Buffer{}, Meta{Producer: "bench"}, ws); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWeightsRead(b *testing.B) {
	var buf bytes.Buffer
	if err := Weights.Write(&buf, Meta{Producer: "bench"}, benchWeights()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4 << 20)
	for b.Loop() {
		if _, _, err := Weights.Read(buf.Bytes(), "bench.parquet"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChildrenReadWrite(b *testing.B) {
	rows := make([]Child, 15625) // all of NAS-Bench-201
	ops := []string{"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"}
	for i := range rows {
		e := make([]string, 6)
		for j := range e {
			e[j] = ops[(i>>(2*j))%5]
		}
		rows[i] = Child{ID: int64(i), Ops: e, FLOPs: int64(i) * 1000, Angle: f64(float64(i) / 1e4)}
	}
	for b.Loop() {
		var buf bytes.Buffer
		if err := Children.Write(&buf, Meta{Producer: "bench"}, rows); err != nil {
			b.Fatal(err)
		}
		if _, _, err := Children.Read(buf.Bytes(), "bench.parquet"); err != nil {
			b.Fatal(err)
		}
	}
}
