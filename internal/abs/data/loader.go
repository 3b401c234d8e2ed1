package data

import (
	"fmt"
	"math/rand/v2"
)

// Augment configures random data augmentation applied by a Loader to each example it serves. The
// zero value applies none.
type Augment struct {
	// CropPad > 0 pads each image by CropPad zeros on every side and crops an H×W window at a
	// uniformly random offset, i.e. shifts the image by (dy, dx) ∈ [−CropPad, CropPad]², filling
	// with 0. The padding is 0 in the set's current value space: after Normalize that is the
	// channel mean.
	CropPad int
	// Flip mirrors each image left-right with probability 1/2.
	Flip bool
}

// Loader serves the examples of a Set in mini-batches, epoch after epoch. It reads the set as it is
// at each call, so the set must not be resized while the loader is in use. It is not safe for
// concurrent use.
type Loader struct {
	set     *Set
	batch   int
	shuffle bool
	aug     Augment
	seed    int64

	epoch int
	pos   int
	order []int
	rng   *rand.Rand // augmentation draws of the current epoch
}

// NewLoader returns a loader that serves s in batches of batch examples. With shuffle the order
// of each epoch is a fresh random permutation; without it the order is 0…N−1. The order and the
// augmentation of epoch e depend only on seed and e. It panics if batch < 1 or aug.CropPad < 0,
// which are programmer errors.
func NewLoader(s *Set, batch int, shuffle bool, aug Augment, seed int64) *Loader {
	if batch < 1 {
		panic(fmt.Sprintf("data: batch size %d, want at least 1", batch))
	}
	if aug.CropPad < 0 {
		panic(fmt.Sprintf("data: crop padding %d is negative", aug.CropPad))
	}
	l := &Loader{set: s, batch: batch, shuffle: shuffle, aug: aug, seed: seed, order: make([]int, s.N)}
	l.startEpoch()
	return l
}

// Batches returns the number of batches per epoch, ⌈N/batch⌉.
func (l *Loader) Batches() int { return (l.set.N + l.batch - 1) / l.batch }

// Epoch returns the number of the epoch that the next batch belongs to, counting from 0.
func (l *Loader) Epoch() int { return l.epoch }

// Next returns the next batch of the current epoch: x holds len(y) images in NCHW order (len(y)·C·H·W
// values) and y their labels. The last batch of an epoch may be smaller than the batch size. After
// the last batch, Next returns ok = false once; the call after that starts the next epoch. x and y
// are newly allocated on each call.
func (l *Loader) Next() (x []float32, y []int, ok bool) {
	if l.pos >= l.set.N {
		l.epoch++
		l.startEpoch()
		return nil, nil, false
	}
	end := min(l.pos+l.batch, l.set.N)
	idx := l.order[l.pos:end]
	l.pos = end

	d := l.set.Size()
	x = make([]float32, len(idx)*d)
	y = make([]int, len(idx))
	for j, i := range idx {
		y[j] = l.set.Labels[i]
		src, dst := l.set.Image(i), x[j*d:(j+1)*d]
		if l.aug == (Augment{}) {
			copy(dst, src)
			continue
		}
		var dy, dx int
		if p := l.aug.CropPad; p > 0 {
			dy, dx = l.rng.IntN(2*p+1)-p, l.rng.IntN(2*p+1)-p
		}
		flip := l.aug.Flip && l.rng.IntN(2) == 1
		shiftFlip(dst, src, l.set.C, l.set.H, l.set.W, dy, dx, flip)
	}
	return x, y, true
}

func (l *Loader) startEpoch() {
	l.pos = 0
	for i := range l.order {
		l.order[i] = i
	}
	if l.shuffle {
		r := newRand(l.seed, streamOrder, l.epoch)
		r.Shuffle(len(l.order), func(a, b int) { l.order[a], l.order[b] = l.order[b], l.order[a] })
	}
	l.rng = newRand(l.seed, streamAugment, l.epoch)
}

// shiftFlip writes into dst the C×H×W image src cropped from its zero-padded version at offset
// (dy, dx) and then, if flip, mirrored left-right:
//
//	dst[c][y][x] = src[c][y+dy][x'+dx] with x' = W−1−x if flip else x, and 0 where y+dy or x'+dx is
//	outside the image.
func shiftFlip(dst, src []float32, c, h, w, dy, dx int, flip bool) {
	for ch := range c {
		for y := range h {
			row := dst[(ch*h+y)*w : (ch*h+y+1)*w]
			sy := y + dy
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			srow := src[(ch*h+sy)*w : (ch*h+sy+1)*w]
			for x := range w {
				xs := x
				if flip {
					xs = w - 1 - x
				}
				sx := xs + dx
				if sx < 0 || sx >= w {
					row[x] = 0
				} else {
					row[x] = srow[sx]
				}
			}
		}
	}
}
