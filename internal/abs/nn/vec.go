package nn

import "github.com/abs-nas/abs/internal/abs/nn/sgemm"

// The elementwise passes of the kernels: for float32 through package sgemm (8 values at a time on
// AVX2, with the bits of the Go loops), for float64 the Go loops themselves. Each writes the
// len(y) (or len(z), len(d)) values of its output, which may be one of its inputs.

// reluInto sets y[i] = max(x[i], 0) for i < len(y): for float32 through sgemm.Relu (8 values at a
// time on AVX2, the bits of the Go loop).
func reluInto[T float](x, y []T) {
	if y32, ok := any(y).([]float32); ok {
		sgemm.Relu(any(x).([]float32), y32)
		return
	}
	x = x[:len(y)]
	for i := range y {
		y[i] = max(x[i], 0)
	}
}

// sum3 sets z[i] = (a[i] + b[i] + c[i])·s[i] for i < len(z), or the sum alone when s is nil: for
// float32 through sgemm.Sum3 (8 values at a time on AVX2, the same bits).
func sum3[T float](a, b, c, s, z []T) {
	if z32, ok := any(z).([]float32); ok {
		sgemm.Sum3(any(a).([]float32), any(b).([]float32), any(c).([]float32), any(s).([]float32), z32)
		return
	}
	a, b, c = a[:len(z)], b[:len(z)], c[:len(z)]
	for i := range z {
		if s != nil {
			z[i] = (a[i] + b[i] + c[i]) * s[i]
		} else {
			z[i] = a[i] + b[i] + c[i]
		}
	}
}

// mulInto sets z[i] = x[i]·s[i] for i < len(z): for float32 through sgemm.Mul.
func mulInto[T float](x, s, z []T) {
	if z32, ok := any(z).([]float32); ok {
		sgemm.Mul(any(x).([]float32), any(s).([]float32), z32)
		return
	}
	x, s = x[:len(z)], s[:len(z)]
	for i := range z {
		z[i] = x[i] * s[i]
	}
}

// centreInto sets y[i] = (x[i] − m)·s.
func centreInto[T float](x, y []T, m, s T) {
	if y32, ok := any(y).([]float32); ok {
		sgemm.Centre(any(x).([]float32), y32, float32(m), float32(s))
		return
	}
	x = x[:len(y)]
	for i := range y {
		y[i] = (x[i] - m) * s
	}
}

// affineInto sets y[i] = x[i]·a + b.
func affineInto[T float](x, y []T, a, b T) {
	if y32, ok := any(y).([]float32); ok {
		sgemm.Affine(any(x).([]float32), y32, float32(a), float32(b))
		return
	}
	x = x[:len(y)]
	for i := range y {
		y[i] = x[i]*a + b
	}
}

// affine2Into sets y[i] = a·g[i] + p·x[i] + q.
func affine2Into[T float](g, x, y []T, a, p, q T) {
	if y32, ok := any(y).([]float32); ok {
		sgemm.Affine2(any(g).([]float32), any(x).([]float32), y32, float32(a), float32(p), float32(q))
		return
	}
	g, x = g[:len(y)], x[:len(y)]
	for i := range y {
		y[i] = a*g[i] + p*x[i] + q
	}
}

// bnGradInto sets d[i] = s·(g[i] − a − z[i]·b).
func bnGradInto[T float](g, z, d []T, a, b, s T) {
	if d32, ok := any(d).([]float32); ok {
		sgemm.BNGrad(any(g).([]float32), any(z).([]float32), d32, float32(a), float32(b), float32(s))
		return
	}
	g, z = g[:len(d)], z[:len(d)]
	for i := range d {
		d[i] = s * (g[i] - a - z[i]*b)
	}
}

// copyRows copies n values from each of rows rows of src (row stride lds) to dst (row stride ldd):
// for float32 in one call (sgemm.CopyRows), for float64 row by row.
func copyRows[T float](rows, n int, src []T, lds int, dst []T, ldd int) {
	if s32, ok := any(src).([]float32); ok {
		sgemm.CopyRows(rows, n, s32, lds, any(dst).([]float32), ldd)
		return
	}
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+n], src[r*lds:r*lds+n])
	}
}
