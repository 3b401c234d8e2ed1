package nn

import (
	"runtime"

	"github.com/abs-nas/abs/internal/abs/nn/spread"
)

// minParallel is the number of values a loop must touch before parallel spreads it over
// goroutines: below it, starting them costs more than it saves.
const minParallel = 1 << 15

// parallel calls f(lo, hi) on contiguous chunks that cover [0, n), one chunk per goroutine up to
// GOMAXPROCS (package spread's workers), when the loop touches at least minParallel values (size
// in all); otherwise f(0, n) on the calling goroutine. Every index must write its own outputs, so
// the result does not depend on how [0, n) is cut.
func parallel(n, size int, f func(lo, hi int)) {
	threads := min(runtime.GOMAXPROCS(0), n)
	if threads <= 1 || size < minParallel {
		f(0, n)
		return
	}
	spread.Do(threads, func(t int) { f(t*n/threads, (t+1)*n/threads) })
}
