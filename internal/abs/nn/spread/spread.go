// Package spread runs a kernel's chunks on long-lived worker goroutines that spin for a while
// before they park, instead of starting goroutines per call.
//
// A training step runs thousands of kernels of tens of microseconds each. Started with go and a
// WaitGroup, the second half of such a kernel often waits for an idle thread to be woken (tens of
// microseconds in a VM) and ends up running after the first, on the caller's own thread, because the
// caller parks in Wait first. Here a worker that has just finished a chunk keeps polling its slot for
// about spinIters checks, so the next kernel's chunk starts at once; a worker with nothing to do for
// that long parks on a channel and is woken by the next chunk handed to it.
//
// How the work is cut stays the caller's: Do only decides where the chunks run, so the results are
// those of running them one after the other.
package spread

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// spinIters is how many times an idle worker polls its slot before it parks (some tens of
// microseconds), and how many times a waiting caller polls between yields.
const spinIters = 1 << 11

// pauses is how many PAUSE instructions a poll waits (a PAUSE takes tens of cycles on recent x86
// cores): a polling thread then takes little from the other hardware thread of its core.
const pauses = 8

type job struct {
	f    func(t int)
	t    int
	left *atomic.Int32
}

type worker struct {
	busy   atomic.Bool // a job is handed to it and not finished
	slot   atomic.Pointer[job]
	parked atomic.Bool
	wake   chan struct{}
}

var (
	mu      sync.Mutex
	workers atomic.Pointer[[]*worker]
)

// pool returns at least n workers, starting the missing ones.
func pool(n int) []*worker {
	if p := workers.Load(); p != nil && len(*p) >= n {
		return *p
	}
	mu.Lock()
	defer mu.Unlock()
	var ws []*worker
	if p := workers.Load(); p != nil {
		ws = *p
	}
	for len(ws) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		go w.run()
		ws = append(ws[:len(ws):len(ws)], w)
	}
	workers.Store(&ws)
	return ws
}

func (w *worker) run() {
	for {
		j := w.slot.Swap(nil)
		for i := 0; j == nil && i < spinIters; i++ {
			pause(pauses)
			j = w.slot.Load()
			if j != nil {
				j = w.slot.Swap(nil)
			}
		}
		if j == nil {
			// Park, unless a job came between the last poll and the flag: the sender either
			// sees the flag and wakes us, or its job is in the slot for the check below.
			w.parked.Store(true)
			if j = w.slot.Swap(nil); j == nil {
				<-w.wake
				w.parked.Store(false)
				continue
			}
			w.parked.Store(false)
		}
		j.f(j.t)
		w.busy.Store(false)
		j.left.Add(-1)
	}
}

// Do calls f(t) for every t in [0, n), f(0) on the calling goroutine and the others on workers (or
// on the caller, for a chunk whose worker is busy, as in a nested call), and returns when all have
// returned. The f(t) must be independent of one another.
func Do(n int, f func(t int)) {
	if n <= 1 {
		if n == 1 {
			f(0)
		}
		return
	}
	ws := pool(n - 1)
	var left atomic.Int32
	var inline []int
	for t := 1; t < n; t++ {
		w := ws[t-1]
		if !w.busy.CompareAndSwap(false, true) {
			inline = append(inline, t)
			continue
		}
		left.Add(1)
		w.slot.Store(&job{f: f, t: t, left: &left})
		if w.parked.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	f(0)
	for _, t := range inline {
		f(t)
	}
	for i := 1; left.Load() > 0; i++ {
		pause(pauses)
		if i%spinIters == 0 {
			runtime.Gosched() // lets this thread run a woken worker that is queued on it
		}
	}
}
