package main

import (
	"slices"
	"testing"

	"github.com/abs-nas/abs/internal/abs/space"
)

// TestShuffleArchs checks that -shuffle picks a spread subset of a list ordered by operator: the
// order is a permutation of the list, the same for the same seed, and its first 30 do not all share
// edge 0's operator as the list's first 30 do.
func TestShuffleArchs(t *testing.T) {
	sp := space.NB201{}
	var list [][]int
	for e := 0; e < 6; e++ {
		for o := range sp.Ops() {
			for k := 0; k < 34; k++ {
				arch := []int{(k + 1) % 5, (k + 2) % 5, (k + 3) % 5, (k + 4) % 5, k % 5, (k / 5) % 5}
				arch[e] = o
				list = append(list, arch)
			}
		}
	}
	a := slices.Clone(list)
	b := slices.Clone(list)
	shuffleArchs(a, 1)
	shuffleArchs(b, 1)
	if !slices.EqualFunc(a, b, slices.Equal[[]int]) {
		t.Fatal("two shuffles with seed 1 differ")
	}
	c := slices.Clone(list)
	shuffleArchs(c, 2)
	if slices.EqualFunc(a, c, slices.Equal[[]int]) {
		t.Error("seeds 1 and 2 give the same order")
	}
	key := func(x []int) string { return sp.Format(x) }
	count := map[string]int{}
	for _, x := range list {
		count[key(x)]++
	}
	for _, x := range a {
		count[key(x)]--
	}
	for k, v := range count {
		if v != 0 {
			t.Fatalf("%s: %d more times in the list than in the shuffle", k, v)
		}
	}
	first := map[int]bool{}
	for _, x := range a[:30] {
		first[x[0]] = true
	}
	if len(first) < 3 {
		t.Errorf("the shuffle's first 30 have %d distinct ops on edge 0, want at least 3 of 5", len(first))
	}
}
