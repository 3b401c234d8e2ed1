package space

import (
	"slices"
	"testing"
)

func TestMobileSpaces(t *testing.T) {
	px, fn := ProxylessGPU(), FairNAS()
	if px.Points() != 21 || fn.Points() != 19 || len(px.Ops()) != 7 || len(fn.Ops()) != 6 {
		t.Fatalf("proxyless %d layers %d ops, fairnas %d layers %d ops; want 21/7, 19/6", px.Points(), len(px.Ops()), fn.Points(), len(fn.Ops()))
	}
	// Proxyless: the 6 first layers of a stage have 6 ops, the other 15 have 7.
	if got, want := px.Size(px.Full()).String(), "221502229807900608"; got != want {
		t.Errorf("proxyless size %s, want 6⁶·7¹⁵ = %s", got, want)
	}
	if got, want := fn.Size(fn.Full()).String(), "609359740010496"; got != want {
		t.Errorf("fairnas size %s, want 6¹⁹ = %s", got, want)
	}
	for _, p := range []int{0, 4, 8, 12, 16, 20} {
		if px.Full().Has(p, MobileIdentity) {
			t.Errorf("proxyless layer %d allows identity", p)
		}
	}
	c := px.Sample(px.Full(), NewRand(1))
	back, err := px.Parse(px.Format(c))
	if err != nil || !slices.Equal(back, c) {
		t.Errorf("Parse(Format(%v)) = %v, %v", c, back, err)
	}
	if _, err := fn.Parse(px.Format(c)); err == nil {
		t.Error("fairnas parsed a 21-layer child")
	}
	bad := slices.Clone(c)
	bad[4] = MobileIdentity
	if err := px.Check(px.Full(), bad); err == nil {
		t.Error("Check accepted identity on the first layer of a stage")
	}
}

func TestFairNASFairSampler(t *testing.T) {
	fn := FairNAS()
	f, err := NewFair(fn, fn.Full(), 9)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		seen := make([]map[int]bool, 19)
		for p := range seen {
			seen[p] = map[int]bool{}
		}
		for range 6 {
			for p, o := range f.Next() {
				if seen[p][o] {
					t.Fatalf("round %d: layer %d op %d twice", round, p, o)
				}
				seen[p][o] = true
			}
		}
	}
}

func TestMobileFLOPs(t *testing.T) {
	px := ProxylessGPU()
	// Identity wherever allowed, mb_k3_e3 on the first layer of each stage, 224×224 input.
	c := make(Child, 21)
	for p := range c {
		c[p] = MobileIdentity
		if p%4 == 0 {
			c[p] = 0
		}
	}
	// Hand count (side after the stem 112):
	//   stem 3·32·9·112² = 10 838 016; first block 32·9·112² + 32·16·112² = 3 612 672 + 6 422 528
	//   16→24 (e3, 112→56): 16·48·112² + 48·9·56² + 48·24·56² = 9 633 792 + 1 354 752 + 3 612 672
	//   24→40 (56→28): 5 419 008 + 508 032 + 2 257 920
	//   40→80 (28→14): 3 763 200 + 211 680 + 1 881 600
	//   80→96 (14): 3 763 200 + 423 360 + 4 515 840
	//   96→192 (14→7): 5 419 008 + 127 008 + 2 709 504
	//   192→320 (7): 5 419 008 + 254 016 + 9 031 680
	//   last conv 320·1280·7² = 20 070 400; classifier 1 280 000; total 102 528 896.
	if got := px.FLOPs(c, 224, 1); got != 102528896 {
		t.Errorf("proxyless FLOPs = %d, want 102528896", got)
	}
	// Layer 1 (24→24, 56², stride 1) from identity to mb_k5_e6 adds
	// 24·144·56² + 144·25·56² + 144·24·56² = 3136·10 512 = 32 965 632.
	c2 := slices.Clone(c)
	c2[1] = 3
	if got := px.FLOPs(c2, 224, 1) - px.FLOPs(c, 224, 1); got != 32965632 {
		t.Errorf("layer 1 mb_k5_e6 adds %d, want 32965632", got)
	}
	// FairNAS layer 0 (16→32, 112→56): mb_k7_e6 costs 16·96·112² + 96·49·56² + 96·32·56² =
	// 43 653 120 and mb_k3_e3 costs 16·48·112² + 48·9·56² + 48·32·56² = 15 805 440.
	fn := FairNAS()
	a := make(Child, 19)
	b := slices.Clone(a)
	b[0] = 5
	if got := fn.FLOPs(b, 224, 1) - fn.FLOPs(a, 224, 1); got != 43653120-15805440 {
		t.Errorf("fairnas layer 0 k7e6 − k3e3 = %d, want 27847680", got)
	}
	for _, tc := range []struct {
		v    float64
		want int64
	}{{12, 16}, {20, 24}, {640, 640}, {33.6, 32}, {3, 8}, {44, 48}} {
		if got := makeDivisible(tc.v); got != tc.want {
			t.Errorf("makeDivisible(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
	// At width 0.5, 24 channels become makeDivisible(12) = 16: layer 1 as mb_k5_e6 then adds
	// 16·96·56² + 96·25·56² + 96·16·56² = 3136·5 472 = 17 160 192.
	if got := px.FLOPs(c2, 224, 0.5) - px.FLOPs(c, 224, 0.5); got != 17160192 {
		t.Errorf("width 0.5: layer 1 mb_k5_e6 adds %d, want 17160192", got)
	}
}

// TestMobileFLOPsInputAndClasses checks that the stem and the classifier follow InChannels and
// Classes: going from ImageNet's 3 channels and 1000 classes to 1 channel and 10 classes removes
// 2·stem·9·h² from the stem (h = ⌈224/2⌉ = 112) and last·990 from the classifier.
func TestMobileFLOPsInputAndClasses(t *testing.T) {
	for _, m := range []Mobile{ProxylessGPU(), FairNAS()} {
		c := make(Child, len(m.Layers))
		small := m
		small.InChannels, small.Classes = 1, 10
		got := m.FLOPs(c, 224, 1) - small.FLOPs(c, 224, 1)
		want := int64(2*32*9*112*112 + 1280*990)
		if got != want {
			t.Errorf("%s: difference %d, want %d", m.Name(), got, want)
		}
	}
}

// TestScaleChannels checks the MobileNetV2 rounding on hand-computed cases.
func TestScaleChannels(t *testing.T) {
	for _, c := range []struct {
		x     int
		width float64
		want  int
	}{
		{32, 1, 32}, // width 1 keeps the layout, even off the multiple of 8
		{24, 1, 24},
		{32, 0.25, 8},  // 8
		{24, 0.25, 8},  // 6 rounds up to the minimum 8
		{40, 0.25, 16}, // 10 rounds to 8, below 90% of 10, so 16
		{96, 0.25, 24}, // 24
		{1280, 0.25, 320},
		{40, 0.5, 24},   // 20 rounds to 24 (nearest multiple of 8, ties up)
		{192, 0.35, 64}, // 67.2 rounds to 64 ≥ 60.48
	} {
		if got := ScaleChannels(c.x, c.width); got != c.want {
			t.Errorf("ScaleChannels(%d, %g) = %d, want %d", c.x, c.width, got, c.want)
		}
	}
}
