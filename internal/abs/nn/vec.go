package nn

import "github.com/abs-nas/abs/internal/abs/nn/sgemm"

// The elementwise passes of the kernels: for float32 through package sgemm (8 values at a time on
// AVX2, with the bits of the Go loops), for float64 the Go loops themselves. Each writes the
// len(y) (or len(z), len(d)) values of its output, which may be one of its inputs.

// reluInto sets y[i] = max(x[i], 0) (sgemm.Relu).
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

// sum3 sets z[i] = (a[i] + b[i] + c[i])·s[i], or the sum alone when s is nil (sgemm.Sum3).
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

// mulInto sets z[i] = x[i]·s[i] (sgemm.Mul).
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

// centreInto sets y[i] = (x[i] − m)·s (sgemm.Centre).
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

// affineInto sets y[i] = x[i]·a + b (sgemm.Affine).
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

// affine2Into sets y[i] = a·g[i] + p·x[i] + q (sgemm.Affine2).
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

// bnGradInto sets d[i] = s·(g[i] − a − z[i]·b) (sgemm.BNGrad).
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

// copyRows copies n values from each of rows rows of src (row stride lds) to dst (row stride ldd)
// (sgemm.CopyRows, all the rows in one call).
func copyRows[T float](rows, n int, src []T, lds int, dst []T, ldd int) {
	if s32, ok := any(src).([]float32); ok {
		sgemm.CopyRows(rows, n, s32, lds, any(dst).([]float32), ldd)
		return
	}
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+n], src[r*lds:r*lds+n])
	}
}

// Batch norm's per-channel moments, four channels at a time. Each channel's sums are chains of
// float64 additions in a fixed order, which the CPU runs one addition at a time; four channels'
// chains side by side overlap. Each lane's terms and their order are those of the one-channel
// loop, so the sums have its bits. lanes4 picks the four channels from ch on, repeating the last
// one (c1−1) where fewer than four are left (its lanes' sums are then dropped). The sums of a
// gradient with a product (Σ g, Σ g·z) gained nothing this way (measured: their float32 to
// float64 conversions, not the chains, bound them) and stay one channel at a time.

// lanes4 returns channels ch … ch+3, each at most c1−1.
func lanes4(ch, c1 int) [4]int {
	return [4]int{ch, min(ch+1, c1-1), min(ch+2, c1-1), min(ch+3, c1-1)}
}

// moments4 adds, for each lane l and each j in order, d = x_l[j] − k[l] to s[l] and d·d to q[l]
// (len(x0) terms in each lane).
func moments4[T float](x0, x1, x2, x3 []T, k, s, q *[4]float64) {
	n := len(x0)
	x1, x2, x3 = x1[:n], x2[:n], x3[:n]
	s0, s1, s2, s3 := s[0], s[1], s[2], s[3]
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
	for j, v := range x0 {
		d0, d1, d2, d3 := float64(v)-k0, float64(x1[j])-k1, float64(x2[j])-k2, float64(x3[j])-k3
		s0, s1, s2, s3 = s0+d0, s1+d1, s2+d2, s3+d3
		q0, q1, q2, q3 = q0+d0*d0, q1+d1*d1, q2+d2*d2, q3+d3*d3
	}
	s[0], s[1], s[2], s[3] = s0, s1, s2, s3
	q[0], q[1], q[2], q[3] = q0, q1, q2, q3
}
