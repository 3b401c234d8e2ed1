package data

import (
	"os"
	"sync"
	"testing"
)

// The Fashion-MNIST files are large (60 000 training images); each test binary decodes them once.
var (
	fashionOnce                 sync.Once
	fashionTrain, fashionTest   *Set
	fashionTrainErr, fashionErr error
)

// fashion returns the real Fashion-MNIST splits from FashionMNISTDir, loaded once per test binary.
// The files come from Debian's dataset-fashion-mnist package, which CI installs.
func fashion(t testing.TB) (train, test *Set) {
	t.Helper()
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Fatalf("Fashion-MNIST missing (install the Debian package dataset-fashion-mnist): %v", err)
	}
	fashionOnce.Do(func() {
		fashionTrain, fashionTrainErr = FashionMNIST(FashionMNISTDir, "train")
		fashionTest, fashionErr = FashionMNIST(FashionMNISTDir, "test")
	})
	if fashionTrainErr != nil {
		t.Fatal(fashionTrainErr)
	}
	if fashionErr != nil {
		t.Fatal(fashionErr)
	}
	return fashionTrain, fashionTest
}

func TestFashionMNIST(t *testing.T) {
	train, test := fashion(t)
	for _, c := range []struct {
		name string
		s    *Set
		n    int
	}{{"train", train, 60000}, {"test", test, 10000}} {
		s := c.s
		if s.N != c.n || s.C != 1 || s.H != 28 || s.W != 28 || s.Classes != 10 {
			t.Errorf("%s: N,C,H,W,Classes = %d,%d,%d,%d,%d, want %d,1,28,28,10", c.name, s.N, s.C, s.H, s.W, s.Classes, c.n)
		}
		if len(s.Images) != c.n*28*28 || len(s.Labels) != c.n {
			t.Errorf("%s: %d values and %d labels, want %d and %d", c.name, len(s.Images), len(s.Labels), c.n*28*28, c.n)
		}
		// Fashion-MNIST is balanced: 6000 (train) or 1000 (test) examples per class, counted with
		// zcat t*-labels-idx1-ubyte.gz | tail -c +9 | od -An -v -t u1 -w1 | sort -n | uniq -c.
		counts := make([]int, 10)
		for _, l := range s.Labels {
			counts[l]++
		}
		for k, got := range counts {
			if got != c.n/10 {
				t.Errorf("%s: class %d has %d examples, want %d", c.name, k, got, c.n/10)
			}
		}
		for i, v := range s.Images {
			if v < 0 || v > 1 {
				t.Fatalf("%s: value %d is %v, want [0,1]", c.name, i, v)
				break
			}
		}
	}

	// Spot values decoded independently with od: labels with
	// zcat train-labels-idx1-ubyte.gz | od -A d -t u1 -j OFFSET -N 10 with OFFSET = 8 + first index
	// (likewise t10k-labels-idx1-ubyte.gz for the test split).
	labels := []struct {
		s    *Set
		i    int
		want int
	}{
		{train, 0, 9}, {train, 1, 0}, {train, 3, 3}, {train, 5, 2}, {train, 6, 7}, {train, 9, 5},
		{train, 59990, 4}, {train, 59994, 8}, {train, 59999, 5},
		{test, 0, 9}, {test, 1, 2}, {test, 4, 6}, {test, 9, 7}, {test, 11, 5},
	}
	for _, c := range labels {
		if got := c.s.Labels[c.i]; got != c.want {
			t.Errorf("label %d of %d-example set = %d, want %d", c.i, c.s.N, got, c.want)
		}
	}
	// Pixels as bytes from zcat *-images-idx3-ubyte.gz | od -A d -t u1 -j OFFSET -N 784 -w28, with
	// OFFSET = 16 + 784·image; the value is byte/255.
	pixels := []struct {
		s       *Set
		i, y, x int
		want    float32
	}{
		{train, 0, 0, 0, 0},
		{train, 0, 10, 13, 193},
		{train, 0, 14, 12, 237},
		{train, 0, 14, 25, 255},
		{test, 9999, 15, 17, 228},
		{test, 9999, 17, 21, 254},
	}
	for _, c := range pixels {
		if got := c.s.Image(c.i)[c.y*28+c.x]; got != c.want/255 {
			t.Errorf("image %d of %d-example set at (%d,%d) = %v, want %v/255", c.i, c.s.N, c.y, c.x, got, c.want)
		}
	}
}
