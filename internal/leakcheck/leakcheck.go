// Package leakcheck measures what a test must give back (goroutines, open
// file descriptors, live heap) and waits, boundedly, for it to come back:
// the hostile-client suites and the soaks share it.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// Resources is what the process holds now.
type Resources struct {
	Goroutines int
	FDs        int    // -1 where /proc/self/fd is not there
	Heap       uint64 // live heap after a collection
}

func (r Resources) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, %.1f MiB heap", r.Goroutines, r.FDs, float64(r.Heap)/(1<<20))
}

// Measure collects garbage and reads what the process holds.
func Measure() Resources {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	return Resources{Goroutines: runtime.NumGoroutine(), FDs: fds, Heap: ms.HeapAlloc}
}

// Within reports whether r is at most base plus slack in every measure.
func (r Resources) Within(base, slack Resources) bool {
	return r.Goroutines <= base.Goroutines+slack.Goroutines && r.FDs <= base.FDs+slack.FDs && r.Heap <= base.Heap+slack.Heap
}

// WaitBack polls until what the process holds is within slack of base, or
// d passes; it returns the last measure and whether it came back.
func WaitBack(base, slack Resources, d time.Duration) (Resources, bool) {
	deadline := time.Now().Add(d)
	for {
		r := Measure()
		if r.Within(base, slack) {
			return r, true
		}
		if time.Now().After(deadline) {
			return r, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
