package nn

import (
	"math"
	"testing"
)

// moments returns the mean, the variance and the largest magnitude of v.
func moments(v []float64) (mean, variance, maxAbs float64) {
	for _, x := range v {
		mean += x
		maxAbs = max(maxAbs, math.Abs(x))
	}
	mean /= float64(len(v))
	for _, x := range v {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(v)), maxAbs
}

// TestAuthorsInit checks the bounds and the variance of the authors' rules on large tensors: a
// 128×64×3×3 convolution (fan_in 576, fan_out 1152, 73 728 values), a 512×1×5×5 depthwise
// convolution (fan_in 25, fan_out 12 800), a 1000×512 linear layer with its bias, and a batch norm.
// U(−a, a) has variance a²/3; the variance of n draws has a relative standard error of about
// √(2/n) (normal) or √(0.8/n) (uniform), at most 1.3 % here, so a 5 % tolerance (four standard errors) practically cannot fail by chance (the seed is fixed anyway),
// while a wrong fan (a factor ≥ 2 in the variance) always fails.
func TestAuthorsInit(t *testing.T) {
	shapes := map[string][]int{
		"c.conv": {128, 64, 3, 3}, "d.dw": {512, 1, 5, 5},
		"fc.weight": {1000, 512}, "fc.bias": {1000}, "bn.weight": {64}, "bn.bias": {64},
	}
	type want struct {
		variance float64
		bound    float64 // 0: unbounded (normal); otherwise the uniform bound, approached by the largest draw
	}
	u := func(a float64) want { return want{a * a / 3, a} }
	n := func(std float64) want { return want{std * std, 0} }
	zero := want{0, 0}
	cases := []struct {
		init Init
		want map[string]want
	}{
		{PyTorch, map[string]want{"c.conv": u(1 / math.Sqrt(576)), "d.dw": u(1 / math.Sqrt(25)),
			"fc.weight": u(1 / math.Sqrt(512)), "fc.bias": u(1 / math.Sqrt(512)), "bn.bias": zero}},
		{DARTS, map[string]want{"c.conv": u(math.Sqrt(6.0 / 576)), "d.dw": u(math.Sqrt(6.0 / 25)),
			"fc.weight": n(0.01), "fc.bias": zero, "bn.bias": zero}},
		{Mobile, map[string]want{"c.conv": n(math.Sqrt(2.0 / 1152)), "d.dw": n(math.Sqrt(2.0 / 12800)),
			"fc.weight": u(1 / math.Sqrt(512)), "fc.bias": u(1 / math.Sqrt(512)), "bn.bias": zero}},
		{KaimingNormal, map[string]want{"c.conv": n(math.Sqrt(2.0 / 576)), "fc.weight": n(math.Sqrt(2.0 / 512)), "fc.bias": zero}},
		{XavierUniform, map[string]want{"c.conv": u(math.Sqrt(6.0 / (576 + 1152))), "fc.weight": u(math.Sqrt(6.0 / 1512)), "fc.bias": zero}},
	}
	for _, c := range cases {
		t.Run(c.init.String(), func(t *testing.T) {
			for name, w := range c.want {
				v := initValues(c.init, name, shapes[name], shapes, newRand(3, 1))
				mean, variance, maxAbs := moments(v)
				if w.variance == 0 {
					if maxAbs != 0 {
						t.Errorf("%s: largest |value| %v, want all zero", name, maxAbs)
					}
					continue
				}
				se := math.Sqrt(w.variance / float64(len(v)))
				if math.Abs(mean) > 5*se {
					t.Errorf("%s: mean %v, want 0 (± %v)", name, mean, 5*se)
				}
				if math.Abs(variance-w.variance) > 0.05*w.variance {
					t.Errorf("%s: variance %v, want %v", name, variance, w.variance)
				}
				if w.bound > 0 && (maxAbs > w.bound || maxAbs < 0.95*w.bound) {
					t.Errorf("%s: largest |value| %v, want just under the bound %v", name, maxAbs, w.bound)
				}
			}
			if v := initValues(c.init, "bn.weight", shapes["bn.weight"], shapes, newRand(3, 1)); v[0] != 1 || v[63] != 1 {
				t.Errorf("batch-norm scale %v…, want ones", v[:2])
			}
		})
	}
}

func TestParseInit(t *testing.T) {
	for _, name := range []string{"kaiming", "xavier", "orthogonal", "pytorch", "darts", "mobile"} {
		i, err := ParseInit(name)
		if err != nil || i.String() != name {
			t.Errorf("ParseInit(%q) = %v, %v; want %s", name, i, err, name)
		}
	}
	if _, err := ParseInit("he"); err == nil {
		t.Errorf("ParseInit(\"he\") = nil error, want one listing the valid names")
	}
}
