package spread

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDo checks that Do calls f once for every index, for every count, from one caller, from
// callers on several goroutines at once (which share the workers), and from inside f (nested), and
// again after the workers have had time to park.
func TestDo(t *testing.T) {
	check := func(t *testing.T, n int, nested bool) {
		calls := make([]atomic.Int32, n)
		Do(n, func(i int) {
			calls[i].Add(1)
			if nested {
				var inner atomic.Int32
				Do(3, func(int) { inner.Add(1) })
				if inner.Load() != 3 {
					t.Errorf("nested Do made %d calls, want 3", inner.Load())
				}
			}
		})
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Fatalf("n=%d: f(%d) called %d times, want once", n, i, c)
			}
		}
	}
	for n := 0; n <= 9; n++ {
		check(t, n, false)
		check(t, n, true)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 200; r++ {
				check(t, 1+(g+r)%4, r%5 == 0)
			}
		}()
	}
	wg.Wait()
	time.Sleep(20 * time.Millisecond) // the workers park
	check(t, 4, false)
}
