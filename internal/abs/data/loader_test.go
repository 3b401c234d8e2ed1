package data

import (
	"fmt"
	"slices"
	"testing"
)

// The 3×3 image
//
//	1 2 3
//	4 5 6
//	7 8 9
var square = []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}

func TestShiftFlip(t *testing.T) {
	for _, c := range []struct {
		dy, dx int
		flip   bool
		want   []float32
	}{
		{0, 0, false, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{0, 0, true, []float32{3, 2, 1, 6, 5, 4, 9, 8, 7}},
		// Window at the bottom-right corner of the padded image: the content moves up-left.
		{1, 1, false, []float32{5, 6, 0, 8, 9, 0, 0, 0, 0}},
		{-1, 0, false, []float32{0, 0, 0, 1, 2, 3, 4, 5, 6}},
		// Window one column left (padded columns 0…2 = 0 1 2 / 0 4 5 / 0 7 8), then mirrored.
		{0, -1, true, []float32{2, 1, 0, 5, 4, 0, 8, 7, 0}},
		{-2, 2, false, []float32{0, 0, 0, 0, 0, 0, 3, 0, 0}},
	} {
		dst := make([]float32, 9)
		shiftFlip(dst, square, 1, 3, 3, c.dy, c.dx, c.flip)
		if !slices.Equal(dst, c.want) {
			t.Errorf("shiftFlip(dy=%d, dx=%d, flip=%v) = %v, want %v", c.dy, c.dx, c.flip, dst, c.want)
		}
	}
	// Channels are moved alike: a second channel holding 10× the first.
	two := append(slices.Clone(square), 10, 20, 30, 40, 50, 60, 70, 80, 90)
	dst := make([]float32, 18)
	shiftFlip(dst, two, 2, 3, 3, 1, 0, true)
	if want := []float32{6, 5, 4, 9, 8, 7, 0, 0, 0, 60, 50, 40, 90, 80, 70, 0, 0, 0}; !slices.Equal(dst, want) {
		t.Errorf("two channels: got %v, want %v", dst, want)
	}
}

// padCropFlip is the slow reference for augmentation: it builds the zero-padded image, copies the
// H×W window at (oy, ox) of it and mirrors the result if flip.
func padCropFlip(src []float32, h, w, pad, oy, ox int, flip bool) []float32 {
	ph, pw := h+2*pad, w+2*pad
	padded := make([]float32, ph*pw)
	for y := range h {
		copy(padded[(y+pad)*pw+pad:], src[y*w:(y+1)*w])
	}
	out := make([]float32, 0, h*w)
	for y := range h {
		row := slices.Clone(padded[(y+oy)*pw+ox : (y+oy)*pw+ox+w])
		if flip {
			slices.Reverse(row)
		}
		out = append(out, row...)
	}
	return out
}

func TestLoaderAugmentation(t *testing.T) {
	s := &Set{N: 1, C: 1, H: 3, W: 3, Classes: 1, Images: square, Labels: []int{0}}
	// All 5·5·2 = 50 outcomes of padding by 2, cropping and flipping.
	want := map[string]bool{}
	for oy := range 5 {
		for ox := range 5 {
			for _, flip := range []bool{false, true} {
				want[fmt.Sprint(padCropFlip(square, 3, 3, 2, oy, ox, flip))] = false
			}
		}
	}
	l := NewLoader(s, 1, true, Augment{CropPad: 2, Flip: true}, 5)
	for range 2000 {
		x, _, ok := l.Next()
		if !ok {
			continue
		}
		k := fmt.Sprint(x)
		if _, valid := want[k]; !valid {
			t.Fatalf("augmented image %v is no pad-crop-flip of the input", x)
		}
		want[k] = true
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("outcome %s never produced in 1000 epochs", k)
		}
	}

	// Flip alone produces only the image and its mirror; CropPad alone never mirrors.
	for _, c := range []struct {
		aug  Augment
		want int
	}{{Augment{Flip: true}, 2}, {Augment{CropPad: 1}, 9}, {Augment{}, 1}} {
		seen := map[string]bool{}
		l := NewLoader(s, 1, false, c.aug, 1)
		for range 400 {
			if x, _, ok := l.Next(); ok {
				seen[fmt.Sprint(x)] = true
			}
		}
		if len(seen) != c.want {
			t.Errorf("%+v: %d distinct outcomes, want %d", c.aug, len(seen), c.want)
		}
	}
	if !slices.Equal(s.Images, square) {
		t.Errorf("augmentation changed the set: %v", s.Images)
	}
}

// epochs runs a loader for n epochs and returns, per epoch, the values of all its batches in order.
func epochs(t *testing.T, l *Loader, n int) [][]float32 {
	t.Helper()
	var out [][]float32
	for range n {
		var ep []float32
		for {
			x, y, ok := l.Next()
			if !ok {
				break
			}
			if len(x) != 2*len(y) {
				t.Fatalf("batch of %d labels has %d values", len(y), len(x))
			}
			ep = append(ep, x...)
		}
		out = append(out, ep)
	}
	return out
}

func TestLoaderOrder(t *testing.T) {
	s := indexed(10, 3, 0, 1, 2)
	l := NewLoader(s, 4, false, Augment{}, 1)
	if l.Batches() != 3 {
		t.Errorf("Batches() = %d, want 3", l.Batches())
	}
	for epoch := range 2 {
		var sizes, order []int
		for {
			x, y, ok := l.Next()
			if !ok {
				break
			}
			sizes = append(sizes, len(y))
			for j := range y {
				i := int(x[2*j])
				if x[2*j+1] != -float32(i) || y[j] != s.Labels[i] {
					t.Fatalf("epoch %d: batch example %d (image %d) has label %d, want %d", epoch, j, i, y[j], s.Labels[i])
				}
				order = append(order, i)
			}
		}
		if !slices.Equal(sizes, []int{4, 4, 2}) {
			t.Errorf("epoch %d: batch sizes %v, want [4 4 2]", epoch, sizes)
		}
		if !slices.Equal(order, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Errorf("epoch %d: unshuffled order %v", epoch, order)
		}
	}
	if l.Epoch() != 2 {
		t.Errorf("Epoch() = %d after two epochs, want 2", l.Epoch())
	}
}

func TestLoaderShuffle(t *testing.T) {
	s := indexed(50, 2, 0, 1)
	run := func(seed int64, aug Augment) [][]float32 {
		return epochs(t, NewLoader(s, 8, true, aug, seed), 3)
	}
	a := run(11, Augment{})
	for e, ep := range a {
		var idx []int
		for j := 0; j < len(ep); j += 2 {
			idx = append(idx, int(ep[j]))
		}
		sorted := slices.Sorted(slices.Values(idx))
		if len(idx) != 50 || sorted[0] != 0 || sorted[49] != 49 || len(slices.Compact(sorted)) != 50 {
			t.Errorf("epoch %d is not a permutation of 0…49: %v", e, idx)
		}
		if slices.IsSorted(idx) {
			t.Errorf("epoch %d is not shuffled", e)
		}
	}
	if slices.Equal(a[0], a[1]) || slices.Equal(a[1], a[2]) {
		t.Error("consecutive epochs have the same order")
	}
	if b := run(11, Augment{}); !slices.EqualFunc(a, b, slices.Equal) {
		t.Error("same seed gave a different sequence")
	}
	if c := run(12, Augment{}); slices.Equal(a[0], c[0]) {
		t.Error("seeds 11 and 12 gave the same first epoch")
	}
}

func TestLoaderAugmentDeterministic(t *testing.T) {
	full, _ := fashion(t)
	s := full.Sample(300, 3)
	aug := Augment{CropPad: 4, Flip: true}
	run := func(seed int64, aug Augment) ([]float32, []int) {
		l := NewLoader(s, 64, true, aug, seed)
		var all []float32
		var labels []int
		for range 2 * (l.Batches() + 1) {
			x, y, _ := l.Next()
			all, labels = append(all, x...), append(labels, y...)
		}
		return all, labels
	}
	a, la := run(9, aug)
	b, _ := run(9, aug)
	c, _ := run(10, aug)
	plain, lp := run(9, Augment{})
	if slices.Equal(a, plain) {
		t.Error("augmentation changed nothing")
	}
	// Augmentation draws from its own stream: switching it on keeps the order of examples.
	if !slices.Equal(la, lp) {
		t.Error("switching augmentation on changed the order of examples")
	}
	if len(a) != 2*300*784 {
		t.Fatalf("two epochs gave %d values, want %d", len(a), 2*300*784)
	}
	if !slices.Equal(a, b) {
		t.Error("same seed gave different augmented batches")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 9 and 10 gave the same augmented batches")
	}
}

func TestLoaderEmpty(t *testing.T) {
	l := NewLoader(&Set{C: 1, H: 2, W: 2}, 4, true, Augment{Flip: true}, 1)
	if l.Batches() != 0 {
		t.Errorf("Batches() = %d, want 0", l.Batches())
	}
	for range 3 {
		if _, _, ok := l.Next(); ok {
			t.Fatal("empty loader returned a batch")
		}
	}
}
