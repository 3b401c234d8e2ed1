package data

import "testing"

func BenchmarkFashionMNISTTrain(b *testing.B) {
	for b.Loop() {
		if _, err := FashionMNIST(FashionMNISTDir, "train"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoaderEpoch serves one epoch of the 10 000 Fashion-MNIST test images in batches of 256
// with crop (pad 4) and flip augmentation.
func BenchmarkLoaderEpoch(b *testing.B) {
	_, test := fashion(b)
	l := NewLoader(test, 256, true, Augment{CropPad: 4, Flip: true}, 1)
	for b.Loop() {
		for {
			if _, _, ok := l.Next(); !ok {
				break
			}
		}
	}
}
